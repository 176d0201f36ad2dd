import ControlPlaneKit
import ControlPlaneTestSupport
import GRPCCore
import Kubernetes
import Logging
import PlacementSimulator
import ServiceLifecycle
import Testing

@testable import Placement

/// Two placement replicas electing a leader through a Lease on the real test API server.
@Suite(.timeLimit(.minutes(3))) struct PlacementLeaderElectionTests {
  struct Replica: Sendable {
    let id: String
    let metrics: MetricsRegistry
    let services: [any ServiceLifecycle.Service]
    let port: Signal<Int>

    var isLeader: Bool {
      String(decoding: metrics.exposition(), as: UTF8.self).contains("dapr_placement_leader_status 1")
    }
  }

  static func replica(id: String, namespace: String, cluster: LocalKubernetes.Cluster) async throws -> Replica {
    let options = try PlacementOptions.parse([
      "--mode", "kubernetes", "--kubeconfig", cluster.kubeconfigPath, "--id", id, "--port", "0",
      "--listen-address", "127.0.0.1",
    ])
    let metrics = MetricsRegistry(includeProcessMetrics: false)
    let environment = ProcessEnvironment(
      component: .placement, logger: Logger(label: "dapr.placement.\(id)"), metrics: metrics,
      readiness: ReadinessTargets([PlacementServer.serverTarget]))
    let port = Signal<Int>()
    let services = try await PlacementServer.makeServices(
      options: options, environment: environment, namespace: namespace,
      leaderTimings: .init(leaseDuration: .seconds(3), renewDeadline: .seconds(2), retryPeriod: .milliseconds(500)),
      onListening: { port.fire($0) })
    return Replica(id: id, metrics: metrics, services: services, port: port)
  }

  /// Connects a sidecar to `port` until it is served its first round (a follower refuses it first).
  static func served(port: Int) async throws {
    let fixture = try PlacementFixture(tls: false)
    try await eventually("placement on port \(port) serves a sidecar", within: .seconds(20)) {
      try await fixture.withClient(port: port) { client in
        let sidecar = SimulatedSidecar(name: "10.0.0.1:50002", appID: "cart", actorTypes: ["Cart"])
        return try await withThrowingTaskGroup(of: Bool.self) { group in
          group.addTask { await sidecar.run(on: client) == nil }
          group.addTask {
            let served = (try? await sidecar.waitFor("unlock", version: 1)) != nil
            sidecar.close()
            return served
          }
          var served = false
          for try await result in group where result { served = true }
          return served && sidecar.orders.count == 3
        }
      }
    }
  }

  @Test func whenTheLeaderStopsTheOtherReplicaLeadsAndRebuildsTheTablesFromReconnectingSidecars() async throws {
    let cluster = try await LocalKubernetes.shared.cluster()
    let admin = try cluster.adminClient()
    defer { Task { await admin.shutdown() } }
    let namespace = "placement-\(UInt32.random(in: 0...UInt32.max))"
    _ = try await admin.create(Namespace(name: namespace))

    let a = try await Self.replica(id: "dapr-placement-a", namespace: namespace, cluster: cluster)
    let b = try await Self.replica(id: "dapr-placement-b", namespace: namespace, cluster: cluster)
    let (stopA, stopB) = (Signal<Void>(), Signal<Void>())
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await withRunningServices(a.services) { try await stopA.value() } }
      group.addTask { try await withRunningServices(b.services) { try await stopB.value() } }
      defer {
        stopA.fire(())
        stopB.fire(())
      }
      let (portA, portB) = (try await a.port.value(), try await b.port.value())
      try await eventually("one replica leads", within: .seconds(20)) { a.isLeader || b.isLeader }
      let aLeads = a.isLeader
      let (follower, leaderPort, followerPort, stopLeader) =
        aLeads ? (b, portA, portB, stopA) : (a, portB, portA, stopB)
      #expect(!follower.isLeader)
      try await Self.served(port: leaderPort)
      stopLeader.fire(())
      try await eventually("the other replica leads", within: .seconds(20)) { follower.isLeader }
      // The new leader starts empty, at version 1, and builds its tables from the sidecar that reconnects.
      try await Self.served(port: followerPort)
    }
  }
}
