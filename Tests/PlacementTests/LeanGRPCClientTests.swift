import ControlPlaneKit
import ControlPlaneTestSupport
import DaprProto
import LeanGRPCClient
import PlacementSimulator
import Synchronization
import Testing

/// The benchmarks' lean gRPC client against the real placement server (grpc-swift): if it spoke the wire format
/// wrongly, the benchmarks would measure nothing.
@Suite(.timeLimit(.minutes(1))) struct LeanGRPCClientTests {
  typealias Order = SimulatedSidecar.Order

  @Test(arguments: [true, false])
  func aLeanSidecarReportsItsHostAndIsServedLockUpdateAndUnlock(tls: Bool) async throws {
    let fixture = try PlacementFixture(tls: tls)
    let orders = try await fixture.run { port in
      let connection = try await LeanGRPCConnection.connect(
        host: "127.0.0.1", port: port, tls: try tls ? Self.sidecarTLS(fixture, appID: "cart") : nil)
      let report = SimulatedSidecar(name: "10.0.0.1:50002", appID: "cart", actorTypes: ["Cart"]).report
      let received = Mutex<[Order]>([])
      let unlocked = Signal<Void>()
      let stream = try await connection.openStream(
        path: "/dapr.proto.placement.v1.Placement/ReportDaprStatus", request: try report.serializedBytes(),
        endOfRequests: false
      ) { message, stream in
        let order = try! Order(serializedBytes: Array(message.readableBytesView))
        received.withLock { $0.append(order) }
        // Acknowledged as daprd does: the round moves on only when every stream has.
        stream.send(try! SimulatedSidecar.acknowledgement(of: order, from: report).serializedBytes())
        if order.operation == "unlock" { unlocked.fire(()) }
      }
      try await unlocked.value()
      stream.cancel()
      await connection.close()
      return received.withLock { $0 }
    }
    #expect(orders.map(\.operation) == ["lock", "update", "unlock"])
    #expect(orders[1].tables.entries["Cart"]?.loadMap.keys.sorted() == ["10.0.0.1:50002"])
  }

  @Test func aCallTheServerDoesNotKnowEndsWithItsGRPCStatus() async throws {
    let fixture = try PlacementFixture(tls: false)
    let status = try await fixture.run { port in
      let connection = try await LeanGRPCConnection.connect(host: "127.0.0.1", port: port, tls: nil)
      let ended = Signal<Int?>()
      _ = try await connection.openStream(
        path: "/dapr.proto.placement.v1.Placement/NoSuchMethod", request: [], endOfRequests: true,
        onMessage: { _, _ in }, onEnd: { ended.fire($0) })
      let status = try await ended.value()
      await connection.close()
      return status
    }
    #expect(status == 12)  // UNIMPLEMENTED
  }

  static func sidecarTLS(_ fixture: PlacementFixture, appID: String) throws -> LeanGRPCTLS {
    let id = try SPIFFEID(trustDomain: PlacementFixture.trustDomain, namespace: "default", appID: appID)
    let trust = fixture.ca.trustBundle
    return try LeanGRPCTLS(
      identity: try fixture.ca.issue(spiffeID: id, keyType: .ed25519),
      verifier: SPIFFEPeerVerifier(trustAnchors: { trust }, requirement: .exactly(PlacementFixture.placementID)))
  }
}
