import HummingbirdTLS
import NIOCertificateReloading
import NIOCore
import NIOSSL

/// NIOSSL configurations for the control plane's TLS endpoints. The peer checks live in
/// ``SPIFFEPeerVerifier``; pass its callback to the handler, the gRPC transport or Hummingbird.
///
/// Every configuration accepts Ed25519 signatures, which BoringSSL leaves out of its defaults but Dapr 1.18's
/// sidecars use for their keys.
public enum NIOTLSConfigurations {
  /// The signature algorithms peers may sign handshakes with: BoringSSL's defaults plus Ed25519.
  public static let verifySignatureAlgorithms: [SignatureAlgorithm] = [
    .ed25519, .ecdsaSecp256R1Sha256, .rsaPssRsaeSha256, .rsaPkcs1Sha256, .ecdsaSecp384R1Sha384,
    .rsaPssRsaeSha384, .rsaPkcs1Sha384, .rsaPssRsaeSha512, .rsaPkcs1Sha512,
  ]

  /// How long a server that closes a connection waits for the client's close_notify before it closes the socket.
  /// NIOSSL waits 5 s by default, and Go's clients (the API server calling the webhooks) do not answer it on a
  /// kept-alive connection, so each stop of the injector or of the operator's conversion webhook took the whole 5 s
  /// (measured with `scripts/run-local.sh`; 1 s with a 1 s wait). A server gains nothing from the wait: every
  /// request on the connection was answered before it is closed.
  public static let serverCloseNotifyWait: TimeAmount = .milliseconds(100)

  /// A server that presents `identity` and asks for no client certificate (sentry, webhooks).
  public static func server(identity: TLSIdentity, applicationProtocols: [String] = []) -> TLSConfiguration {
    var configuration = TLSConfiguration.makeServerConfiguration(
      certificateChain: identity.nioCertificateChain.map { .certificate($0) },
      privateKey: .privateKey(identity.nioPrivateKey))
    configuration.minimumTLSVersion = .tlsv12
    configuration.verifySignatureAlgorithms = verifySignatureAlgorithms
    configuration.applicationProtocols = applicationProtocols
    configuration.shutdownTimeout = serverCloseNotifyWait
    return configuration
  }

  /// A server that presents `identity` and requires a client certificate. Verify it with
  /// ``SPIFFEPeerVerifier/nioVerificationCallback`` on the `NIOSSLServerHandler`.
  public static func mutualServer(identity: TLSIdentity, applicationProtocols: [String] = []) -> TLSConfiguration {
    var configuration = server(identity: identity, applicationProtocols: applicationProtocols)
    configuration.certificateVerification = .noHostnameVerification
    // The custom callback does the real verification; BoringSSL only needs somewhere to start.
    configuration.trustRoots = .certificates([])
    return configuration
  }

  /// A client that presents `identity` (if any). Verify the server with
  /// ``SPIFFEPeerVerifier/nioVerificationCallback`` on the `NIOSSLClientHandler`: SPIFFE certificates carry no
  /// DNS names, so hostname verification is off and the pinned SPIFFE ID takes its place.
  public static func client(identity: TLSIdentity?, applicationProtocols: [String] = []) -> TLSConfiguration {
    var configuration = TLSConfiguration.makeClientConfiguration()
    configuration.minimumTLSVersion = .tlsv12
    configuration.verifySignatureAlgorithms = verifySignatureAlgorithms
    configuration.certificateVerification = .noHostnameVerification
    configuration.trustRoots = .certificates([])
    configuration.applicationProtocols = applicationProtocols
    if let identity {
      configuration.certificateChain = identity.nioCertificateChain.map { .certificate($0) }
      configuration.privateKey = .privateKey(identity.nioPrivateKey)
    }
    return configuration
  }
}

/// TLS for Hummingbird servers (the injector's and the operator's webhooks).
public enum HummingbirdTLSConfigurations {
  /// HTTPS presenting `identity`; a renewed identity is served to new connections at once.
  public static func server(identity: LatestValue<TLSIdentity>) -> TLSChannelConfiguration {
    var configuration = NIOTLSConfigurations.server(identity: identity.current, applicationProtocols: ["http/1.1"])
    configuration.setCertificateReloader(RotatingIdentityReloader(identity))
    return TLSChannelConfiguration(tlsConfiguration: configuration)
  }

  /// HTTPS that requires a client certificate accepted by `verifier`.
  public static func mutualServer(
    identity: LatestValue<TLSIdentity>, verifier: SPIFFEPeerVerifier
  ) -> TLSChannelConfiguration {
    var configuration = NIOTLSConfigurations.mutualServer(
      identity: identity.current, applicationProtocols: ["http/1.1"])
    configuration.setCertificateReloader(RotatingIdentityReloader(identity))
    return TLSChannelConfiguration(
      tlsConfiguration: configuration, customVerificationCallback: verifier.plainNIOVerificationCallback)
  }
}
