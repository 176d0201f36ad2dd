import ControlPlaneKit
import ControlPlaneTestSupport
import Foundation
import Logging
import Synchronization
import Testing
@_spi(FixedExpiryValidationTime) import X509

@testable import Sentry
@testable import SentryCore

/// A clock the test moves.
final class TestClock: Sendable {
  private let current: Mutex<Date>
  init(_ start: Date) { current = Mutex(start) }
  var now: Date { current.withLock { $0 } }
  func set(_ date: Date) { current.withLock { $0 = date } }
  var function: @Sendable () -> Date { { [self] in now } }
}

/// No certificate outlives its issuer (Dapr signs past it, dapr#8557), and an expired issuer stops signing loudly.
@Suite struct IssuerExpiryTests {
  static func authority(
    expiringIn validity: TimeInterval, clock: TestClock
  ) throws -> (
    CertificateAuthority, IssuingAuthority
  ) {
    let issuing = try IssuingAuthority.generate(
      trustDomain: "cluster.local", namespace: "dapr-system", keyAlgorithm: .ed25519, now: clock.now,
      validity: validity, allowedClockSkew: 0)
    let authority = CertificateAuthority(
      validators: [.insecure: InsecureValidator()], defaultValidator: .insecure, authority: LatestValue(issuing),
      settings: LatestValue(MTLSSettings()), namespace: "dapr-system", now: clock.function)
    return (authority, issuing)
  }

  @Test func aLeafRequestedTenMinutesBeforeTheIssuerExpiresExpiresWithTheIssuer() async throws {
    let clock = TestClock(referenceTime)
    let (authority, issuing) = try Self.authority(expiringIn: 30 * 86_400, clock: clock)
    clock.set(issuing.issuer.notValidAfter - 600)
    let signed = try await authority.sign(
      SignRequest(id: "checkout", namespace: "shop", certificateSigningRequest: try makeCSR().pem))
    // The workload TTL is 24 h; the issuer has 10 minutes left.
    #expect(signed.leaf.notValidAfter == issuing.issuer.notValidAfter)
    #expect(signed.validUntil == issuing.issuer.notValidAfter)
    // A day earlier the TTL applies in full.
    clock.set(issuing.issuer.notValidAfter - 3 * 86_400)
    let early = try await authority.sign(
      SignRequest(id: "checkout", namespace: "shop", certificateSigningRequest: try makeCSR().pem))
    #expect(early.leaf.notValidAfter == clock.now + 86_400)
  }

  @Test func afterTheIssuerExpiresSigningFailsNamingTheExpiryAndHealthzIsUnready() async throws {
    let clock = TestClock(referenceTime)
    let (authority, issuing) = try Self.authority(expiringIn: 86_400, clock: clock)
    let readiness = ReadinessTargets([])
    let monitor = ExpiryMonitor(
      authority: authority.authority, metrics: SentryMetrics(registry: MetricsRegistry(includeProcessMetrics: false)),
      logger: Logger(label: "expiry"), readiness: readiness, now: clock.function)
    monitor.check(at: clock.now)
    #expect(readiness.isReady)
    clock.set(issuing.issuer.notValidAfter + 1)
    await #expect {
      _ = try await authority.sign(
        SignRequest(id: "checkout", namespace: "shop", certificateSigningRequest: try makeCSR().pem))
    } throws: { error in
      guard let failure = error as? SignFailure else { return false }
      return failure.code == .internal
        && failure.message.hasPrefix(
          "failed to sign certificate: the issuer certificate expired at "
            + ISO8601DateFormatter().string(from: issuing.issuer.notValidAfter))
    }
    monitor.check(at: clock.now)
    #expect(readiness.notReady == [ExpiryMonitor.issuerTarget])
  }

  @Test func aRunningSentryTurnsUnreadyTheMomentItsIssuerExpiresAndRefusesToSign() async throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sentry-expiry-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    // A bundle whose issuer expires 12 seconds from now (time enough for sentry to start on a loaded machine).
    let issuing = try IssuingAuthority.generate(
      trustDomain: "localhost", namespace: "default", keyAlgorithm: .ed25519, now: Date(), validity: 12,
      allowedClockSkew: 0)
    let store = FileCAStore(directory: folder.appendingPathComponent("credentials").path, fileNames: [:])
    try await store.write(try issuing.material, over: StoredCA(publishesAnchors: false))
    let port = freeLocalPort()
    let arguments = [
      "--mode", "standalone", "--issuer-credentials", folder.appendingPathComponent("credentials").path,
      "--config", folder.appendingPathComponent("absent.yaml").path, "--port", "\(port)", "--listen-address",
      "127.0.0.1", "--trust-domain", "localhost",
    ]
    try await runStandaloneSentry(arguments: arguments) { readiness in
      let client = SVIDClient(
        request: .init(appID: "checkout", namespace: "default", trustDomain: "", validator: .insecure),
        sentryHost: "127.0.0.1", sentryPort: port,
        sentryID: try SPIFFEID(parsing: "spiffe://localhost/ns/default/dapr-sentry"),
        trustAnchors: LatestValue(issuing.anchors), logger: Logger(label: "svid"))
      let leaf = try await client.fetch().leaf
      #expect(leaf.notValidAfter == issuing.issuer.notValidAfter)
      try await eventually("healthz names the expired issuer") {
        readiness.notReady.contains(ExpiryMonitor.issuerTarget)
      }
      #expect(readiness.notReady == [ExpiryMonitor.issuerTarget])
      // Sentry's own serving certificate ended with the issuer too, so the client cannot even connect; the in-process
      // refusal and its message are checked above.
      await #expect(throws: (any Error).self) { _ = try await client.fetch() }
    }
  }
}

@Suite struct IssuerRenewalTests {
  @Test func aRenewedIssuerHasTheOldNameAndKeyTypeAndItsLeavesVerifyAgainstTheUnchangedRoot() async throws {
    let (authority, rootKey) = try IssuingAuthority.generateWithRootKey(
      trustDomain: "cluster.local", namespace: "dapr-system", keyAlgorithm: .ed25519, now: referenceTime,
      rootValidity: 10 * 365 * 86_400, issuerValidity: 30 * 86_400, allowedClockSkew: 900)
    let later = referenceTime + 20 * 86_400
    let renewed = try authority.renewedIssuer(
      rootKey: rootKey, now: later, validity: 30 * 86_400, allowedClockSkew: 900)
    #expect(renewed.anchors == authority.anchors)
    #expect(renewed.issuer.subject == authority.issuer.subject)
    #expect(renewed.issuer.notValidAfter == later + 30 * 86_400)
    #expect(renewed.issuer.publicKey != authority.issuer.publicKey)
    let root = try #require(authority.anchors.certificates.first)
    for issuing in [authority, renewed] {
      let issued = try issuing.issue(
        WorkloadCertificateRequest(
          publicKey: try makeCSR().key.publicKey, spiffeID: try SPIFFEID(parsing: "spiffe://public/ns/shop/a"),
          now: later, ttl: 3600, allowedClockSkew: 900))
      var verifier = Verifier(rootCertificates: CertificateStore([root])) {
        RFC5280Policy(fixedExpiryValidationTime: later)
        AcceptsSubjectAlternativeNames()
      }
      let result = await verifier.validate(leaf: issued.leaf, intermediates: CertificateStore(issuing.issuerChain))
      guard case .validCertificate = result else {
        Issue.record("\(issuing.issuer == authority.issuer ? "original" : "renewed"): \(result)")
        return
      }
    }
    // Near the root's end the new issuer stops at the root.
    let nearEnd = root.notValidAfter - 86_400
    let last = try authority.renewedIssuer(rootKey: rootKey, now: nearEnd, validity: 30 * 86_400, allowedClockSkew: 0)
    #expect(last.issuer.notValidAfter == root.notValidAfter)
    // A key that is not the root's renews nothing.
    #expect(throws: IssuerRenewalError.self) {
      _ = try authority.renewedIssuer(
        rootKey: KeyAlgorithm.ed25519.makePrivateKey(), now: later, validity: 86_400, allowedClockSkew: 0)
    }
  }
}
