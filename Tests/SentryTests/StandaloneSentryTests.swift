import ControlPlaneKit
import ControlPlaneTestSupport
import DaprProto
import Foundation
import GRPCCore
import Logging
import Testing
import X509

@testable import Sentry
@testable import SentryCore

/// Sentry in `--mode standalone`, end to end over TLS: files instead of the API server, the insecure validator.
@Suite(.timeLimit(.minutes(2))) struct StandaloneSentryTests {
  func withStandaloneSentry(
    configuration: String? = nil,
    _ body: (_ port: Int, _ folder: URL, _ anchors: LatestValue<TrustBundle>) async throws -> Void
  ) async throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sentry-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let configPath = folder.appendingPathComponent("config.yaml").path
    if let configuration { try configuration.write(toFile: configPath, atomically: true, encoding: .utf8) }
    let port = freeLocalPort()
    let arguments = [
      "--mode", "standalone", "--issuer-credentials", folder.appendingPathComponent("credentials").path,
      "--config", configPath, "--port", "\(port)", "--listen-address", "127.0.0.1", "--trust-domain", "localhost",
    ]
    try await runStandaloneSentry(arguments: arguments, readyWhen: "standalone sentry is ready") { _ in
      let anchorsPath = folder.appendingPathComponent("credentials/ca.crt").path
      let anchors = LatestValue(try TrustBundle(contentsOfFile: anchorsPath))
      try await body(port, folder, anchors)
    }
  }

  @Test func aSidecarGetsACertificateOverTLSAndTheCredentialFilesArePrivate() async throws {
    try await withStandaloneSentry(
      configuration: """
        apiVersion: dapr.io/v1alpha1
        kind: Configuration
        metadata: {name: daprsystem}
        spec:
          mtls: {enabled: true, workloadCertTTL: 1h, allowedClockSkew: 1m}
        """
    ) { port, folder, anchors in
      let client = SVIDClient(
        request: .init(appID: "checkout", namespace: "default", trustDomain: "", validator: .insecure),
        sentryHost: "127.0.0.1", sentryPort: port,
        sentryID: try SPIFFEID(parsing: "spiffe://localhost/ns/default/dapr-sentry"), trustAnchors: anchors,
        logger: Logger(label: "svid"))
      let identity = try await client.fetch()
      #expect(try identity.spiffeID.description == "spiffe://public/ns/default/checkout")
      let lifetime = identity.leaf.notValidAfter.timeIntervalSince(identity.leaf.notValidBefore)
      #expect(lifetime == 3600 + 60)
      let renewAt = SVIDClient.renewalTime(
        notBefore: identity.leaf.notValidBefore, notAfter: identity.leaf.notValidAfter)
      #expect(renewAt == identity.leaf.notValidBefore + lifetime / 2)
      for name in ["ca.crt", "issuer.crt", "issuer.key"] {
        let attributes = try FileManager.default.attributesOfItem(
          atPath: folder.appendingPathComponent("credentials/\(name)").path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600, "\(name)")
      }
    }
  }

  @Test func aClientPinnedToAnotherSentryIDRefusesTheServer() async throws {
    try await withStandaloneSentry { port, _, anchors in
      let client = SVIDClient(
        request: .init(appID: "checkout", namespace: "default", trustDomain: "", validator: .insecure),
        sentryHost: "127.0.0.1", sentryPort: port,
        sentryID: try SPIFFEID(parsing: "spiffe://localhost/ns/default/dapr-operator"), trustAnchors: anchors,
        logger: Logger(label: "svid"))
      await #expect(throws: (any Error).self) { _ = try await client.fetch() }
    }
  }

  @Test func theKubernetesValidatorIsNotEnabledStandalone() async throws {
    try await withStandaloneSentry { port, _, anchors in
      let client = SVIDClient(
        request: .init(appID: "checkout", namespace: "default", trustDomain: "", validator: .kubernetes),
        sentryHost: "127.0.0.1", sentryPort: port,
        sentryID: try SPIFFEID(parsing: "spiffe://localhost/ns/default/dapr-sentry"), trustAnchors: anchors,
        logger: Logger(label: "svid"))
      do {
        _ = try await client.fetch()
        Issue.record("the kubernetes validator answered in standalone mode")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument)
        #expect(error.message == "the requested validator is not enabled")
      }
    }
  }
}
