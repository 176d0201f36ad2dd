import AsyncHTTPClient
import ControlPlaneKit
import ControlPlaneTestSupport
import Hummingbird
import HummingbirdTLS
import Logging
import NIOSSL
import Testing

@Suite(.timeLimit(.minutes(1))) struct HummingbirdTLSTests {
  static let serverID = try! SPIFFEID(parsing: "spiffe://cluster.local/ns/dapr-system/dapr-webhook")
  static let clientID = try! SPIFFEID(parsing: "spiffe://public/ns/default/checkout")

  /// Serves `GET /whoami` over mutual TLS and calls it with an HTTPS client presenting `clientIdentity`.
  func whoami(ca: TestCertificateAuthority, clientIdentity: TLSIdentity?) async throws -> String {
    let router = Router(context: SPIFFERequestContext.self)
    router.get("whoami") { _, context in try await context.peerSPIFFEID().description }
    let listening = Signal<Int>()
    let app = Application(
      router: router,
      server: try .tls(
        .http1(),
        configuration: HummingbirdTLSConfigurations.mutualServer(
          identity: LatestValue(try ca.issue(spiffeID: Self.serverID)),
          verifier: SPIFFEPeerVerifier(trustAnchors: { ca.trustBundle }, requirement: .anyIdentity))),
      configuration: .init(address: .hostname("127.0.0.1", port: 0)),
      onServerRunning: { listening.fire($0.localAddress?.port ?? 0) },
      logger: Logger(label: "test"))

    return try await withRunningServices([app]) {
      let port = try await listening.value()
      var tls = TLSConfiguration.makeClientConfiguration()
      tls.trustRoots = .certificates([
        try NIOSSLCertificate(bytes: try ca.trustBundle.pemEncoded().utf8.map { $0 }, format: .pem)
      ])
      tls.certificateVerification = .noHostnameVerification
      if let clientIdentity {
        tls.certificateChain = clientIdentity.nioCertificateChain.map { .certificate($0) }
        tls.privateKey = .privateKey(clientIdentity.nioPrivateKey)
      }
      let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
      do {
        let response = try await client.execute(
          HTTPClientRequest(url: "https://127.0.0.1:\(port)/whoami"), timeout: .seconds(10))
        let body = String(buffer: try await response.body.collect(upTo: 1 << 16))
        try await client.shutdown()
        return body
      } catch {
        try? await client.shutdown()
        throw error
      }
    }
  }

  @Test func handlersSeeTheClientsSPIFFEID() async throws {
    let ca = try TestCertificateAuthority()
    #expect(
      try await whoami(ca: ca, clientIdentity: try ca.issue(spiffeID: Self.clientID)) == Self.clientID.description)
  }

  @Test func aClientCertificateFromAnotherAuthorityIsRefused() async throws {
    let ca = try TestCertificateAuthority()
    let stranger = try TestCertificateAuthority().issue(spiffeID: Self.clientID)
    await #expect(throws: (any Error).self) { _ = try await whoami(ca: ca, clientIdentity: stranger) }
  }

  @Test func aClientWithoutACertificateIsRefused() async throws {
    let ca = try TestCertificateAuthority()
    await #expect(throws: (any Error).self) { _ = try await whoami(ca: ca, clientIdentity: nil) }
  }
}
