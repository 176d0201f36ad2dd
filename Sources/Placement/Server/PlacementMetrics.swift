import ControlPlaneKit
import Prometheus
import Synchronization

/// Placement's metrics: Dapr's names and labels, plus the round duration, the table size and refused tables.
public final class PlacementMetrics: Sendable {
  public let leaderStatus: Gauge
  /// Dapr's raft leader gauge; here the Kubernetes Lease decides, and it reads the same.
  public let raftLeaderStatus: Gauge
  public let roundDuration: DurationHistogram
  public let tablesRefused: Counter
  private let registry: MetricsRegistry
  private let perNamespace = Mutex<[String: (streams: Gauge, actorHosts: Gauge, tableBytes: Gauge)]>([:])

  public init(registry: MetricsRegistry) {
    self.registry = registry
    leaderStatus = registry.gauge(
      "dapr_placement_leader_status", help: "Whether this replica is the leader (1) or not (0).")
    raftLeaderStatus = registry.gauge(
      "dapr_placement_raft_leader_status", help: "Whether this replica holds leadership (1) or not (0).")
    roundDuration = registry.durationHistogram(
      "dapr_placement_dissemination_duration_seconds",
      help: "The time from a round's first LOCK to its last UNLOCK acknowledgement.",
      buckets: requestLatencyBuckets)
    tablesRefused = registry.counter(
      "dapr_placement_tables_refused_total",
      help: "Rounds not sent because their tables exceeded daprd's 4 MiB receive limit.")
  }

  /// Sets the namespace's gauges (0 when its last stream has gone, as Dapr).
  func record(namespace: String, streams: Int, actorHosts: Int, tableBytes: Int) {
    let gauges = perNamespace.withLock { cache in
      if let gauges = cache[namespace] { return gauges }
      let labels = [("host_namespace", namespace)]
      let gauges = (
        registry.gauge(
          "dapr_placement_runtimes_total", help: "The number of sidecars connected to placement.", labels: labels),
        registry.gauge(
          "dapr_placement_actor_runtimes_total", help: "The number of connected sidecars that host actors.",
          labels: labels),
        registry.gauge(
          "dapr_placement_table_bytes", help: "The encoded size of the last UPDATE order sent.", labels: labels)
      )
      cache[namespace] = gauges
      return gauges
    }
    gauges.streams.set(Double(streams))
    gauges.actorHosts.set(Double(actorHosts))
    gauges.tableBytes.set(Double(tableBytes))
  }

  func setLeader(_ leading: Bool) {
    leaderStatus.set(Double(leading ? 1 : 0))
    raftLeaderStatus.set(Double(leading ? 1 : 0))
  }
}
