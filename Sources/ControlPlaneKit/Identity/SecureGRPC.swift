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
