import ControlPlaneKit
import DaprProto
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf

/// `dapr.proto.placement.v1.Placement`: one long-lived stream per sidecar, reports and acknowledgements in, orders
/// out. Only the leader serves; the others refuse with Dapr's exact text so daprd moves to its next address.
///
/// Registered by hand rather than through the generated service protocol so that orders go out already encoded:
/// a round's UPDATE is serialised once and the same bytes are written to every stream.
struct PlacementService: RegistrableRPCService {
  let hub: PlacementHub
  let leadership: LatestValue<Bool>
  /// This replica's id, named in the refusal.
  let nodeID: String

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerHandler(
      forMethod: Dapr_Proto_Placement_V1_Placement.Method.ReportDaprStatus.descriptor,
      deserializer: ProtobufDeserializer<Dapr_Proto_Placement_V1_Host>(),
      serializer: EncodedOrderSerializer(),
      handler: { request, context in
        guard leadership.current else {
          throw RPCError(
            code: .failedPrecondition,
            message: "node id=\(nodeID) is not a leader. Only the leader can serve requests")
        }
        return StreamingServerResponse { writer in
          try await serve(request.messages, writer: writer, context: context)
          return [:]
        }
      })
  }

  func serve(
    _ request: RPCAsyncSequence<Dapr_Proto_Placement_V1_Host, any Error>, writer: RPCWriter<EncodedOrder>,
    context: ServerContext
  ) async throws {
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
        case .order(let order): try await writer.write(order)
        case .end(let status): throw status
        }
      }
      group.cancelAll()
    }
  }
}

/// A placement order serialised once, for every stream it goes to.
public struct EncodedOrder: Sendable {
  public let bytes: [UInt8]
  /// The same bytes as the NIO transport carries them: handed to every stream without a copy (`ByteBuffer`s share
  /// their storage), which at 10,000 streams saves 10,000 copies of each UPDATE in flight.
  let transportBytes: GRPCNIOTransportBytes

  public init(_ order: PlacementOrder) {
    bytes = (try? order.message.serializedBytes()) ?? []
    transportBytes = GRPCNIOTransportBytes(bytes)
  }
}

struct EncodedOrderSerializer: MessageSerializer {
  func serialize<Bytes: GRPCContiguousBytes>(_ message: EncodedOrder) throws -> Bytes {
    if let shared = message.transportBytes as? Bytes { return shared }
    return Bytes(message.bytes)
  }
}
