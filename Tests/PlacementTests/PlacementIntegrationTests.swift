import AsyncHTTPClient
import ControlPlaneKit
import ControlPlaneTestSupport
import DaprProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import PlacementSimulator
import Testing

@testable import Placement

/// A placement server on loopback (mTLS with a test CA, or plaintext) and clients for simulated sidecars.
struct PlacementFixture {
  static let trustDomain = "cluster.local"
  static let placementID = try! SPIFFEID(trustDomain: trustDomain, namespace: "dapr-system", appID: "dapr-placement")

  let ca: TestCertificateAuthority
  let tls: Bool
  let hub: PlacementHub
  let leadership: LatestValue<Bool>
  let metrics: MetricsRegistry

  init(
    tls: Bool = true, leader: Bool = true,
    configuration: PlacementHub.Configuration = .init(replicationFactor: 100, disseminateTimeout: .seconds(8))
  ) throws {
    ca = try TestCertificateAuthority(trustDomain: Self.trustDomain)
    self.tls = tls
    metrics = MetricsRegistry(includeProcessMetrics: false)
    hub = PlacementHub(
      configuration: configuration, requirePeer: tls, metrics: PlacementMetrics(registry: metrics),
      logger: Logger(label: "dapr.placement.test"))
    leadership = LatestValue(leader)
  }

  /// Runs the server while `body` runs, with the port it listens on.
  func run<Result: Sendable>(
    nodeID: String = "dapr-placement-0", _ body: @Sendable (Int) async throws -> Result
  ) async throws -> Result {
    let security: PlacementGRPCServer.Security =
      tls
      ? .fixedIdentity(
        LatestValue(try ca.issue(spiffeID: Self.placementID, keyType: .ed25519)), anchors: LatestValue(ca.trustBundle))
      : .plaintext
    let listening = Signal<Int>()
    let server = PlacementGRPCServer(
      host: "127.0.0.1", port: 0, security: security,
      service: PlacementService(hub: hub, leadership: leadership, nodeID: nodeID), hub: hub,
      readiness: ReadinessTargets([PlacementServer.serverTarget]), logger: Logger(label: "dapr.placement.test"),
      onListening: { listening.fire($0) })
    return try await withRunningServices([server]) {
      try await body(try await listening.value())
    }
  }

  /// A gRPC client to `port`, presenting an SVID for `appID` in `namespace` when TLS is on.
  func withClient<Result: Sendable>(
    port: Int, appID: String = "cart", namespace: String = "default",
    _ body: @Sendable (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Result
  ) async throws -> Result {
    let security: GRPCClientSecurity
    if tls {
      let id = try SPIFFEID(trustDomain: Self.trustDomain, namespace: namespace, appID: appID)
      let trust = ca.trustBundle
      security = .tls(
        identity: LatestValue(try ca.issue(spiffeID: id, keyType: .ed25519)),
        verifier: SPIFFEPeerVerifier(trustAnchors: { trust }, requirement: .exactly(Self.placementID)))
    } else {
      security = .plaintext
    }
    let transport = try SecureGRPC.clientTransport(host: "127.0.0.1", port: port, security: security)
    return try await withGRPCClient(transport: transport, handleClient: body)
  }
}

/// Runs `sidecar` on `client` in the background of `group`.
func start(
  _ sidecar: SimulatedSidecar, on client: GRPCClient<HTTP2ClientTransport.Posix>,
  in group: inout ThrowingTaskGroup<Void, any Error>
) {
  group.addTask { await sidecar.run(on: client) }
}

@Suite(.timeLimit(.minutes(2))) struct PlacementIntegrationTests {
  @Test func theFirstRoundOverMutualTLSIsLockUpdateUnlockWithTheTablesDaprdReads() async throws {
    let fixture = try PlacementFixture()
    try await fixture.run { port in
      try await fixture.withClient(port: port, appID: "cart") { client in
        let cart = SimulatedSidecar(name: "10.0.0.1:50002", appID: "cart", actorTypes: ["Cart", "Basket"])
        try await withThrowingTaskGroup(of: Void.self) { group in
          start(cart, on: client, in: &group)
          let orders = try await cart.waitUntil { $0.count >= 3 }
          #expect(orders.map { "\($0.operation) \($0.version)" } == ["lock 1", "update 1", "unlock 1"])
          #expect(!orders[0].hasTables && !orders[2].hasTables)
          let tables = orders[1].tables
          #expect(tables.version == "1" && tables.replicationFactor == 100)
          #expect(tables.entries.keys.sorted() == ["Basket", "Cart"])
          let entry = try #require(tables.entries["Cart"]?.loadMap["10.0.0.1:50002"])
          #expect(entry.name == "10.0.0.1:50002" && entry.id == "cart")
          cart.close()
          try await group.waitForAll()
        }
      }
    }
  }

  @Test func aSecondActorHostMakesRoundTwoForBoth() async throws {
    let fixture = try PlacementFixture(tls: false)
    try await fixture.run { port in
      try await fixture.withClient(port: port) { client in
        let first = SimulatedSidecar(name: "10.0.0.1:50002", appID: "cart", actorTypes: ["Cart"])
        let second = SimulatedSidecar(name: "10.0.0.2:50002", appID: "orders", actorTypes: ["Order"])
        try await withThrowingTaskGroup(of: Void.self) { group in
          start(first, on: client, in: &group)
          _ = try await first.waitFor("unlock", version: 1)
          start(second, on: client, in: &group)
          for sidecar in [first, second] {
            let update = try await sidecar.waitFor("update", version: 2)
            #expect(update.tables.entries.keys.sorted() == ["Cart", "Order"])
            _ = try await sidecar.waitFor("unlock", version: 2)
          }
          first.close()
          second.close()
          try await group.waitForAll()
        }
      }
    }
  }

  @Test func aSidecarWithoutActorsGetsTheCurrentTablesPrivately() async throws {
    let fixture = try PlacementFixture(tls: false)
    try await fixture.run { port in
      try await fixture.withClient(port: port) { client in
        let host = SimulatedSidecar(name: "10.0.0.1:50002", appID: "cart", actorTypes: ["Cart"])
        let caller = SimulatedSidecar(name: "10.0.0.9:50002", appID: "frontend")
        try await withThrowingTaskGroup(of: Void.self) { group in
          start(host, on: client, in: &group)
          _ = try await host.waitFor("unlock", version: 1)
          start(caller, on: client, in: &group)
          let orders = try await caller.waitUntil { $0.count >= 3 }
          #expect(orders.map { "\($0.operation) \($0.version)" } == ["lock 1", "update 1", "unlock 1"])
          #expect(orders[1].tables.entries["Cart"]?.loadMap.keys.sorted() == ["10.0.0.1:50002"])
          #expect(host.orders.count == 3, "the actor host saw no extra round")
          host.close()
          caller.close()
          try await group.waitForAll()
        }
      }
    }
  }

  @Test func namespacesSeeOnlyTheirOwnHostsAndKeepTheirOwnVersions() async throws {
    let fixture = try PlacementFixture(tls: false)
    try await fixture.run { port in
      try await fixture.withClient(port: port) { client in
        let a1 = SimulatedSidecar(name: "10.0.0.1:50002", appID: "a1", namespace: "team-a", actorTypes: ["T"])
        let a2 = SimulatedSidecar(name: "10.0.0.2:50002", appID: "a2", namespace: "team-a", actorTypes: ["T"])
        let b1 = SimulatedSidecar(name: "10.0.1.1:50002", appID: "b1", namespace: "team-b", actorTypes: ["T"])
        try await withThrowingTaskGroup(of: Void.self) { group in
          start(a1, on: client, in: &group)
          _ = try await a1.waitFor("unlock", version: 1)
          start(a2, on: client, in: &group)
          _ = try await a2.waitFor("unlock", version: 2)
          start(b1, on: client, in: &group)
          let update = try await b1.waitFor("update")
          #expect(update.version == 1)
          #expect(update.tables.entries["T"]?.loadMap.keys.sorted() == ["10.0.1.1:50002"])
          #expect(a1.orders.allSatisfy { $0.version <= 2 })
          let state = PlacementHTTP.state(of: fixture.hub)
          #expect(state.tables["team-a"]?.version == 2 && state.tables["team-b"]?.version == 1)
          #expect(state.tables["team-a"]?.hosts.map(\.name) == ["10.0.0.1:50002", "10.0.0.2:50002"])
          for sidecar in [a1, a2, b1] { sidecar.close() }
          try await group.waitForAll()
        }
      }
    }
  }

  @Test func aNeverAcknowledgingSidecarIsKickedWithDeadlineExceededWhileTheOthersComplete() async throws {
    let fixture = try PlacementFixture(
      tls: false, configuration: .init(disseminateTimeout: .seconds(1), coalesceWindow: .milliseconds(50)))
    try await fixture.run { port in
      try await fixture.withClient(port: port) { client in
        let good = SimulatedSidecar(name: "10.0.0.1:50002", appID: "good", actorTypes: ["T"])
        let stuck = SimulatedSidecar(name: "10.0.0.2:50002", appID: "stuck", actorTypes: ["T"], acknowledges: false)
        try await withThrowingTaskGroup(of: Void.self) { group in
          let stuckEnding = Signal<(any Error)?>()
          start(good, on: client, in: &group)
          group.addTask { stuckEnding.fire(await stuck.run(on: client)) }
          let ending = try await stuckEnding.value()
          let error = try #require(ending as? RPCError)
          #expect(error.code == .deadlineExceeded)
          #expect(error.message.hasPrefix("dissemination timeout after 1s for version "))
          // The survivor completes a round without the stuck host.
          let finalUpdate = try await good.waitUntil { orders in
            orders.contains {
              $0.operation == "update" && $0.tables.entries["T"]?.loadMap.keys.sorted() == ["10.0.0.1:50002"]
            }
          }
          let version = finalUpdate.last { $0.operation == "update" }!.version
          _ = try await good.waitFor("unlock", version: version)
          good.close()
          try await group.waitForAll()
        }
      }
    }
  }

  @Test func aFollowerRefusesWithDaprsTextAndAClientFindsTheLeaderAmongThreeAddresses() async throws {
    let followerA = try PlacementFixture(tls: false, leader: false)
    let followerB = try PlacementFixture(tls: false, leader: false)
    let leader = try PlacementFixture(tls: false, leader: true)
    try await followerA.run(nodeID: "dapr-placement-0") { portA in
      try await followerB.run(nodeID: "dapr-placement-1") { portB in
        try await leader.run(nodeID: "dapr-placement-2") { portC in
          // As daprd: try each address in turn, moving on at once after "not a leader".
          var refusals: [String] = []
          for (port, fixture) in [(portA, followerA), (portB, followerB), (portC, leader)] {
            let sidecar = SimulatedSidecar(name: "10.0.0.1:50002", appID: "cart", actorTypes: ["T"])
            let served = try await fixture.withClient(port: port) { client in
              try await withThrowingTaskGroup(of: (any Error)?.self) { group in
                group.addTask { await sidecar.run(on: client) }
                group.addTask {
                  // Served: close after the first round. Refused: the waiting ends with the stream.
                  _ = try? await sidecar.waitFor("unlock", version: 1)
                  sidecar.close()
                  return nil
                }
                var ending: (any Error)?
                for try await result in group { if let result { ending = result } }
                return ending
              }
            }
            guard let error = served as? RPCError else { break }
            #expect(error.code == .failedPrecondition)
            refusals.append(error.message)
          }
          #expect(
            refusals == [
              "node id=dapr-placement-0 is not a leader. Only the leader can serve requests",
              "node id=dapr-placement-1 is not a leader. Only the leader can serve requests",
            ])
        }
      }
    }
  }

  @Test func aSidecarClaimingAnotherAppsIdentityIsRefusedWithPermissionDenied() async throws {
    let fixture = try PlacementFixture()
    try await fixture.run { port in
      try await fixture.withClient(port: port, appID: "cart") { client in
        let impostor = SimulatedSidecar(name: "10.0.0.1:50002", appID: "payments", actorTypes: ["T"])
        let error = try #require(await impostor.run(on: client) as? RPCError)
        #expect(error.code == .permissionDenied)
        #expect(error.message.contains("payments"))
        #expect(fixture.hub.snapshot().isEmpty, "nothing was stored")
      }
    }
  }

  @Test func losingLeadershipEndsEveryStreamWithUnavailable() async throws {
    let fixture = try PlacementFixture(tls: false)
    try await fixture.run { port in
      try await fixture.withClient(port: port) { client in
        let sidecar = SimulatedSidecar(name: "10.0.0.1:50002", appID: "cart", actorTypes: ["T"])
        let ending = Signal<(any Error)?>()
        try await withThrowingTaskGroup(of: Void.self) { group in
          group.addTask { ending.fire(await sidecar.run(on: client)) }
          _ = try await sidecar.waitFor("unlock", version: 1)
          fixture.leadership.set(false)
          fixture.hub.endAll(RPCError(code: .unavailable, message: "placement lost leadership"))
          let error = try #require(try await ending.value() as? RPCError)
          #expect(error.code == .unavailable)
          #expect(fixture.hub.snapshot().isEmpty)
          try await group.waitForAll()
        }
      }
    }
  }
}

@Suite(.timeLimit(.minutes(1))) struct PlacementKeepaliveTests {
  @Test func aHalfOpenConnectionIsDroppedAfterKeepaliveTimePlusTimeoutAndItsHostLeavesTheTables() async throws {
    let fixture = try PlacementFixture(tls: false)
    let listening = Signal<Int>()
    var server = PlacementGRPCServer(
      host: "127.0.0.1", port: 0, security: .plaintext,
      service: PlacementService(hub: fixture.hub, leadership: fixture.leadership, nodeID: "dapr-placement-0"),
      hub: fixture.hub, readiness: ReadinessTargets([PlacementServer.serverTarget]),
      logger: Logger(label: "dapr.placement.test"), onListening: { listening.fire($0) })
    server.keepalive = (.seconds(1), .seconds(1))
    try await withRunningServices([server]) {
      let proxy = try await TCPProxy(targetHost: "127.0.0.1", targetPort: try await listening.value())
      try await fixture.withClient(port: proxy.port) { client in
        let sidecar = SimulatedSidecar(name: "10.0.0.1:50002", appID: "cart", actorTypes: ["Cart"])
        try await withThrowingTaskGroup(of: Void.self) { group in
          start(sidecar, on: client, in: &group)
          _ = try await sidecar.waitFor("unlock", version: 1)
          #expect(fixture.hub.snapshot()["default"]?.hosts.count == 1)
          proxy.blackholeTraffic = true
          let cut = ContinuousClock.now
          try await eventually("placement drops the silent connection", within: .seconds(10)) {
            fixture.hub.snapshot().isEmpty
          }
          let elapsed = ContinuousClock.now - cut
          #expect(elapsed >= .seconds(1), "dropped after \(elapsed), before any ping could go unanswered")
          proxy.blackholeTraffic = false
          await proxy.close()
          group.cancelAll()
        }
      }
    }
  }
}
