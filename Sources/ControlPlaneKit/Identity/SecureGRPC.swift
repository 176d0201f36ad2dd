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

/// How a gRPC server secures its connections.
public enum GRPCServerSecurity: Sendable {
  /// No TLS (placement without `--tls-enabled`, tests).
  case plaintext
  /// TLS presenting `identity`, no client certificates (sentry).
  case tls(identity: LatestValue<TLSIdentity>)
  /// Mutual TLS: the client must present a certificate `verifier` accepts (operator, placement).
  case mutualTLS(identity: LatestValue<TLSIdentity>, verifier: SPIFFEPeerVerifier)
}

/// How a gRPC client secures its connection.
public enum GRPCClientSecurity: Sendable {
  case plaintext
  /// TLS that verifies the server with `verifier` (pin its ID with ``PeerRequirement/exactly(_:)``) and, for
  /// mutual TLS, presents `identity`.
  case tls(identity: LatestValue<TLSIdentity>?, verifier: SPIFFEPeerVerifier)
}

/// gRPC servers and clients whose TLS is configured here rather than by the transport, so that they
///
/// - accept Ed25519 handshake signatures (Dapr 1.18 sidecars' keys; BoringSSL's defaults leave them out),
/// - verify peers with ``SPIFFEPeerVerifier`` against trust anchors that may rotate,
/// - serve a renewed SVID to new connections without a restart,
/// - hand the verified client ID to handlers: ``PeerIdentity/spiffeID(of:)-swift.type.method`` works in any
///   handler of a server made by ``server(host:port:security:services:configure:)``.
public enum SecureGRPC {
  /// The server transport.
  public typealias ServerTransport = HTTP2ServerTransport.Custom<SPIFFEListenerFactory>

  /// A gRPC server on `host:port` with `security`, serving `services`.
  public static func server(
    host: String, port: Int, security: GRPCServerSecurity, services: [any RegistrableRPCService],
    interceptors: [any ServerInterceptor] = [],
    eventLoopGroup: MultiThreadedEventLoopGroup = .singletonMultiThreadedEventLoopGroup,
    configure: (inout ServerTransport.Config) -> Void = { _ in }
  ) -> GRPCServer<ServerTransport> {
    var config = ServerTransport.Config.defaults
    configure(&config)
    let factory = SPIFFEListenerFactory(host: host, port: port, security: security, eventLoopGroup: eventLoopGroup)
    // Only mutual TLS has a peer to name; the others skip the per-call work (a few percent of a small call).
    guard case .mutualTLS = security else {
      return GRPCServer(
        transport: ServerTransport(listenerFactory: factory, config: config), services: services,
        interceptors: interceptors)
    }
    let userCallback = config.channelDebuggingCallbacks.onAcceptHTTP2Stream
    config.channelDebuggingCallbacks.onAcceptHTTP2Stream = { stream in
      let injected = PeerIdentityHeaderInjector.install(on: stream)
      guard let userCallback else { return injected }
      return injected.flatMap { userCallback(stream) }
    }
    return GRPCServer(
      transport: ServerTransport(listenerFactory: factory, config: config),
      services: services,
      interceptors: [PeerIdentityInterceptor()] + interceptors)
  }

  /// A client transport to `host:port` with `security`.
  public static func clientTransport(
    host: String, port: Int, security: GRPCClientSecurity,
    configure: (inout HTTP2ClientTransport.Posix.Config) -> Void = { _ in }
  ) throws -> HTTP2ClientTransport.Posix {
    var config = HTTP2ClientTransport.Posix.Config.defaults
    configure(&config)
    // Address literals skip the resolver (a fleet of clients would otherwise queue on it).
    let octets = host.split(separator: ".", omittingEmptySubsequences: false)
    let isIPv4 = octets.count == 4 && octets.allSatisfy { UInt8($0) != nil }
    let target: any ResolvableTarget =
      host.contains(":")
      ? .ipv6(address: host, port: port) : isIPv4 ? .ipv4(address: host, port: port) : .dns(host: host, port: port)
    switch security {
    case .plaintext:
      return try HTTP2ClientTransport.Posix(target: target, transportSecurity: .plaintext, config: config)
    case .tls(let identity, let verifier):
      var tls = NIOTLSConfigurations.client(identity: identity?.current, applicationProtocols: ["h2"])
      if let identity { tls.setCertificateReloader(RotatingIdentityReloader(identity)) }
      let context = try NIOSSLContext(configuration: tls)
      let callback = verifier.nioVerificationCallback
      let userCallback = config.channelDebuggingCallbacks.onCreateTCPConnection
      config.channelDebuggingCallbacks.onCreateTCPConnection = { channel in
        let secured = channel.eventLoop.makeCompletedFuture {
          let handler = try NIOSSLClientHandler(
            context: context, serverHostname: nil, customVerificationCallbackWithMetadata: callback)
          try channel.pipeline.syncOperations.addHandler(handler, position: .first)
        }
        guard let userCallback else { return secured }
        return secured.flatMap { userCallback(channel) }
      }
      return try HTTP2ClientTransport.Posix(target: target, transportSecurity: .customSecure, config: config)
    }
  }
}

/// Binds the listening socket and puts NIOSSL in front of each accepted connection, configured by this project
/// (see ``SecureGRPC``), then hands the connection to grpc-swift's HTTP/2 pipeline.
public struct SPIFFEListenerFactory: HTTP2ServerTransport.ListenerFactory {
  public let eventLoopGroup: any EventLoopGroup
  let host: String
  let port: Int
  let security: GRPCServerSecurity

  init(host: String, port: Int, security: GRPCServerSecurity, eventLoopGroup: any EventLoopGroup) {
    self.host = host
    self.port = port
    self.security = security
    self.eventLoopGroup = eventLoopGroup
  }

  public func makeListeningChannel(
    listenerConfigurator: HTTP2ServerTransport.ListenerConfigurator,
    connectionConfigurator: HTTP2ServerTransport.ConnectionConfigurator
  ) async throws -> NIOAsyncChannel<HTTP2ServerTransport.ConnectionConfigurator.ConnectionChannel, Never> {
    let protocols = ["h2", "grpc-exp"]
    let sslContext: NIOSSLContext?
    let verifier: SPIFFEPeerVerifier?
    switch security {
    case .plaintext:
      sslContext = nil
      verifier = nil
    case .tls(let identity):
      var configuration = NIOTLSConfigurations.server(identity: identity.current, applicationProtocols: protocols)
      configuration.setCertificateReloader(RotatingIdentityReloader(identity))
      sslContext = try NIOSSLContext(configuration: configuration)
      verifier = nil
    case .mutualTLS(let identity, let peerVerifier):
      var configuration = NIOTLSConfigurations.mutualServer(
        identity: identity.current, applicationProtocols: protocols)
      configuration.setCertificateReloader(RotatingIdentityReloader(identity))
      sslContext = try NIOSSLContext(configuration: configuration)
      verifier = peerVerifier
    }
    let tls: HTTP2ServerTransport.ConnectionConfigurator.TLS =
      sslContext == nil ? .none : .configured(requireALPN: false)

    return try await ServerBootstrap(group: eventLoopGroup)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      // Room for a fleet of sidecars reconnecting at once (NIO's default backlog is 128; the kernel caps it).
      .serverChannelOption(.backlog, value: 4096)
      .serverChannelInitializer { channel in listenerConfigurator.configure(channel: channel) }
      .bind(host: host, port: port) { channel in
        channel.eventLoop.makeCompletedFuture {
          let pipeline = channel.pipeline.syncOperations
          if let sslContext, let verifier {
            let recorder = PeerIdentityRecorder()
            try pipeline.addHandlers(
              NIOSSLServerHandler(
                context: sslContext, customVerificationCallbackWithMetadata: verifier.recordingCallback(into: recorder)),
              recorder)
          } else if let sslContext {
            try pipeline.addHandler(NIOSSLServerHandler(context: sslContext))
          }
          try pipeline.addHandler(CompactingReadHandler())
        }.flatMap {
          connectionConfigurator.configure(channel: channel, tls: tls)
        }
      }
  }
}

/// Passes on the bytes of a read in a buffer of their own size when the buffer they arrived in is mostly empty
/// space.
///
/// NIOSSL decrypts into a 32 KiB buffer and NIO reads a socket into buffers of up to 64 KiB. nio-http2's frame
/// decoder keeps the last buffer it was given (or a copy grown from it) while a connection is idle, and NIOSSL then
/// has to copy its own buffer before the next read: for a fleet of idle sidecar connections, about 100 KB per
/// connection held for nothing. Copying a small read costs an allocation and a `memcpy`; large reads, which fill
/// their buffer, go on as they are.
final class CompactingReadHandler: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = ByteBuffer
  typealias InboundOut = ByteBuffer

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let buffer = unwrapInboundIn(data)
    guard Self.shouldCompact(readable: buffer.readableBytes, storageCapacity: buffer.storageCapacity) else {
      context.fireChannelRead(data)
      return
    }
    var compact = context.channel.allocator.buffer(capacity: buffer.readableBytes)
    compact.writeImmutableBuffer(buffer)
    context.fireChannelRead(wrapInboundOut(compact))
  }

  /// Whether a read of `readable` bytes in a buffer whose storage holds `storageCapacity` is worth copying: at
  /// least 4 KiB and at least half of the storage would otherwise be held empty.
  static func shouldCompact(readable: Int, storageCapacity: Int) -> Bool {
    let wasted = storageCapacity - readable
    return wasted >= 4096 && wasted >= storageCapacity / 2
  }
}

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
