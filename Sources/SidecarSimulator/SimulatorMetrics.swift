import ControlPlaneKit
import Prometheus

/// The simulator's metrics (`dapr_sidecar_simulator_*`), for the soak and for a person watching a local run.
public final class SimulatorMetrics: Sendable {
  let registry: MetricsRegistry
  public let renewals: Counter
  public let renewalFailures: Counter
  public let placementTables: Counter
  public let componentDelivery: DurationHistogram
  public let sidecars: Gauge
  public let healthySidecars: Gauge

  public init(registry: MetricsRegistry) {
    self.registry = registry
    renewals = registry.counter(
      "dapr_sidecar_simulator_svid_renewals_total", help: "Certificates renewed by the simulated sidecars.")
    renewalFailures = registry.counter(
      "dapr_sidecar_simulator_svid_renewal_failures_total", help: "Renewals sentry refused or that failed.")
    placementTables = registry.counter(
      "dapr_sidecar_simulator_placement_tables_total", help: "Placement UPDATE orders received.")
    componentDelivery = registry.durationHistogram(
      "dapr_sidecar_simulator_component_delivery_seconds",
      help: "From a Component change stamped with sidecar-simulator.dapr.io/changed-at to its update event.",
      buckets: requestLatencyBuckets)
    sidecars = registry.gauge("dapr_sidecar_simulator_sidecars", help: "Simulated sidecars running.")
    healthySidecars = registry.gauge(
      "dapr_sidecar_simulator_healthy_sidecars",
      help: "Simulated sidecars that daprd's /v1.0/healthz would call healthy.")
  }

  /// Operator update events received, by kind.
  func events(_ kind: OperatorView.Kind) -> Counter {
    registry.counter(
      "dapr_sidecar_simulator_operator_events_total", help: "Operator update events applied, by resource kind.",
      labels: [("kind", kind.rawValue)])
  }
}
