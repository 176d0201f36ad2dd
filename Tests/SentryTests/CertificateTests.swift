import ControlPlaneKit
import Foundation
import SwiftASN1
import Testing
import X509

@testable import Sentry
@testable import SentryCore

/// What sentry issues, field by field.
@Suite struct CertificateTests {
  static let keyPairs: [(KeyAlgorithm, KeyAlgorithm)] = [
    (.ed25519, .ed25519), (.ed25519, .ecdsaP256), (.ed25519, .rsa2048),
    (.ecdsaP256, .ed25519), (.ecdsaP256, .ecdsaP256), (.ecdsaP256, .rsa2048),
  ]

  @Test("A workload certificate carries exactly the fields Dapr's do", arguments: keyPairs)
  func fields(issuerKey: KeyAlgorithm, csrKey: KeyAlgorithm) async throws {
    var settings = MTLSSettings()
    settings.workloadCertTTL = .hours(2)
    settings.allowedClockSkew = .minutes(10)
    let (authority, issuing) = try makeAuthority(keyAlgorithm: issuerKey, settings: settings)
    let (csr, key) = try makeCSR(csrKey, sans: ["attacker.example.com"])
    let signed = try await authority.sign(
      SignRequest(id: "checkout", trustDomain: "public", namespace: "shop", certificateSigningRequest: csr))
    let leaf = signed.leaf

    #expect(leaf.subject == DistinguishedName())
    #expect(leaf.publicKey == key.publicKey)
    #expect(leaf.issuer == issuing.issuer.subject)
    #expect(leaf.notValidBefore == referenceTime - 600)
    #expect(leaf.notValidAfter == referenceTime + 7200)
    #expect(signed.validUntil == leaf.notValidAfter)
    #expect(leaf.serialNumber.bytes.count <= 16)
    let sans = try #require(try leaf.extensions.subjectAlternativeNames)
    #expect(Array(sans) == [.uniformResourceIdentifier("spiffe://public/ns/shop/checkout")])
    #expect(try leaf.extensions.keyUsage == KeyUsage(digitalSignature: true))
    #expect(try leaf.extensions.extendedKeyUsage == ExtendedKeyUsage([.serverAuth, .clientAuth]))
    #expect(try leaf.extensions.basicConstraints == nil)
    #expect(leaf.extensions.first { $0.oid == .X509ExtensionID.subjectAlternativeName }?.critical == true)
    #expect(leaf.signatureAlgorithm == issuing.issuerKey.preferredSignatureAlgorithm)
    #expect(issuing.issuer.publicKey.isValidSignature(leaf.signature, for: leaf))

    // The response: the leaf then the issuer in field 1, every anchor in field 2.
    let chain = try PEMDocument.parseMultiple(pemString: signed.chainPEM).map { try Certificate(pemDocument: $0) }
    #expect(chain == [leaf, issuing.issuer])
    #expect(try TrustBundle(pemEncoded: signed.anchorsPEM).certificates == issuing.anchors.certificates)
  }

  @Test(
    "Control-plane services get their DNS names only in sentry's namespace",
    arguments: [
      ("dapr-injector", "dapr-system", ["dapr-sidecar-injector.dapr-system.svc"]),
      ("dapr-operator", "dapr-system", ["dapr-webhook.dapr-system.svc"]),
      (
        "dapr-scheduler", "dapr-system",
        (0..<3).map { "dapr-scheduler-server-\($0).dapr-scheduler-server.dapr-system.svc.cluster.local" }
      ),
      ("dapr-placement", "dapr-system", []),
      ("dapr-injector", "shop", []),
      ("checkout", "dapr-system", []),
    ])
  func dnsNames(id: String, namespace: String, names: [String]) {
    #expect(CertificateAuthority.dnsNames(id: id, namespace: namespace, sentryNamespace: "dapr-system") == names)
  }

  @Test("OpenSSL verifies every issued chain against the trust anchors", arguments: keyPairs)
  func opensslVerifies(issuerKey: KeyAlgorithm, csrKey: KeyAlgorithm) async throws {
    let issuing = try IssuingAuthority.generate(
      trustDomain: "cluster.local", namespace: "dapr-system", keyAlgorithm: issuerKey, now: Date())
    let authority = CertificateAuthority(
      validators: [.insecure: InsecureValidator()], defaultValidator: .insecure, authority: LatestValue(issuing),
      settings: LatestValue(MTLSSettings()), namespace: "dapr-system")
    let signed = try await authority.sign(
      SignRequest(id: "checkout", namespace: "shop", certificateSigningRequest: try makeCSR(csrKey).pem))
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("openssl-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let leafPath = folder.appendingPathComponent("leaf.crt").path
    let issuerPath = folder.appendingPathComponent("issuer.crt").path
    let caPath = folder.appendingPathComponent("ca.crt").path
    try signed.leaf.serializeAsPEM().pemString.write(toFile: leafPath, atomically: true, encoding: .utf8)
    try issuing.issuerChainPEM.write(toFile: issuerPath, atomically: true, encoding: .utf8)
    try signed.anchorsPEM.write(toFile: caPath, atomically: true, encoding: .utf8)
    let (status, output) = try run("openssl", ["verify", "-CAfile", caPath, "-untrusted", issuerPath, leafPath])
    #expect(status == 0, "\(output)")
    #expect(output.contains("leaf.crt: OK"))
  }

  @Test func generatedRootsAndIssuersAreNamedAndConstrainedAsDaprs() throws {
    for algorithm in [KeyAlgorithm.ed25519, .ecdsaP256] {
      let issuing = try IssuingAuthority.generate(
        trustDomain: "cluster.local", namespace: "dapr-system", keyAlgorithm: algorithm, now: referenceTime)
      let root = try #require(issuing.anchors.certificates.first)
      #expect(root.subject == (try DistinguishedName { OrganizationName("cluster.local") }))
      #expect(root.isSelfSigned)
      #expect(try root.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: nil))
      #expect(try root.extensions.keyUsage == KeyUsage(digitalSignature: true, keyCertSign: true))
      #expect(root.notValidAfter == referenceTime + 365 * 86_400)
      #expect(root.notValidBefore == referenceTime - 900)
      let issuer = issuing.issuer
      #expect(
        issuer.subject
          == (try DistinguishedName { OrganizationName("spiffe://cluster.local/ns/dapr-system/dapr-sentry") }))
      #expect(try issuer.extensions.keyUsage == KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
      #expect(root.publicKey.isValidSignature(issuer.signature, for: issuer))
    }
  }
}

/// Runs a command and returns its status and output.
func run(_ command: String, _ arguments: [String]) throws -> (Int32, String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = [command] + arguments
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardError = pipe
  try process.run()
  let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  process.waitUntilExit()
  return (process.terminationStatus, output)
}
