import ControlPlaneKit
import Foundation
import Kubernetes
import Synchronization
import X509

@testable import Sentry
@testable import SentryCore

/// A fixed moment for certificate tests.
let referenceTime = Date(timeIntervalSince1970: 1_795_376_244)

/// A CSR for a fresh key of `algorithm`, optionally with a subject and SANs (which sentry must ignore).
func makeCSR(
  _ algorithm: KeyAlgorithm = .ed25519, sans: [String] = []
) throws -> (pem: [UInt8], key: Certificate.PrivateKey) {
  let key = algorithm.makePrivateKey()
  var attributes = CertificateSigningRequest.Attributes()
  if !sans.isEmpty {
    let extensions = try Certificate.Extensions {
      SubjectAlternativeNames(sans.map { .dnsName($0) })
    }
    attributes.insert(try CertificateSigningRequest.Attribute(ExtensionRequest(extensions: extensions)))
  }
  let subject = sans.isEmpty ? DistinguishedName() : try DistinguishedName { CommonName("ignored") }
  let csr = try CertificateSigningRequest(
    version: .v1, subject: subject, privateKey: key, attributes: attributes,
    signatureAlgorithm: key.preferredSignatureAlgorithm)
  return (Array(try csr.serializeAsPEM().pemString.utf8), key)
}

/// A token that looks like a projected service-account token for `pod` (only its claims are read).
func serviceAccountToken(pod: String) -> String {
  func encode(_ text: String) -> String {
    Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
      .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
  }
  return encode(#"{"alg":"RS256"}"#) + "." + encode(#"{"kubernetes.io":{"pod":{"name":"\#(pod)"}}}"#) + ".signature"
}

/// A token reviewer that answers from a table: token to username, or an error text.
struct FakeReviewer: TokenReviewing {
  var users: [String: String] = [:]
  var errors: [String: String] = [:]
  let requests = RequestLog()

  /// The audiences of each review asked for.
  final class RequestLog: Sendable {
    private let audiences = Mutex<[[String]]>([])
    func append(_ entry: [String]) { audiences.withLock { $0.append(entry) } }
    var all: [[String]] { audiences.withLock { $0 } }
  }

  func review(token: String, audiences: [String]) async throws(KubernetesError) -> TokenReview {
    requests.append(audiences)
    var review = TokenReview(token: token, audiences: audiences)
    var status: JSONObject = ["authenticated": .bool(users[token] != nil)]
    if let user = users[token] { status["user"] = ["username": .string(user)] }
    if let error = errors[token] { status["error"] = .string(error) }
    review.json["status"] = .object(status)
    return review
  }
}

/// Pods and Configurations held in memory.
struct FakeDirectory: ClusterDirectory {
  var isReady = true
  var pods: [String: Pod] = [:]
  var configurations: [String: DaprConfiguration] = [:]

  func pod(namespace: String, name: String) async -> Pod? { pods["\(namespace)/\(name)"] }
  func configuration(namespace: String, name: String) async -> DaprConfiguration? {
    configurations["\(namespace)/\(name)"]
  }

  mutating func add(
    pod name: String, namespace: String, serviceAccount: String = "default", annotations: [String: String] = [:]
  ) {
    var pod = Pod(name: name, namespace: namespace)
    pod.spec.serviceAccountName = serviceAccount
    if !annotations.isEmpty { pod.metadata.annotations = annotations }
    pods["\(namespace)/\(name)"] = pod
  }
}

/// A certificate authority over a freshly generated CA, with the given validators.
func makeAuthority(
  validators: [SignRequest.Validator: any IdentityValidator] = [.insecure: InsecureValidator()],
  defaultValidator: SignRequest.Validator? = .insecure, keyAlgorithm: KeyAlgorithm = .ed25519,
  settings: MTLSSettings = MTLSSettings()
) throws -> (CertificateAuthority, IssuingAuthority) {
  let issuing = try IssuingAuthority.generate(
    trustDomain: "cluster.local", namespace: "dapr-system", keyAlgorithm: keyAlgorithm, now: referenceTime)
  let authority = CertificateAuthority(
    validators: validators, defaultValidator: defaultValidator, authority: LatestValue(issuing),
    settings: LatestValue(settings), namespace: "dapr-system", now: { referenceTime })
  return (authority, issuing)
}
