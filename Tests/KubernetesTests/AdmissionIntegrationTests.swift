import ControlPlaneKit
import ControlPlaneTestSupport
import Foundation
import Hummingbird
import HummingbirdTLS
import Kubernetes
import Logging
import NIOCore
import Synchronization
import Testing

/// A mutating webhook for tests: labels pods marked `webhook-test: patch`, refuses pods marked `deny`, and remembers
/// who asked.
final class LabellingWebhook: Sendable {
  let users = Mutex<[String]>([])

  func review(_ body: ByteBuffer) throws -> ByteBuffer {
    let review = try JSONCoding.decode(JSONValue.self, from: Data(buffer: body))
    let request = review["request"]
    let uid = request?["uid"]?.stringValue ?? ""
    users.withLock { $0.append(request?["userInfo"]?["username"]?.stringValue ?? "") }
    let mode = request?["object"]?["metadata"]?["labels"]?["webhook-test"]?.stringValue
    var response: JSONObject = ["uid": .string(uid), "allowed": .bool(mode != "deny")]
    if mode == "deny" {
      response["status"] = ["code": 403, "message": "pods marked deny are not allowed here"]
    } else if mode == "patch" {
      let patch = [JSONPatchOperation.add("/metadata/labels/admission-test", "patched")]
      response["patchType"] = "JSONPatch"
      response["patch"] = .string(try JSONCoding.encode(patch).base64EncodedString())
    }
    let answer: JSONValue = [
      "apiVersion": review["apiVersion"] ?? "admission.k8s.io/v1", "kind": "AdmissionReview",
      "response": .object(response),
    ]
    return ByteBuffer(data: try JSONCoding.encode(answer))
  }
}

@Suite(.timeLimit(.minutes(3))) struct AdmissionIntegrationTests {
  @Test func aWebhookIsCalledOverHTTPSForPodsAReplicaSetCreatesAndItsPatchIsApplied() async throws {
    try await ClusterFixtures.withAdmin { admin, _ in
      let ns = try await ClusterFixtures.namespace(admin)
      let ca = try TestCertificateAuthority()
      let webhook = LabellingWebhook()
      let router = Router()
      router.post("mutate") { request, _ -> Response in
        let body = try await request.body.collect(upTo: 4 << 20)
        return Response(
          status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: try webhook.review(body)))
      }
      let listening = Signal<Int>()
      let app = Application(
        router: router,
        server: try .tls(
          .http1(),
          configuration: HummingbirdTLSConfigurations.server(
            identity: LatestValue(try ca.issue(spiffeID: nil, dnsNames: ["localhost"], ipAddresses: [[127, 0, 0, 1]])))),
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { listening.fire($0.localAddress?.port ?? 0) },
        logger: Logger(label: "webhook"))

      try await withRunningServices([app]) {
        let port = try await listening.value()
        var configuration = MutatingWebhookConfiguration(name: "\(ns)-labeller")
        var hook = Webhook()
        hook.name = "labeller.\(ns).dapr.io"
        hook.clientConfig.url = "https://127.0.0.1:\(port)/mutate"
        hook.clientConfig.caBundle = Data(try ca.trustBundle.pemEncoded().utf8).base64EncodedString()
        hook.failurePolicy = "Fail"
        hook.json["sideEffects"] = "None"
        hook.json["admissionReviewVersions"] = ["v1", "v1beta1"]
        hook.json["rules"] = [
          ["operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]]
        ]
        hook.json["namespaceSelector"] = ["matchLabels": ["kubernetes.io/metadata.name": .string(ns)]]
        hook.json["objectSelector"] = ["matchExpressions": [["key": "webhook-test", "operator": "Exists"]]]
        configuration.webhooks = [hook]
        _ = try await admin.create(configuration)
        // Namespaces get the name label only from 1.21 on; add it.
        _ = try await admin.patch(
          Namespace.self, name: ns, .merge(["metadata": ["labels": ["kubernetes.io/metadata.name": .string(ns)]]]))

        var deployment = Deployment(name: "web", namespace: ns)
        deployment.spec.replicas = 1
        var selector = LabelSelector()
        selector.matchLabels = ["app": "web"]
        deployment.spec.selector = selector
        deployment.spec.template.metadata.labels = ["app": "web", "webhook-test": "patch"]
        deployment.spec.template.spec.containers = [Container(name: "app", image: "nginx")]
        _ = try await admin.create(deployment)

        // The ReplicaSet controller creates the pod; the watch shows it arriving with the webhook's label.
        let start = try await admin.list(Pod.self, namespace: ns)
        let pods = try await admin.watch(
          Pod.self, namespace: ns,
          options: WatchOptions(resourceVersion: start.metadata.resourceVersion, timeoutSeconds: 60))
        var created: Pod? = start.items.first
        if created == nil {
          for try await event in pods {
            if case .added(let pod) = event {
              created = pod
              break
            }
          }
        }
        let pod = try #require(created)
        #expect(pod.metadata.labels?["admission-test"] == "patched")
        #expect(webhook.users.withLock { $0 }.contains("system:serviceaccount:kube-system:replicaset-controller"))

        var denied = Pod(name: "denied", namespace: ns)
        denied.metadata.labels = ["webhook-test": "deny"]
        denied.spec.containers = [Container(name: "app", image: "nginx")]
        do {
          _ = try await admin.create(denied)
          Issue.record("a pod the webhook refused was created")
        } catch let error as KubernetesError {
          #expect(error.code == .forbidden)
          #expect(error.message.contains("pods marked deny are not allowed here"))
        }
        try await admin.delete(MutatingWebhookConfiguration.self, name: "\(ns)-labeller")
      }
      try await admin.delete(Namespace.self, name: ns)
    }
  }
}
