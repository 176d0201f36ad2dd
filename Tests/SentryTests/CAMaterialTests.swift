import ControlPlaneKit
import ControlPlaneTestSupport
import Foundation
import Testing
import X509

@testable import Sentry
@testable import SentryCore

/// Bring-your-own bundles are verified as Dapr verifies them, and refused with the part that is wrong.
@Suite struct CAMaterialTests {
  @Test func aGeneratedCARoundTripsThroughItsStoredForm() async throws {
    let generated = try IssuingAuthority.generate(
      trustDomain: "cluster.local", namespace: "dapr-system", keyAlgorithm: .ed25519, now: Date())
    let loaded = try await IssuingAuthority(material: try generated.material, now: Date())
    #expect(loaded.issuer == generated.issuer)
    #expect(loaded.anchors == generated.anchors)
    #expect(loaded.issuerKey.publicKey == generated.issuerKey.publicKey)
    #expect(try generated.material.issuerKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
  }

  @Test func aBundleWithSeveralAnchorsAnIntermediateCommentsAndATrailingRootLoads() async throws {
    let old = try IssuingAuthority.generate(trustDomain: "td", namespace: "ns", keyAlgorithm: .ecdsaP256, now: Date())
    let new = try IssuingAuthority.generate(trustDomain: "td", namespace: "ns", keyAlgorithm: .ed25519, now: Date())
    // An issuer under new's issuer: new's issuer becomes an intermediate.
    let subIssuerKey = KeyAlgorithm.ecdsaP256.makePrivateKey()
    let subIssuer = try Certificate(
      version: .v3, serialNumber: .init(), publicKey: subIssuerKey.publicKey, notValidBefore: Date() - 60,
      notValidAfter: Date() + 86_400, issuer: new.issuer.subject,
      subject: try DistinguishedName { OrganizationName("sub-issuer") },
      signatureAlgorithm: new.issuerKey.preferredSignatureAlgorithm,
      extensions: try Certificate.Extensions {
        Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
        Critical(KeyUsage(keyCertSign: true))
      }, issuerPrivateKey: new.issuerKey)
    let anchors = "# old root\n" + old.anchorsPEM + "# new root\n" + new.anchorsPEM
    let chain =
      try subIssuer.serializeAsPEM().pemString + "\n" + new.issuerChainPEM + new.anchorsPEM
    let loaded = try await IssuingAuthority(
      material: CAMaterial(
        trustAnchorsPEM: anchors, issuerCertificatePEM: chain,
        issuerKeyPEM: try subIssuerKey.serializeAsPEM().pemString), now: Date())
    #expect(loaded.anchors.certificates.count == 2)
    #expect(loaded.issuerChain == [subIssuer, new.issuer])
  }

  struct Broken: Sendable, CustomTestStringConvertible {
    var name: String
    var material: @Sendable () throws -> CAMaterial
    var part: CAMaterialError.Part
    var message: String
    var testDescription: String { name }
  }

  static let broken: [Broken] = [
    Broken(
      name: "an anchor that is not self-signed",
      material: {
        let ca = try IssuingAuthority.generate(
          trustDomain: "td", namespace: "ns", keyAlgorithm: .ecdsaP256, now: Date())
        var material = try ca.material
        material.trustAnchorsPEM = ca.issuerChainPEM
        return material
      }, part: .trustAnchors, message: "failed to verify CA bundle: certificate 1 in trust anchor is not self-signed"),
    Broken(
      name: "a key that does not match the issuer",
      material: {
        let ca = try IssuingAuthority.generate(
          trustDomain: "td", namespace: "ns", keyAlgorithm: .ecdsaP256, now: Date())
        var material = try ca.material
        material.issuerKeyPEM = try KeyAlgorithm.ecdsaP256.makePrivateKey().serializeAsPEM().pemString
        return material
      }, part: .issuerKey, message: "failed to verify CA bundle: issuer key does not match issuer certificate"),
    Broken(
      name: "an issuer signed by another root",
      material: {
        let ca = try IssuingAuthority.generate(
          trustDomain: "td", namespace: "ns", keyAlgorithm: .ecdsaP256, now: Date())
        let other = try IssuingAuthority.generate(
          trustDomain: "td", namespace: "ns", keyAlgorithm: .ecdsaP256, now: Date())
        var material = try ca.material
        material.trustAnchorsPEM = other.anchorsPEM
        return material
      }, part: .issuerCertificate,
      message: "failed to verify CA bundle: issuer chain does not belong to trust anchors (or has expired)"),
    Broken(
      name: "a self-signed certificate as the issuer",
      material: {
        let ca = try IssuingAuthority.generate(
          trustDomain: "td", namespace: "ns", keyAlgorithm: .ecdsaP256, now: Date())
        var material = try ca.material
        material.issuerCertificatePEM = ca.anchorsPEM
        return material
      }, part: .issuerCertificate,
      message:
        "failed to verify CA bundle: issuer chain is empty after re-encoding: the issuer certificate is self-signed"),
    Broken(
      name: "an issuer that may not sign certificates",
      material: {
        let ca = try TestCertificateAuthority()
        let leaf = try ca.issue(spiffeID: nil, dnsNames: ["x"])
        return CAMaterial(
          trustAnchorsPEM: try ca.trustBundle.pemEncoded(),
          issuerCertificatePEM: try leaf.leaf.serializeAsPEM().pemString,
          issuerKeyPEM: try leaf.privateKey.serializeAsPEM().pemString)
      }, part: .issuerCertificate,
      message: "failed to verify CA bundle: intermediate certificate is not valid for signing"),
    Broken(
      name: "anchors that are not PEM",
      material: { CAMaterial(trustAnchorsPEM: "garbage", issuerCertificatePEM: "", issuerKeyPEM: "") },
      part: .trustAnchors, message: "failed to verify CA bundle: failed to decode trust anchors:"),
  ]

  @Test("A broken bundle is refused with the part that is wrong", arguments: broken)
  func brokenBundles(_ testCase: Broken) async throws {
    do {
      _ = try await IssuingAuthority(material: try testCase.material(), now: Date())
      Issue.record("\(testCase.name) loaded")
    } catch let error as CAMaterialError {
      #expect(error.part == testCase.part, "\(testCase.name): \(error.message)")
      #expect(error.message.hasPrefix(testCase.message), "\(testCase.name): \(error.message)")
    }
  }
}

/// What sentry does with what its store holds.
@Suite struct CAStoreDecisionTests {
  struct NamedStore: CAStore {
    func describe(_ entry: CAStoreEntry) -> String {
      "Secret dapr-system/dapr-trust-bundle key \(entry.defaultName)"
    }
    var publishedAnchorsDescription: String { "ConfigMap dapr-system/dapr-trust-bundle key ca.crt" }
    func read() async throws(CAStoreError) -> StoredCA { StoredCA(publishesAnchors: true) }
    func apply(_ update: CAStoreUpdate, over previous: StoredCA) async throws(CAStoreError) {}
    func changes() -> AsyncStream<Void> { AsyncStream { $0.finish() } }
  }

  static func pem() throws -> CAMaterial {
    try IssuingAuthority.generate(trustDomain: "td", namespace: "ns", keyAlgorithm: .ed25519, now: Date()).material
  }

  @Test func nothingStoredMeansGenerate() {
    #expect(CAStoreDecision.decide(StoredCA(publishesAnchors: true), store: NamedStore()) == .generate)
    #expect(
      CAStoreDecision.decide(StoredCA(trustAnchors: "  \n", publishesAnchors: true), store: NamedStore()) == .generate)
  }

  @Test func completeCredentialsWithMatchingPublishedAnchorsAreUsed() throws {
    let material = try Self.pem()
    // Formatting differences do not count.
    let stored = StoredCA(
      trustAnchors: material.trustAnchorsPEM, issuerCertificate: material.issuerCertificatePEM,
      issuerKey: material.issuerKeyPEM, publishedAnchors: "# published\n" + material.trustAnchorsPEM + "\n\n",
      publishesAnchors: true)
    #expect(CAStoreDecision.decide(stored, store: NamedStore()) == .use(material))
  }

  @Test func completeCredentialsNotYetPublishedArePublished() throws {
    let material = try Self.pem()
    let stored = StoredCA(
      trustAnchors: material.trustAnchorsPEM, issuerCertificate: material.issuerCertificatePEM,
      issuerKey: material.issuerKeyPEM, publishesAnchors: true)
    #expect(CAStoreDecision.decide(stored, store: NamedStore()) == .publishThenUse(material))
  }

  @Test func partialCredentialsAreRefusedNamingWhatIsMissing() throws {
    let material = try Self.pem()
    let stored = StoredCA(
      trustAnchors: material.trustAnchorsPEM, issuerCertificate: material.issuerCertificatePEM, publishesAnchors: true)
    guard case .refuse(let reason) = CAStoreDecision.decide(stored, store: NamedStore()) else {
      Issue.record("partial credentials were not refused")
      return
    }
    #expect(reason.contains("Secret dapr-system/dapr-trust-bundle key issuer.key is not"))
    #expect(reason.contains("will not overwrite partial credentials"))
  }

  @Test func anchorsThatDifferFromThePublishedOnesAreRefusedRatherThanRegenerated() throws {
    let material = try Self.pem()
    let other = try Self.pem()
    let stored = StoredCA(
      trustAnchors: material.trustAnchorsPEM, issuerCertificate: material.issuerCertificatePEM,
      issuerKey: material.issuerKeyPEM, publishedAnchors: other.trustAnchorsPEM, publishesAnchors: true)
    guard case .refuse(let reason) = CAStoreDecision.decide(stored, store: NamedStore()) else {
      Issue.record("a mismatch was not refused")
      return
    }
    #expect(
      reason.hasPrefix(
        "ConfigMap dapr-system/dapr-trust-bundle key ca.crt differs from Secret dapr-system/dapr-trust-bundle key ca.crt"
      ))
    #expect(reason.contains("copy the Secret's ca.crt into the ConfigMap"))
  }

  @Test func publishedAnchorsWithoutCredentialsAreNotGeneratedOver() throws {
    let stored = StoredCA(publishedAnchors: try Self.pem().trustAnchorsPEM, publishesAnchors: true)
    guard case .refuse(let reason) = CAStoreDecision.decide(stored, store: NamedStore()) else {
      Issue.record("published anchors without credentials were not refused")
      return
    }
    #expect(reason.contains("holds trust anchors"))
  }
}
