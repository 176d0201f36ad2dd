import ControlPlaneKit
import Crypto
import DaprProto
import Foundation
import Sentry
import SwiftProtobuf
import X509

/// Measures sentry's signing core on one core, and writes the request body the end-to-end benchmark sends.
///
/// - `SentryBenchmark core [iterations]`: per certificate, for Ed25519 and P-256 issuers, the whole core (read and
///   verify a P-256 CSR, build, sign and PEM-encode the leaf with its chain), next to the same process's
///   cryptographic floor (one P-256 verify plus one issuer signature, through the same BoringSSL).
/// - `SentryBenchmark request-body FILE [app-id]`: one gRPC-framed `SignCertificateRequest` (P-256 CSR, namespace
///   `default`, id `bench-app` unless given) for `h2load -d FILE`.
///
/// `scripts/benchmarks/sentry.sh` runs both, `openssl speed`, and the server under h2load.
@main
struct SentryBenchmark {
  static func main() async throws {
    let arguments = Array(CommandLine.arguments.dropFirst())
    switch arguments.first {
    case "core":
      try await core(iterations: arguments.dropFirst().first.flatMap { Int($0) } ?? 2_000)
    case "request-body":
      guard let path = arguments.dropFirst().first else { usage() }
      try requestBody(id: arguments.dropFirst(2).first ?? "bench-app").write(to: URL(fileURLWithPath: path))
    default:
      usage()
    }
  }

  static func usage() -> Never {
    FileHandle.standardError.write(Data("usage: SentryBenchmark core [iterations] | request-body FILE [app-id]\n".utf8))
    exit(2)
  }

  static func csrPEM() throws -> [UInt8] {
    let key = P256.Signing.PrivateKey()
    let csr = try CertificateSigningRequest(
      version: .v1, subject: DistinguishedName(), privateKey: Certificate.PrivateKey(key),
      attributes: CertificateSigningRequest.Attributes(), signatureAlgorithm: .ecdsaWithSHA256)
    return Array(try csr.serializeAsPEM().pemString.utf8)
  }

  static func requestBody(id: String) throws -> Data {
    var request = Dapr_Proto_Sentry_V1_SignCertificateRequest()
    request.id = id
    request.namespace = "default"
    request.trustDomain = "cluster.local"
    request.certificateSigningRequest = Data(try csrPEM())
    let message: Data = try request.serializedData()
    var framed = Data([0])
    withUnsafeBytes(of: UInt32(message.count).bigEndian) { framed.append(contentsOf: $0) }
    framed.append(message)
    return framed
  }

  static func core(iterations: Int) async throws {
    let csr = try csrPEM()
    let parsedCSR = try CSRReader.read(csr)
    let id = try SPIFFEID(trustDomain: "cluster.local", namespace: "default", appID: "bench-app")
    print("sentry signing core: median of \(rounds) rounds of \(iterations) certificates, one thread")
    print("| issuer | signing core (µs/cert) | floor: P-256 verify + issuer sign (µs) | core / floor |")
    print("|---|---|---|---|")
    for algorithm in [KeyAlgorithm.ed25519, .ecdsaP256] {
      let authority = try IssuingAuthority.generate(
        trustDomain: "cluster.local", namespace: "dapr-system", keyAlgorithm: algorithm, now: Date())
      let now = Date()
      let request = WorkloadCertificateRequest(
        publicKey: parsedCSR.publicKey, spiffeID: id, dnsNames: [], now: now, ttl: 86_400, allowedClockSkew: 900)
      // Warm up, then alternate rounds of the core and of the floor (the two public-key operations the core cannot
      // avoid), and keep each one's median, so that noise from the other core hits both alike.
      for _ in 0..<(iterations / 10) { _ = try authority.issue(request) }
      let tbs = Array(repeating: UInt8(7), count: 300)
      var coreRounds: [Double] = []
      var floorRounds: [Double] = []
      for _ in 0..<rounds {
        coreRounds.append(
          try measure(iterations) {
            let read = try CSRReader.read(csr)
            var request = request
            request.publicKey = read.publicKey
            let issued = try authority.issue(request)
            precondition(!issued.chainPEM.isEmpty)
          })
        floorRounds.append(
          try measure(iterations) {
            precondition(parsedCSR.publicKey.isValidSignature(parsedCSR.signature, for: parsedCSR))
            _ = try authority.issuerKey.sign(
              bytes: tbs, signatureAlgorithm: authority.issuerKey.preferredSignatureAlgorithm)
          })
      }
      let coreTime = median(coreRounds)
      let floorTime = median(floorRounds)
      print(
        "| \(algorithm.rawValue) | \(format(coreTime)) | \(format(floorTime)) | \(String(format: "%.2f", coreTime / floorTime))x |"
      )
    }
  }

  static let rounds = 5

  static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

  /// Microseconds per call of `body`, over `iterations` calls.
  static func measure(_ iterations: Int, _ body: () throws -> Void) throws -> Double {
    let start = ContinuousClock.now
    for _ in 0..<iterations { try body() }
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return seconds / Double(iterations) * 1e6
  }

  static func format(_ microseconds: Double) -> String { String(format: "%.1f", microseconds) }
}
