import ControlPlaneKit
import DaprProto
import GRPCCore

/// `dapr.proto.placement.v1.Placement`: one long-lived stream per sidecar, reports and acknowledgements in, orders
/// out. Only the leader serves; the others refuse with Dapr's exact text so daprd moves to its next address.
struct PlacementService: Dapr_Proto_Placement_V1_Placement.SimpleServiceProtocol {
  let hub: PlacementHub
  let leadership: LatestValue<Bool>
  /// This replica's id, named in the refusal.
  let nodeID: String

  func reportDaprStatus(
    request: RPCAsyncSequence<Dapr_Proto_Placement_V1_Host, any Error>,
    response: RPCWriter<Dapr_Proto_Placement_V1_PlacementOrder>,
    context: ServerContext
  ) async throws {
    guard leadership.current else {
      throw RPCError(
        code: .failedPrecondition,
        message: "node id=\(nodeID) is not a leader. Only the leader can serve requests")
    }
    // Without mTLS there is no peer; with it, a client that presented no identity is refused on its first message.
    let peer = hub.requirePeer ? try? PeerIdentity.spiffeID(of: context) : nil
    let (id, outbound) = hub.open(peer: peer)
    defer { hub.close(id) }
    let hub = self.hub
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask {
        do {
          for try await host in request { try hub.receive(id, host) }
        } catch let error as RPCError {
          hub.end(id, error)
          return
        } catch {
          // The client went away (reset, cancelled); closing the stream is all there is to do.
        }
        hub.close(id)
      }
      for await item in outbound {
        switch item {
        case .order(let order): try await response.write(order)
        case .end(let status): throw status
        }
      }
      group.cancelAll()
    }
  }
}
