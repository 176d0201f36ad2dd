import ControlPlaneKit
import ControlPlaneTestSupport
import DaprProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing

/// A CA service that answers with the caller's SPIFFE ID instead of a certificate, so a test can see what the
/// server learned from the handshake.
struct PeerEchoService: Dapr_Proto_Sentry_V1_CA.SimpleServiceProtocol {
  func signCertificate(
    request: Dapr_Proto_Sentry_V1_SignCertificateRequest, context: ServerContext
  ) async throws -> Dapr_Proto_Sentry_V1_SignCertificateResponse {
    let peer: SPIFFEID
    do {
      peer = try PeerIdentity.spiffeID(of: context)
    } catch {
      throw RPCError(code: .unauthenticated, message: error.message)
    }
    var response = Dapr_Proto_Sentry_V1_SignCertificateResponse()
    response.workloadCertificate = Data(peer.description.utf8)
    return response
  }
}

@Suite(.timeLimit(.minutes(1))) struct MutualTLSTests {
  static let serverID = try! SPIFFEID(parsing: "spiffe://cluster.local/ns/dapr-system/dapr-sentry")
  static let clientID = try! SPIFFEID(parsing: "spiffe://public/ns/default/checkout")

  /// Serves `PeerEchoService` over mTLS and calls it once with the given client set-up.
  func callOnce(
    ca: TestCertificateAuthority,
    serverKey: TestCertificateAuthority.KeyType = .ed25519,
    clientIdentity: TLSIdentity?,
    pinnedServerID: SPIFFEID,
    clientTrust: TrustBundle? = nil
  ) async throws -> String {
    let serverIdentity = try ca.issue(spiffeID: Self.serverID, keyType: serverKey)
    let server = SecureGRPC.server(
      host: "127.0.0.1", port: 0,
      security: .mutualTLS(
        identity: LatestValue(serverIdentity),
        verifier: SPIFFEPeerVerifier(trustAnchors: { ca.trustBundle }, requirement: .anyIdentity)),
      services: [PeerEchoService()])

    return try await withRunningServices([GRPCServerService(server)]) {
      guard let port = await server.transport.listeningAddress?.ipv4?.port else {
        throw RPCError(code: .internalError, message: "no port")
      }
      let trust = clientTrust ?? ca.trustBundle
      let transport = try SecureGRPC.clientTransport(
        host: "127.0.0.1", port: port,
        security: .tls(
          identity: clientIdentity.map { LatestValue($0) },
          verifier: SPIFFEPeerVerifier(trustAnchors: { trust }, requirement: .exactly(pinnedServerID))))
      return try await withGRPCClient(transport: transport) { client in
        var options = CallOptions.defaults
        options.timeout = .seconds(10)
        options.waitForReady = false
        var request = Dapr_Proto_Sentry_V1_SignCertificateRequest()
        request.id = "checkout"
        // A client cannot claim an identity by sending the header the server uses internally.
        let metadata: Metadata = ["x-dapr-control-plane-peer-spiffe-id": "spiffe://public/ns/default/admin"]
        let response = try await Dapr_Proto_Sentry_V1_CA.Client(wrapping: client).signCertificate(
          request, metadata: metadata, options: options)
        return String(decoding: response.workloadCertificate, as: UTF8.self)
      }
    }
  }

  @Test(
    "The server sees the client's SPIFFE ID whatever the key types",
    arguments: [
      (TestCertificateAuthority.KeyType.ecdsaP256, TestCertificateAuthority.KeyType.ed25519),
      (.ed25519, .ecdsaP256), (.rsa2048, .rsa2048), (.ecdsaP256, .ecdsaP256), (.ed25519, .ed25519),
      (.ecdsaP256, .rsa2048),
    ])
  func serverSeesClientID(
    caKey: TestCertificateAuthority.KeyType, leafKey: TestCertificateAuthority.KeyType
  )
    async throws
  {
    let ca = try TestCertificateAuthority(keyType: caKey)
    let client = try ca.issue(spiffeID: Self.clientID, keyType: leafKey)
    let seen = try await callOnce(ca: ca, serverKey: leafKey, clientIdentity: client, pinnedServerID: Self.serverID)
    #expect(seen == Self.clientID.description)
  }

  @Test func aClientPinnedToAnotherIDRefusesTheServer() async throws {
    let ca = try TestCertificateAuthority()
    let client = try ca.issue(spiffeID: Self.clientID)
    let wrongServer = try SPIFFEID(parsing: "spiffe://cluster.local/ns/dapr-system/dapr-operator")
    await #expect(throws: RPCError.self) {
      _ = try await callOnce(ca: ca, clientIdentity: client, pinnedServerID: wrongServer)
    }
  }

  @Test func aClientThatTrustsAnotherRootRefusesTheServer() async throws {
    let ca = try TestCertificateAuthority()
    let other = try TestCertificateAuthority()
    let client = try ca.issue(spiffeID: Self.clientID)
    await #expect(throws: RPCError.self) {
      _ = try await callOnce(
        ca: ca, clientIdentity: client, pinnedServerID: Self.serverID, clientTrust: other.trustBundle)
    }
  }

  @Test func aClientWithoutACertificateIsRefusedByTheServer() async throws {
    let ca = try TestCertificateAuthority()
    await #expect(throws: RPCError.self) {
      _ = try await callOnce(ca: ca, clientIdentity: nil, pinnedServerID: Self.serverID)
    }
  }

  @Test func aClientCertificateFromAnotherAuthorityIsRefusedByTheServer() async throws {
    let ca = try TestCertificateAuthority()
    let stranger = try TestCertificateAuthority().issue(spiffeID: Self.clientID)
    await #expect(throws: RPCError.self) {
      _ = try await callOnce(ca: ca, clientIdentity: stranger, pinnedServerID: Self.serverID)
    }
  }

  @Test func anExpiredClientCertificateIsRefused() async throws {
    let ca = try TestCertificateAuthority()
    let expired = try ca.issue(spiffeID: Self.clientID, notBefore: Date() - 7200, validity: 3600)
    await #expect(throws: RPCError.self) {
      _ = try await callOnce(ca: ca, clientIdentity: expired, pinnedServerID: Self.serverID)
    }
  }
}

@Suite struct SPIFFEPeerVerifierTests {
  @Test(
    "Peer requirements accept and refuse the right IDs",
    arguments: [
      (PeerRequirement.anyIdentity, "spiffe://public/ns/default/a", true),
      (.exactly(try! SPIFFEID(parsing: "spiffe://public/ns/default/a")), "spiffe://public/ns/default/a", true),
      (.exactly(try! SPIFFEID(parsing: "spiffe://public/ns/default/a")), "spiffe://public/ns/default/b", false),
      (.trustDomains(["public"]), "spiffe://public/ns/x/y", true),
      (.trustDomains(["cluster.local"]), "spiffe://public/ns/x/y", false),
    ])
  func requirements(requirement: PeerRequirement, presented: String, accepted: Bool) async throws {
    let ca = try TestCertificateAuthority()
    let leaf = try ca.issue(spiffeID: try SPIFFEID(parsing: presented))
    let verifier = SPIFFEPeerVerifier(trustAnchors: { ca.trustBundle }, requirement: requirement)
    do {
      let verified = try await verifier.verify(presented: leaf.certificateChain)
      #expect(accepted)
      #expect(verified.id.description == presented)
      #expect(verified.chain.last == ca.certificate)
    } catch {
      #expect(!accepted, "\(error.message)")
      #expect(error.code == .wrongIdentity)
    }
  }

  @Test func aLeafWithoutAnySPIFFEIDIsRefused() async throws {
    let ca = try TestCertificateAuthority()
    let leaf = try ca.issue(spiffeID: nil, dnsNames: ["example.com"])
    let verifier = SPIFFEPeerVerifier(trustAnchors: { ca.trustBundle }, requirement: .anyIdentity)
    do {
      _ = try await verifier.verify(presented: leaf.certificateChain)
      Issue.record("a leaf without a SPIFFE ID verified")
    } catch {
      #expect(error.code == .noIdentity)
      #expect(error.message == "the certificate has no spiffe:// URI SAN")
    }
  }

  @Test func validityIsCheckedAtTheInjectedTime() async throws {
    let ca = try TestCertificateAuthority()
    let leaf = try ca.issue(spiffeID: try SPIFFEID(parsing: "spiffe://public/ns/default/a"))
    let future = Date() + 30 * 86_400
    let verifier = SPIFFEPeerVerifier(trustAnchors: { ca.trustBundle }, requirement: .anyIdentity, now: { future })
    do {
      _ = try await verifier.verify(presented: leaf.certificateChain)
      Issue.record("an expired leaf verified")
    } catch {
      #expect(error.code == .untrusted)
    }
  }
}
