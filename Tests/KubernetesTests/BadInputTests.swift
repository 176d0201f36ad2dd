import ControlPlaneKit
import ControlPlaneTestSupport
import Foundation
import Hummingbird
import Kubernetes
import Logging
import NIOCore
import Testing

@Suite(.timeLimit(.minutes(2))) struct BadInputTests {
  func client(_ configuration: KubernetesConfiguration) throws -> Kubernetes.KubernetesClient {
    try KubernetesClient(configuration: configuration, requestTimeout: .seconds(5))
  }

  @Test func anUnreachableServerIsReportedAsSuch() async throws {
    let closed = ClosedLocalPort()
    defer { closed.release() }
    let port = closed.port
    let client = try client(KubernetesConfiguration(server: "https://127.0.0.1:\(port)"))
    do {
      _ = try await client.get(ConfigMap.self, namespace: "default", name: "x")
      Issue.record("reached a closed port")
    } catch {
      #expect(error.code == .unreachable)
      #expect(error.message.contains("127.0.0.1:\(port)"))
      #expect(error.isRetryable)
    }
    await client.shutdown()
  }

  @Test func aServerSignedByAnotherCAIsATLSFailure() async throws {
    let cluster = try await LocalKubernetes.shared.cluster()
    var configuration = try cluster.configuration()
    configuration.certificateAuthorityPEM = Array(try TestCertificateAuthority().trustBundle.pemEncoded().utf8)
    let client = try client(configuration)
    do {
      _ = try await client.get(Namespace.self, name: "default")
      Issue.record("trusted a server signed by another CA")
    } catch {
      #expect(error.code == .tlsFailure)
    }
    await client.shutdown()
  }

  @Test func aTokenThatIsNoLongerValidIsUnauthorized() async throws {
    try await ClusterFixtures.withAdmin { admin, cluster in
      let ns = try await ClusterFixtures.namespace(admin)
      _ = try await admin.create(ServiceAccount(name: "short-lived", namespace: ns))
      let issued = try await admin.requestToken(
        serviceAccount: "short-lived", namespace: ns,
        TokenRequest(audiences: ["https://kubernetes.default.svc.cluster.local"], expirationSeconds: 600))
      let token = try #require(issued.token)
      // Deleting the service account invalidates its bound tokens, as expiry does.
      try await admin.delete(ServiceAccount.self, namespace: ns, name: "short-lived")

      let admin = try cluster.configuration()
      for bad in [token, "not-a-token", ""] {
        let client = try client(
          KubernetesConfiguration(
            server: admin.server, certificateAuthorityPEM: admin.certificateAuthorityPEM, token: .static(bad)))
        do {
          _ = try await client.list(ConfigMap.self, namespace: ns)
          Issue.record("token \(bad.prefix(8)) was accepted")
        } catch let error as KubernetesError {
          #expect(error.code == .unauthorized || (bad.isEmpty && error.code == .forbidden), "\(error)")
        }
        await client.shutdown()
      }
    }
  }

  @Test func aTokenFileIsReadAgainWhenItIsRewritten() async throws {
    try await ClusterFixtures.withAdmin { admin, cluster in
      let ns = try await ClusterFixtures.namespace(admin)
      _ = try await admin.create(ServiceAccount(name: "rotating", namespace: ns))
      let binding: JSONValue = [
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": ["name": "view", "namespace": .string(ns)],
        "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"],
        "subjects": [["kind": "ServiceAccount", "name": "rotating", "namespace": .string(ns)]],
      ]
      _ = try await admin.patch(
        RoleBindingForTest.self, namespace: ns, name: "view", .apply(binding), fieldManager: "tests", force: true)
      let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID().uuidString)").path
      defer { try? FileManager.default.removeItem(atPath: tokenFile) }
      try "garbage".write(toFile: tokenFile, atomically: true, encoding: .utf8)
      let base = try cluster.configuration()
      let client = try client(
        KubernetesConfiguration(
          server: base.server, certificateAuthorityPEM: base.certificateAuthorityPEM, token: .file(tokenFile)))
      await #expect(throws: KubernetesError.self) { _ = try await client.list(ConfigMap.self, namespace: ns) }

      let issued = try await admin.requestToken(
        serviceAccount: "rotating", namespace: ns,
        TokenRequest(audiences: ["https://kubernetes.default.svc.cluster.local"], expirationSeconds: 600))
      // A new modification time is what tells the client to read the file again: set one a second on, rather than
      // waiting for the clock to move past the first write's.
      try (issued.token ?? "").write(toFile: tokenFile, atomically: true, encoding: .utf8)
      let modified = try FileManager.default.attributesOfItem(atPath: tokenFile)[.modificationDate] as? Date ?? Date()
      try FileManager.default.setAttributes(
        [.modificationDate: modified.addingTimeInterval(1)], ofItemAtPath: tokenFile)
      let list = try await client.list(ConfigMap.self, namespace: ns)
      #expect(list.items.count >= 0)
      await client.shutdown()
      try await admin.delete(Namespace.self, name: ns)
    }
  }

  @Test(
    "Answers that are not what the API promises are reported as malformed",
    arguments: [
      ("/api/v1/namespaces/default/configmaps/x", "<html>not json</html>", 200, KubernetesError.Code.malformedResponse),
      ("/api/v1/namespaces/default/configmaps/x", #"{"kind": 7}"#, 200, .malformedResponse),
      ("/api/v1/namespaces/default/configmaps/x", "upstream gone", 502, .unexpectedStatus),
    ])
  func malformedAnswers(path: String, body: String, status: Int, code: KubernetesError.Code) async throws {
    try await withFakeAPIServer(answering: status, body) { client in
      do {
        let map = try await client.get(ConfigMap.self, namespace: "default", name: "x")
        // A body that decodes as JSON but is not a ConfigMap still yields a view; a kind of 7 is not a string.
        #expect(map.kind == nil && code == .malformedResponse && body.contains("7"))
      } catch let error as KubernetesError {
        #expect(error.code == code, "\(error)")
      }
      await client.shutdown()
    }
  }

  @Test func aGarbageWatchStreamEndsWithAMalformedResponse() async throws {
    try await withFakeAPIServer(answering: 200, "{\"type\":\"ADDED\",\"object\":{}}\nnot json\n") { client in
      var seen = 0
      do {
        for try await _ in try await client.watch(ConfigMap.self, namespace: "default") { seen += 1 }
        Issue.record("a garbage line was accepted")
      } catch let error as KubernetesError {
        #expect(error.code == .malformedResponse)
      }
      #expect(seen == 1)
      await client.shutdown()
    }
  }

  @Test func anAddressThatIsNotAURLIsRefusedUpFront() {
    #expect(throws: KubernetesError.self) {
      _ = try KubernetesClient(configuration: KubernetesConfiguration(server: "not a url"))
    }
  }
}

/// Runs `body` with a client of a plain-HTTP server that answers every GET with `status` and `body`.
func withFakeAPIServer(
  answering status: Int, _ body: String, _ run: (KubernetesClient) async throws -> Void
) async throws {
  let router = Router()
  router.get("**") { _, _ -> Response in
    Response(status: .init(code: status), body: .init(byteBuffer: ByteBuffer(string: body)))
  }
  let listening = Signal<Int>()
  let app = Application(
    router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
    onServerRunning: { listening.fire($0.localAddress?.port ?? 0) }, logger: Logger(label: "fake"))
  try await withRunningServices([app]) {
    let port = try await listening.value()
    let client = try KubernetesClient(
      configuration: KubernetesConfiguration(server: "http://127.0.0.1:\(port)"), requestTimeout: .seconds(5))
    try await run(client)
  }
}

/// `rbac.authorization.k8s.io/v1/RoleBinding`, only for granting test service accounts access.
struct RoleBindingForTest: KubernetesObject {
  static let resource = ResourceDescriptor(
    group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings", kind: "RoleBinding", namespaced: true)
  var json: JSONObject
  init(json: JSONObject) { self.json = json }
}
