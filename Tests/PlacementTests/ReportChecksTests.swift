import ControlPlaneKit
import DaprProto
import GRPCCore
import Placement
import Testing

@Suite struct ReportChecksTests {
  static let peer = try! SPIFFEID(trustDomain: "cluster.local", namespace: "shop", appID: "cart")

  @Test(
    "Bad or unauthorised reports get Dapr's status codes",
    arguments: [
      (makeHost("a:1", id: "", namespace: "shop"), peer, true, RPCError.Code.invalidArgument),
      (makeHost("a:1", id: "cart", namespace: ""), peer, true, .invalidArgument),
      (makeHost("a:1", id: "cart", namespace: "shop", operation: .unknown, version: 3), peer, true, .invalidArgument),
      (makeHost("a:1", id: "cart", namespace: "shop"), nil, true, .unauthenticated),
      (makeHost("a:1", id: "orders", namespace: "shop"), peer, true, .permissionDenied),
      (makeHost("a:1", id: "cart", namespace: "other"), peer, true, .permissionDenied),
      (
        makeHost("a:1", id: "cart", namespace: "shop", types: ["dapr.internal.shop.orders.workflow"]), peer, true,
        .permissionDenied
      ),
    ] as [(PlacementHost, SPIFFEID?, Bool, RPCError.Code)])
  func refused(host: PlacementHost, peer: SPIFFEID?, requirePeer: Bool, code: RPCError.Code) {
    #expect(throws: RPCError.self) { try ReportChecks.check(host, peer: peer, requirePeer: requirePeer) }
    do {
      try ReportChecks.check(host, peer: peer, requirePeer: requirePeer)
    } catch {
      #expect(error.code == code, "\(error.message)")
      #expect(!error.message.isEmpty)
    }
  }

  @Test(
    "Good reports pass",
    arguments: [
      (makeHost("a:1", id: "cart", namespace: "shop", types: ["A", "dapr.internal.shop.cart.workflow"]), peer, true),
      (makeHost("a:1", id: "anything", namespace: "any"), nil, false),
      (makeHost("a:1", id: "cart", namespace: "shop", operation: .lock, version: 4), peer, true),
    ] as [(PlacementHost, SPIFFEID?, Bool)])
  func accepted(host: PlacementHost, peer: SPIFFEID?, requirePeer: Bool) throws {
    try ReportChecks.check(host, peer: peer, requirePeer: requirePeer)
  }
}
