import ControlPlaneKit
import ControlPlaneTestSupport
import DaprProto
import Foundation
import GRPCCore
import Kubernetes
import Logging
import SwiftASN1
import Testing
import X509

@testable import Sentry
@testable import SentryCore

/// Every refusal of SignCertificate, in Dapr's order, with Dapr's code and message, counted, and nothing signed.
@Suite struct SignCheckTests {
  static let sentryID = try! SPIFFEID(parsing: "spiffe://cluster.local/ns/dapr-system/dapr-sentry")

  /// A kubernetes validator over a small cluster: pod `web` (app id `checkout`) under service account `web-sa` in
  /// `shop`, pod `plain` without annotations, and control-plane pods.
  static func kubernetesValidator(ready: Bool = true) -> KubernetesValidator {
    var directory = FakeDirectory()
    directory.isReady = ready
    directory.add(pod: "web", namespace: "shop", serviceAccount: "web-sa", annotations: ["dapr.io/app-id": "checkout"])
    directory.add(pod: "plain", namespace: "shop", serviceAccount: "default")
    directory.add(pod: "rogue", namespace: "shop", annotations: ["dapr.io/control-plane": "operator"])
    directory.add(pod: "weird", namespace: "dapr-system", annotations: ["dapr.io/control-plane": "database"])
    directory.add(
      pod: "both", namespace: "dapr-system", annotations: ["dapr.io/control-plane": "operator", "dapr.io/app-id": "x"])
    var reviewer = FakeReviewer()
    reviewer.users = [
      serviceAccountToken(pod: "web"): "system:serviceaccount:shop:web-sa",
      serviceAccountToken(pod: "plain"): "system:serviceaccount:shop:default",
      serviceAccountToken(pod: "rogue"): "system:serviceaccount:shop:default",
      serviceAccountToken(pod: "weird"): "system:serviceaccount:dapr-system:default",
      serviceAccountToken(pod: "both"): "system:serviceaccount:dapr-system:default",
      serviceAccountToken(pod: "gone"): "system:serviceaccount:shop:default",
      "user-token": "kubernetes-admin",
      "no-pod-claim": "system:serviceaccount:shop:default",
      tokenWithoutPodClaim: "system:serviceaccount:shop:default",
    ]
    reviewer.errors = [
      "expired": "[invalid bearer token, Token has expired.]",
      "wrong-audience": "[invalid bearer token, token audiences [\"api\"] is invalid for the target audiences]",
    ]
    return KubernetesValidator(reviewer: reviewer, directory: directory, sentryID: sentryID, now: { referenceTime })
  }

  struct Case: Sendable, CustomTestStringConvertible {
    var name: String
    var request: @Sendable () throws -> SignRequest
    var kubernetes = false
    var validatorReady = true
    var defaultValidator: SignRequest.Validator? = .insecure
    var code: SignFailure.Code
    var message: String
    var testDescription: String { name }
  }

  static func valid(
    id: String = "checkout", namespace: String = "shop", token: String = "", validator: SignRequest.Validator? = nil
  ) throws -> SignRequest {
    SignRequest(
      id: id, token: token, namespace: namespace, certificateSigningRequest: try makeCSR().pem, validator: validator)
  }

  static let cases: [Case] = [
    Case(
      name: "no validator named where there is no default", request: { try valid() }, defaultValidator: nil,
      code: .invalidArgument, message: "a validator name must be specified in this environment"),
    Case(
      name: "a validator that is not enabled", request: { try valid(validator: .kubernetes) },
      code: .invalidArgument, message: "the requested validator is not enabled"),
    Case(
      name: "an empty CSR",
      request: { SignRequest(id: "checkout", namespace: "shop", certificateSigningRequest: []) },
      code: .permissionDenied, message: "invalid request: CSR is required"),
    Case(
      name: "a missing namespace", request: { try valid(namespace: "") },
      code: .permissionDenied, message: "invalid request: namespace is required"),
    Case(
      name: "an empty app id", request: { try valid(id: "") },
      code: .permissionDenied, message: "invalid request: parameter app-id cannot be empty"),
    Case(
      name: "a dotted app id", request: { try valid(id: "my.app") },
      code: .permissionDenied, message: "invalid request: parameter app-id cannot contain dots"),
    Case(
      name: "a 65-character app id", request: { try valid(id: String(repeating: "a", count: 65)) },
      code: .permissionDenied, message: "invalid request: app ID must be 64 characters or less"),
    Case(
      name: "several problems at once",
      request: { SignRequest(id: "a.b", namespace: "", certificateSigningRequest: []) },
      code: .permissionDenied,
      message: "invalid request: parameter app-id cannot contain dots\nCSR is required\nnamespace is required"),
    Case(
      name: "an invalid trust domain",
      request: {
        SignRequest(
          id: "checkout", trustDomain: "Bad Domain", namespace: "shop", certificateSigningRequest: try makeCSR().pem)
      },
      code: .permissionDenied,
      message: "trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores"),
    Case(
      name: "garbage instead of a CSR",
      request: { SignRequest(id: "checkout", namespace: "shop", certificateSigningRequest: Array("not pem".utf8)) },
      code: .invalidArgument, message: "invalid certificate signing request"),
    Case(
      name: "a PEM block of the wrong type",
      request: {
        let key = try KeyAlgorithm.ecdsaP256.makePrivateKey().serializeAsPEM().pemString
        return SignRequest(id: "checkout", namespace: "shop", certificateSigningRequest: Array(key.utf8))
      },
      code: .invalidArgument, message: "invalid certificate signing request"),
    Case(
      name: "a CSR block that is not DER",
      request: {
        let pem = "-----BEGIN CERTIFICATE REQUEST-----\nAAECAwQF\n-----END CERTIFICATE REQUEST-----\n"
        return SignRequest(id: "checkout", namespace: "shop", certificateSigningRequest: Array(pem.utf8))
      },
      code: .invalidArgument, message: "failed to parse certificate signing request:"),
    Case(
      name: "a CSR whose signature does not match its key",
      request: {
        SignRequest(id: "checkout", namespace: "shop", certificateSigningRequest: try tamperedCSR())
      },
      code: .invalidArgument, message: "invalid signature"),
    // The kubernetes validator.
    Case(
      name: "a kubernetes validator whose caches have not synced", request: { try valid(token: "x") }, kubernetes: true,
      validatorReady: false, code: .permissionDenied, message: "validator not ready"),
    Case(
      name: "a token for another audience", request: { try valid(token: "wrong-audience") }, kubernetes: true,
      code: .permissionDenied,
      message: "invalid token: [invalid bearer token, token audiences [\"api\"] is invalid for the target audiences]"),
    Case(
      name: "an expired token", request: { try valid(token: "expired") }, kubernetes: true,
      code: .permissionDenied, message: "invalid token: [invalid bearer token, Token has expired.]"),
    Case(
      name: "a token nobody recognises", request: { try valid(token: "nonsense") }, kubernetes: true,
      code: .permissionDenied, message: "authentication failed"),
    Case(
      name: "a token that is not a service account's", request: { try valid(token: "user-token") }, kubernetes: true,
      code: .permissionDenied, message: "provided token is not a properly structured service account token"),
    Case(
      name: "a service-account token without a pod", request: { try valid(token: "no-pod-claim") }, kubernetes: true,
      code: .permissionDenied, message: "failed to parse Kubernetes token: the token is not a JWT"),
    Case(
      name: "a service-account token whose claims name no pod", request: { try valid(token: tokenWithoutPodClaim) },
      kubernetes: true, code: .permissionDenied,
      message: "kubernetes.io/pod/name claim is missing from Kubernetes token"),
    Case(
      name: "the pod is gone", request: { try valid(token: serviceAccountToken(pod: "gone")) }, kubernetes: true,
      code: .permissionDenied, message: "failed to get pod of identity"),
    Case(
      name: "the namespace asked for is not the token's",
      request: { try valid(namespace: "elsewhere", token: serviceAccountToken(pod: "web")) }, kubernetes: true,
      code: .permissionDenied, message: "namespace mismatch; received namespace: elsewhere"),
    Case(
      name: "the app id asked for is not the pod's",
      request: { try valid(id: "payments", token: serviceAccountToken(pod: "web")) },
      kubernetes: true, code: .permissionDenied, message: "app-id mismatch. expected: checkout, received: payments"),
    Case(
      name: "a pod without an app id is known by its name",
      request: { try valid(id: "checkout", token: serviceAccountToken(pod: "plain")) }, kubernetes: true,
      code: .permissionDenied, message: "app-id mismatch. expected: plain, received: checkout"),
    Case(
      name: "a control-plane annotation outside sentry's namespace",
      request: { try valid(id: "dapr-operator", token: serviceAccountToken(pod: "rogue")) }, kubernetes: true,
      code: .permissionDenied, message: "control plane service in namespace 'shop' is not allowed"),
    Case(
      name: "an unknown control-plane service",
      request: { try valid(id: "dapr-database", namespace: "dapr-system", token: serviceAccountToken(pod: "weird")) },
      kubernetes: true, code: .permissionDenied, message: "unknown control plane service 'weird'"),
    Case(
      name: "a control-plane pod that also has an app id",
      request: { try valid(id: "dapr-operator", namespace: "dapr-system", token: serviceAccountToken(pod: "both")) },
      kubernetes: true, code: .permissionDenied,
      message: "control plane service 'both' cannot have annotation 'dapr.io/app-id'"),
  ]

  @Test("Each bad request is refused with Dapr's code and message", arguments: cases)
  func refusal(_ testCase: Case) async throws {
    let validators: [SignRequest.Validator: any IdentityValidator] =
      testCase.kubernetes
      ? [.kubernetes: Self.kubernetesValidator(ready: testCase.validatorReady)] : [.insecure: InsecureValidator()]
    let (authority, _) = try makeAuthority(
      validators: validators, defaultValidator: testCase.kubernetes ? .kubernetes : testCase.defaultValidator)
    let registry = MetricsRegistry(includeProcessMetrics: false)
    let metrics = SentryMetrics(registry: registry)
    let service = CAService(authority: authority, metrics: metrics, logger: Logger(label: "test"))
    var message = Dapr_Proto_Sentry_V1_SignCertificateRequestFixture.make(try testCase.request())

    do {
      _ = try await service.signCertificate(request: message, context: .testing)
      Issue.record("\(testCase.name) was signed")
    } catch let error as RPCError {
      #expect(error.code == testCase.code.rpcCode, "\(testCase.name)")
      if testCase.message.hasSuffix(":") {
        #expect(error.message.hasPrefix(testCase.message), "\(testCase.name): \(error.message)")
      } else {
        #expect(error.message == testCase.message, "\(testCase.name): \(error.message)")
      }
    }
    message.id = ""
    let page = String(decoding: registry.exposition(), as: UTF8.self)
    #expect(page.contains("dapr_sentry_cert_sign_request_received_total 1"))
    #expect(page.contains(#"dapr_sentry_cert_sign_failure_total{reason="sign"} 1"#))
    #expect(page.contains("dapr_sentry_cert_sign_success_total 0"))
  }

  @Test func aValidKubernetesRequestIsSignedForThePodsIdentity() async throws {
    let (authority, _) = try makeAuthority(
      validators: [.kubernetes: Self.kubernetesValidator()], defaultValidator: .kubernetes)
    let signed = try await authority.sign(try Self.valid(token: serviceAccountToken(pod: "web")))
    #expect(try PeerIdentity.spiffeID(of: signed.leaf).description == "spiffe://public/ns/shop/checkout")
  }

  @Test func aControlPlanePodGetsTheControlPlaneTrustDomainAndItsServiceName() async throws {
    var directory = FakeDirectory()
    directory.add(pod: "dapr-operator-1", namespace: "dapr-system", annotations: ["dapr.io/control-plane": "operator"])
    var reviewer = FakeReviewer()
    reviewer.users = [serviceAccountToken(pod: "dapr-operator-1"): "system:serviceaccount:dapr-system:default"]
    let validator = KubernetesValidator(reviewer: reviewer, directory: directory, sentryID: Self.sentryID)
    let (authority, _) = try makeAuthority(validators: [.kubernetes: validator], defaultValidator: .kubernetes)
    let signed = try await authority.sign(
      try Self.valid(id: "dapr-operator", namespace: "dapr-system", token: serviceAccountToken(pod: "dapr-operator-1")))
    #expect(
      try PeerIdentity.spiffeID(of: signed.leaf).description == "spiffe://cluster.local/ns/dapr-system/dapr-operator")
    let names = try signed.leaf.extensions.subjectAlternativeNames.map(Array.init) ?? []
    #expect(names.contains(.dnsName("dapr-webhook.dapr-system.svc")))
  }

  @Test func theTrustDomainComesFromThePodsConfiguration() async throws {
    var directory = FakeDirectory()
    directory.add(pod: "web", namespace: "shop", annotations: ["dapr.io/config": "appconfig"])
    directory.add(pod: "lost", namespace: "shop", annotations: ["dapr.io/config": "missing"])
    var configuration = DaprConfiguration(name: "appconfig", namespace: "shop")
    configuration.json["spec"] = ["accessControl": ["trustDomain": "shop.example"]]
    directory.configurations["shop/appconfig"] = configuration
    var reviewer = FakeReviewer()
    reviewer.users = [
      serviceAccountToken(pod: "web"): "system:serviceaccount:shop:default",
      serviceAccountToken(pod: "lost"): "system:serviceaccount:shop:default",
    ]
    let validator = KubernetesValidator(reviewer: reviewer, directory: directory, sentryID: Self.sentryID)
    let (authority, _) = try makeAuthority(validators: [.kubernetes: validator], defaultValidator: .kubernetes)
    let signed = try await authority.sign(try Self.valid(id: "web", token: serviceAccountToken(pod: "web")))
    #expect(try PeerIdentity.spiffeID(of: signed.leaf).trustDomain == "shop.example")
    await #expect(throws: SignFailure(.permissionDenied, "failed to get configuration")) {
      _ = try await authority.sign(try Self.valid(id: "lost", token: serviceAccountToken(pod: "lost")))
    }
    // The trust domain in the request is not what decides.
    var asking = try Self.valid(id: "web", token: serviceAccountToken(pod: "web"))
    asking.trustDomain = "evil.example"
    #expect(try PeerIdentity.spiffeID(of: try await authority.sign(asking).leaf).trustDomain == "shop.example")
  }

  @Test func aReviewedTokenIsRememberedSoABurstCostsOneReview() async throws {
    var directory = FakeDirectory()
    directory.add(pod: "web", namespace: "shop")
    let reviewer = FakeReviewer(users: [serviceAccountToken(pod: "web"): "system:serviceaccount:shop:default"])
    let validator = KubernetesValidator(reviewer: reviewer, directory: directory, sentryID: Self.sentryID)
    for _ in 0..<20 {
      _ = try await validator.validate(try Self.valid(id: "web", token: serviceAccountToken(pod: "web")))
    }
    let reviews = reviewer.requests.all
    #expect(reviews.count == 1)
    #expect(reviews.first == ["dapr.io/sentry", "spiffe://cluster.local/ns/dapr-system/dapr-sentry"])
  }
}

/// A JWT whose claims have no `kubernetes.io.pod.name`.
let tokenWithoutPodClaim = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"

/// A valid CSR whose signature bytes were flipped.
func tamperedCSR() throws -> [UInt8] {
  let pem = String(decoding: try makeCSR(.ecdsaP256).pem, as: UTF8.self)
  let document = try PEMDocument(pemString: pem)
  var der = document.derBytes
  der[der.count - 3] ^= 0xFF
  return Array(PEMDocument(type: "CERTIFICATE REQUEST", derBytes: der).pemString.utf8)
}

enum Dapr_Proto_Sentry_V1_SignCertificateRequestFixture {
  static func make(_ request: SignRequest) -> Dapr_Proto_Sentry_V1_SignCertificateRequest {
    var message = Dapr_Proto_Sentry_V1_SignCertificateRequest()
    message.id = request.id
    message.token = request.token
    message.trustDomain = request.trustDomain
    message.namespace = request.namespace
    message.certificateSigningRequest = Data(request.certificateSigningRequest)
    switch request.validator {
    case .insecure: message.tokenValidator = .insecure
    case .kubernetes: message.tokenValidator = .kubernetes
    case .jwks: message.tokenValidator = .jwks
    case nil: message.tokenValidator = .unknown
    }
    return message
  }
}

extension ServerContext {
  /// A context for calling a service directly.
  static var testing: ServerContext {
    ServerContext(
      descriptor: MethodDescriptor(fullyQualifiedService: "dapr.proto.sentry.v1.CA", method: "SignCertificate"),
      remotePeer: "in-process:test", localPeer: "in-process:test",
      cancellation: ServerContext.RPCCancellationHandle())
  }
}
