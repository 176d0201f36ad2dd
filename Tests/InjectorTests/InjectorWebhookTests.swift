import AsyncHTTPClient
import ControlPlaneKit
import ControlPlaneTestSupport
import Foundation
import Injector
import Kubernetes
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Testing
import X509

/// The webhook over HTTPS, branch by branch, with Dapr's status codes and messages.
@Suite(.serialized, .timeLimit(.minutes(1))) struct InjectorWebhookTests {
  static let controllerUser: JSONValue = [
    "username": "system:serviceaccount:kube-system:replicaset-controller", "uid": "u-1",
    "groups": ["system:serviceaccounts"],
  ]

  static func review(
    apiVersion: String = "admission.k8s.io/v1", kind: String = "Pod", pod: JSONValue = makePod(annotations: enabled),
    user: JSONValue = controllerUser
  ) -> Data {
    let review: JSONValue = [
      "apiVersion": .string(apiVersion), "kind": "AdmissionReview",
      "request": [
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "kind": ["group": "", "version": "v1", "kind": .string(kind)],
        "namespace": "shop", "operation": "CREATE", "object": pod, "userInfo": user,
      ],
    ]
    return try! JSONCoding.encode(review)
  }

  /// Runs the webhook with `allowed` extra service accounts and posts each body.
  static func withWebhook(
    allowed: [String] = [], httpVersion: HTTPClient.Configuration.HTTPVersion = .automatic,
    registry: MetricsRegistry = MetricsRegistry(includeProcessMetrics: false),
    _ body: @Sendable (_ post: @escaping @Sendable (Data, String?) async throws -> (Int, String)) async throws -> Void
  ) async throws {
    try await withWebhook(allowed: allowed, httpVersion: httpVersion, registry: registry) { post in
      try await body { data, contentType in
        let (status, _, text) = try await post(data, contentType)
        return (status, text)
      }
    }
  }

  /// The same, each answer with the HTTP version it came in.
  static func withWebhook(
    allowed: [String] = [], httpVersion: HTTPClient.Configuration.HTTPVersion,
    registry: MetricsRegistry = MetricsRegistry(includeProcessMetrics: false),
    _ body:
      @Sendable (_ post: @escaping @Sendable (Data, String?) async throws -> (Int, HTTPVersion, String))
      async throws -> Void
  ) async throws {
    let ca = try TestCertificateAuthority()
    let identity = try ca.issue(
      spiffeID: nil, dnsNames: ["localhost"], ipAddresses: [[127, 0, 0, 1]], keyType: .rsa2048)
    let handler = AdmissionReviewHandler(
      planner: PatchPlanner(settings: InjectorSettings(), trustAnchors: "anchors"),
      allowList: try ServiceAccountAllowList(extra: allowed))
    let listening = Signal<Int>()
    let webhook = InjectorWebhook(
      host: "127.0.0.1", port: 0, identity: LatestValue(identity), handler: LatestValue(handler),
      metrics: InjectorMetrics(registry: registry),
      readiness: ReadinessTargets([InjectorWebhook.readinessTarget]), logger: Logger(label: "dapr.injector.test"),
      onListening: { listening.fire($0) })
    var tls = TLSConfiguration.makeClientConfiguration()
    tls.trustRoots = .certificates([
      try NIOSSLCertificate(bytes: Array(try ca.certificate.serializeAsPEM().pemString.utf8), format: .pem)
    ])
    var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
    configuration.httpVersion = httpVersion
    let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    do {
      try await withRunningServices([webhook]) {
        let port = try await listening.value()
        try await body { data, contentType in
          var request = HTTPClientRequest(url: "https://127.0.0.1:\(port)/mutate")
          request.method = .POST
          if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
          request.body = .bytes(ByteBuffer(data: data))
          let response = try await client.execute(request, timeout: .seconds(10))
          let text = String(buffer: try await response.body.collect(upTo: 1 << 22))
          return (Int(response.status.code), response.version, text)
        }
      }
    } catch {
      try await client.shutdown()
      throw error
    }
    try await client.shutdown()
  }

  static func response(_ body: String) throws -> JSONValue {
    try JSONCoding.parse(Data(body.utf8))
  }

  @Test(
    "Reviews in v1 and v1beta1 are echoed with the uid and a base64 JSON patch",
    arguments: ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"])
  func injects(apiVersion: String) async throws {
    try await Self.withWebhook { post in
      let (status, body) = try await post(Self.review(apiVersion: apiVersion), "application/json")
      #expect(status == 200)
      let answer = try Self.response(body)
      #expect(answer["apiVersion"]?.stringValue == apiVersion && answer["kind"]?.stringValue == "AdmissionReview")
      #expect(answer["response"]?["uid"]?.stringValue == "705ab4f5-6393-11e8-b7cc-42010a800002")
      #expect(answer["response"]?["allowed"] == true)
      #expect(answer["response"]?["patchType"]?.stringValue == "JSONPatch")
      let patch = try #require(Data(base64Encoded: answer["response"]?["patch"]?.stringValue ?? ""))
      let operations = try JSONCoding.parse(patch).arrayValue ?? []
      #expect(operations.contains { $0["path"]?.stringValue == "/spec/containers/-" })
    }
  }

  @Test(
    "A client that prefers HTTP/2, as the API server's does, is answered over HTTP/1.1, review after review",
    arguments: [HTTPClient.Configuration.HTTPVersion.automatic, .http1Only])
  func answersOverHTTP1(client: HTTPClient.Configuration.HTTPVersion) async throws {
    try await Self.withWebhook(httpVersion: client) { post in
      for _ in 0..<3 {  // several reviews on the same connection
        let (status, version, body) = try await post(Self.review(), "application/json")
        #expect(status == 200 && version == .http1_1)
        #expect(try Self.response(body)["response"]?["patchType"]?.stringValue == "JSONPatch")
      }
      let (status, version, body) = try await post(Data(), "application/json")
      #expect(status == 400 && version == .http1_1 && body.contains("empty body"))
    }
  }

  @Test(
    "Bad requests get Dapr's status codes and messages",
    arguments: [
      (Data(), "application/json", 400, "empty body"),
      (Data("{}".utf8), "text/plain", 415, "invalid Content-Type, expected `application/json`"),
      (Data("{}".utf8), "application/json; charset=utf-8", 415, "invalid Content-Type"),
    ])
  func badRequests(body: Data, contentType: String, status: Int, message: String) async throws {
    try await Self.withWebhook { post in
      let (code, text) = try await post(body, contentType)
      #expect(code == status)
      #expect(text.contains(message), "\(text)")
    }
  }

  @Test func annotationWarningsAreCountedByReason() async throws {
    let registry = MetricsRegistry(includeProcessMetrics: false)
    try await Self.withWebhook(registry: registry) { post in
      let pod = makePod(
        annotations: enabled.merging([
          "dapr.io/app-port": "x", "dapr.io/grpc-port": "y", "dapr.io/metrics-port": "70000", "dapr.io/app-prot": "1",
        ]) { $1 })
      let (status, body) = try await post(Self.review(pod: pod), "application/json")
      #expect(status == 200)
      #expect(try Self.response(body)["response"]?["warnings"]?.arrayValue?.count == 4)
    }
    let text = String(decoding: registry.exposition(), as: UTF8.self)
    #expect(text.contains(#"dapr_injector_annotation_warnings_total{reason="not_an_integer"} 2"#), "\(text)")
    #expect(text.contains(#"dapr_injector_annotation_warnings_total{reason="out_of_range"} 1"#))
    #expect(text.contains(#"dapr_injector_annotation_warnings_total{reason="unknown_annotation"} 1"#))
  }

  @Test func malformedJSONIsAnsweredWithAllowedFalse() async throws {
    try await Self.withWebhook { post in
      let (status, body) = try await post(Data("{not json".utf8), "application/json")
      #expect(status == 200)
      let answer = try Self.response(body)
      #expect(answer["response"]?["allowed"] == false)
      #expect(answer["response"]?["status"]?["message"]?.stringValue?.isEmpty == false)
    }
  }

  @Test(
    "Reviews that need no sidecar are allowed without a patch",
    arguments: [
      review(kind: "Deployment"),
      review(pod: makePod(annotations: ["dapr.io/enabled": "yes"])),
      review(pod: makePod(annotations: ["dapr.io/app-id": "x"])),
      review(pod: makePod(annotations: enabled, spec: ["containers": [["name": "daprd", "image": "d"]]])),
      review(user: ["username": "alice", "groups": ["developers"]]),
      review(user: ["username": "system:serviceaccount:kube-system:deployment-controller-extra"]),
    ])
  func allowedWithoutPatch(review: Data) async throws {
    try await Self.withWebhook { post in
      let (status, body) = try await post(review, "application/json")
      #expect(status == 200)
      let answer = try Self.response(body)
      #expect(answer["response"]?["allowed"] == true)
      #expect(answer["response"]?["patch"] == nil)
    }
  }

  @Test(
    "Allowed users and accounts, globs included, get the sidecar",
    arguments: [
      (["username": "system:serviceaccount:kube-system:deployment-controller"], []),
      (["username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]], []),
      (["username": "system:serviceaccount:proj-x:sa-deploy"], ["proj-*:sa-[dt]*"]),
      (["username": "system:serviceaccount:argo:argo-server"], ["argo:argo-server, tekton:*"]),
    ] as [(JSONValue, [String])])
  func allowedUsers(user: JSONValue, allowed: [String]) async throws {
    try await Self.withWebhook(allowed: allowed) { post in
      let (_, body) = try await post(Self.review(user: user), "application/json")
      #expect(try Self.response(body)["response"]?["patch"] != nil)
    }
  }

  @Test func aGlobDoesNotMatchOtherAccounts() throws {
    let list = try ServiceAccountAllowList(extra: ["proj-*:sa-[dt]*"])
    #expect(list.allows(username: "system:serviceaccount:proj-x:sa-deploy", uid: "", groups: []))
    #expect(!list.allows(username: "system:serviceaccount:proj-x:sa-xyz", uid: "", groups: []))
    #expect(throws: InjectionError.self) { try ServiceAccountAllowList(extra: ["no-colon"]) }
    #expect(throws: InjectionError.self) { try ServiceAccountAllowList(extra: ["ns:sa-[bad"]) }
  }

  @Test func anInvalidAppIDRefusesThePodWithTheReason() async throws {
    try await Self.withWebhook { post in
      let pod = makePod(annotations: ["dapr.io/enabled": "true", "dapr.io/app-id": "My_App"])
      let (status, body) = try await post(Self.review(pod: pod), "application/json")
      #expect(status == 200)
      let answer = try Self.response(body)
      #expect(answer["response"]?["allowed"] == false)
      #expect(answer["response"]?["status"]?["message"]?.stringValue?.contains("invalid app id") == true)
    }
  }
}
