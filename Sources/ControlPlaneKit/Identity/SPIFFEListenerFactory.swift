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
