import ControlPlaneKit
import ControlPlaneTestSupport
import Foundation
import Logging
import Testing
import X509

@Suite(.timeLimit(.minutes(1))) struct TrustBundleTests {
  @Test func aBundleWithSeveralAnchorsAndCommentsLoadsEveryAnchor() throws {
    let first = try TestCertificateAuthority(trustDomain: "old.example")
    let second = try TestCertificateAuthority(trustDomain: "new.example", keyType: .ed25519)
    let pem =
      "# the old root\n" + (try first.trustBundle.pemEncoded()) + "\n# the new root\n"
      + (try second.trustBundle.pemEncoded())
    let bundle = try TrustBundle(pemEncoded: pem)
    #expect(bundle.certificates == [first.certificate, second.certificate])
  }

  @Test(
    "Broken bundles are refused with the specific problem",
    arguments: [
      ("no PEM at all", "hello", TrustBundleError.Code.empty),
      ("a private key block", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", .unexpectedBlock),
      (
        "a certificate that does not parse", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        .invalidCertificate
      ),
      ("an unterminated block", "-----BEGIN CERTIFICATE-----\nAAAA\n", .invalidPEM),
    ])
  func brokenBundles(name: String, pem: String, code: TrustBundleError.Code) {
    do {
      _ = try TrustBundle(pemEncoded: pem)
      Issue.record("\(name) was accepted")
    } catch {
      #expect(error.code == code, "\(name): \(error.message)")
    }
  }

  @Test func aMissingFileNamesThePath() {
    do {
      _ = try TrustBundle(contentsOfFile: "/nonexistent/ca.crt")
      Issue.record("a missing file was accepted")
    } catch {
      #expect(error.code == .unreadable)
      #expect(error.message.contains("/nonexistent/ca.crt"))
    }
  }

  @Test func aRewrittenBundleFileIsPickedUpWithoutARestart() async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bundle-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("ca.crt").path
    let old = try TestCertificateAuthority(trustDomain: "old.example")
    let new = try TestCertificateAuthority(trustDomain: "new.example")
    try old.trustBundle.pemEncoded().write(toFile: path, atomically: true, encoding: .utf8)

    let watcher = try TrustBundleWatcher(path: path, pollInterval: .milliseconds(20), logger: Logger(label: "test"))
    #expect(watcher.bundle.current.certificates == [old.certificate])
    let updates = watcher.bundle.updates()

    try await withRunningServices([watcher]) {
      // A broken write in between keeps the last good bundle and is not published.
      try "-----BEGIN CERTIFICATE-----\ngarbage\n".write(toFile: path, atomically: true, encoding: .utf8)
      let rotated = try old.trustBundle.pemEncoded() + (try new.trustBundle.pemEncoded())
      try rotated.write(toFile: path, atomically: true, encoding: .utf8)
      var iterator = updates.makeAsyncIterator()
      let published = try #require(await iterator.next())
      #expect(published.certificates == [old.certificate, new.certificate])
      #expect(watcher.bundle.current == published)
    }
  }
}

@Suite struct FastPEMTests {
  @Test(arguments: KeyAlgorithm.allCases)
  func theFastEncodingIsExactlySwiftASN1sText(keyType: KeyAlgorithm) throws {
    let authority = try TestCertificateAuthority(trustDomain: "pem.example", keyType: keyType)
    let expected = try authority.certificate.serializeAsPEM().pemString + "\n"
    #expect(try authority.certificate.pemEncodedWithNewline() == expected)
    #expect(try TrustBundle(pemEncoded: authority.certificate.pemEncodedWithNewline()).certificates.count == 1)
  }
}
