import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCertificateReloading
import NIOCore
import NIOHTTP2
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization
import X509

/// The request header that carries the verified client ID from the connection to the RPC. Clients cannot set it:
/// ``PeerIdentityHeaderInjector`` replaces whatever a client sends.
let peerIdentityHeader = "x-dapr-control-plane-peer-spiffe-id"

/// Remembers, per connection, the SPIFFE ID the verifier accepted.
final class PeerIdentityRecorder: ChannelInboundHandler, Sendable {
  typealias InboundIn = ByteBuffer

  private let verified = Mutex<SPIFFEID?>(nil)

  var peer: SPIFFEID? { verified.withLock { $0 } }

  func record(_ id: SPIFFEID) { verified.withLock { $0 = id } }
}

/// Puts the connection's verified peer ID into each request's headers, after removing any a client sent.
final class PeerIdentityHeaderInjector: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = HTTP2Frame.FramePayload
  typealias InboundOut = HTTP2Frame.FramePayload

  private let peer: SPIFFEID?
  private var seenHeaders = false

  init(peer: SPIFFEID?) { self.peer = peer }

  static func install(on stream: any Channel) -> EventLoopFuture<Void> {
    stream.eventLoop.makeCompletedFuture {
      let peer = try? stream.parent?.pipeline.syncOperations.handler(type: PeerIdentityRecorder.self).peer
      try stream.pipeline.syncOperations.addHandler(PeerIdentityHeaderInjector(peer: peer ?? nil), position: .first)
    }
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    var payload = unwrapInboundIn(data)
    if case .headers(var headers) = payload {
      headers.headers.remove(name: peerIdentityHeader)
      if !seenHeaders, let peer {
        headers.headers.add(name: peerIdentityHeader, value: peer.description)
      }
      seenHeaders = true
      payload = .headers(headers)
    }
    context.fireChannelRead(wrapInboundOut(payload))
  }
}

/// The verified client ID of a call, as ``PeerIdentityInterceptor`` puts it in the `ServerContext`.
public struct SPIFFEPeerContext: ServerContext.TransportSpecific {
  public let id: SPIFFEID
}

/// Moves the peer ID header that ``PeerIdentityHeaderInjector`` wrote into `ServerContext.transportSpecific` and
/// removes it from the request metadata, so handlers read it with ``PeerIdentity/spiffeID(of:)-swift.type.method``.
///
/// - Warning: only meaningful behind ``SecureGRPC/server(host:port:security:services:interceptors:eventLoopGroup:configure:)``,
///   whose transport strips the header from what clients send.
struct PeerIdentityInterceptor: ServerInterceptor {
  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    var request = request
    var context = context
    let values = Array(request.metadata[stringValues: peerIdentityHeader])
    request.metadata.removeAllValues(forKey: peerIdentityHeader)
    if values.count == 1, let id = try? SPIFFEID(parsing: values[0]) {
      context.transportSpecific = SPIFFEPeerContext(id: id)
    }
    return try await next(request, context)
  }
}

extension SPIFFEPeerVerifier {
  /// The NIOSSL callback that also records the accepted ID on the connection.
  func recordingCallback(
    into recorder: PeerIdentityRecorder?
  ) -> @Sendable ([NIOSSLCertificate], EventLoopPromise<NIOSSLVerificationResultWithMetadata>) -> Void {
    { presented, promise in
      promise.completeWithTask {
        guard let chain = try? presented.map({ try Certificate(derEncoded: try $0.toDERBytes()) }),
          let verified = try? await self.verify(presented: chain)
        else { return .failed }
        recorder?.record(verified.id)
        let nioChain = try verified.chain.map { try NIOSSLCertificate(bytes: $0.derBytes, format: .der) }
        return .certificateVerified(VerificationMetadata(ValidatedCertificateChain(nioChain)))
      }
    }
  }
}

extension GRPCServer where Transport == SecureGRPC.ServerTransport {
  /// Serves until the service group shuts down: marks `target` ready (and logs `listening(address, port)`) once the
  /// server listens, runs `alongside` tasks meanwhile (certificate renewals), and on shutdown calls `onShutdown`,
  /// stops accepting calls and lets running ones finish before the helpers stop too.
  public func serveUntilShutdown(
    readiness: ReadinessTargets, target: String, logger: Logger,
    listening: @escaping @Sendable (_ address: String, _ port: Int) -> String,
    onListening: @escaping @Sendable (Int) async -> Void = { _ in },
    onShutdown: @escaping @Sendable () -> Void = {},
    alongside: [@Sendable () async throws -> Void] = []
  ) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
      for task in alongside { group.addTask { try await task() } }
      group.addTask {
        if let address = await self.transport.listeningAddress {
          let port = address.ipv4?.port ?? address.ipv6?.port ?? 0
          logger.info("\(listening("\(address)", port))")
          readiness.markReady(target)
          await onListening(port)
        }
      }
      try await withGracefulShutdownHandler {
        try await self.serve()
      } onGracefulShutdown: {
        onShutdown()
        self.beginGracefulShutdown()
      }
      group.cancelAll()
    }
  }
}
