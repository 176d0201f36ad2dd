import ControlPlaneKit
import ControlPlaneTestSupport
import Foundation
import Kubernetes
import Logging
import Testing

@testable import Injector
@testable import InjectorCore

/// A RoleBinding, only to give a test user rights.
struct TestRoleBinding: KubernetesObject {
  static let resource = ResourceDescriptor(
    group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings", kind: "RoleBinding", namespaced: true)
  var json: JSONObject
  init(json: JSONObject) { self.json = json }
}

/// The injector against the real test API server: the caBundle is patched at start-up, Pods a Deployment's
/// ReplicaSet creates get the sidecar (and the pluggable component they ask for), and a Pod a user outside the allow-list creates does not.
@Suite(.serialized, .timeLimit(.minutes(3))) struct InjectorIntegrationTests {
  static func containers(_ pod: Pod) -> [String] {
    (pod.json["spec"]?["containers"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
  }

  @Test func theCABundleIsPatchedAtStartUpAndControllerPodsAreInjectedButAUsersPodIsNot() async throws {
    let cluster = try await LocalKubernetes.shared.cluster()
    let admin = try cluster.adminClient()
    let ns = "inject-\(UInt32.random(in: 0...UInt32.max))"
    try await cluster.createNamespaceForPods(ns, client: admin)
    _ = try await admin.patch(
      Namespace.self, name: ns, .merge(["metadata": ["labels": ["kubernetes.io/metadata.name": .string(ns)]]]))

    let ca = try TestCertificateAuthority()
    let anchorsFile = FileManager.default.temporaryDirectory.appendingPathComponent("anchors-\(UUID().uuidString).pem")
    defer { try? FileManager.default.removeItem(at: anchorsFile) }
    let pem = try ca.trustBundle.pemEncoded()
    try pem.write(to: anchorsFile, atomically: true, encoding: .utf8)
    let anchors = try TrustBundleWatcher(path: anchorsFile.path, logger: Logger(label: "test"))
    let readiness = ReadinessTargets([InjectorWebhook.readinessTarget, InjectorServer.webhookConfigurationTarget])
    let listening = Signal<Int>()
    try await cluster.installDaprCRDs(admin)
    let components = InjectorServer.componentsInformer(client: admin, namespace: ns, logger: Logger(label: "test"))
    let webhook = InjectorWebhook(
      host: "127.0.0.1", port: 0,
      identity: LatestValue(try ca.issue(spiffeID: nil, ipAddresses: [[127, 0, 0, 1]], keyType: .rsa2048)),
      handler: LatestValue(
        AdmissionReviewHandler(
          planner: PatchPlanner(settings: InjectorSettings(), trustAnchors: pem),
          allowList: try ServiceAccountAllowList(),
          pluggableComponents: InjectorServer.pluggableComponents(components))),
      metrics: InjectorMetrics(registry: MetricsRegistry(includeProcessMetrics: false)), readiness: readiness,
      logger: Logger(label: "dapr.injector"), onListening: { listening.fire($0) })
    let patcher = CABundlePatcher(
      client: admin, anchors: anchors.bundle, readiness: readiness, logger: Logger(label: "test"))
    try? await admin.delete(MutatingWebhookConfiguration.self, name: InjectorServer.webhookConfigurationName)
    #expect(readiness.notReady.contains(InjectorServer.webhookConfigurationTarget))

    try await withRunningServices([anchors, components, webhook, patcher]) {
      try await Self.exercise(
        admin: admin, cluster: cluster, ns: ns, port: try await listening.value(), readiness: readiness, pem: pem,
        components: components)
    }
    try? await admin.delete(MutatingWebhookConfiguration.self, name: InjectorServer.webhookConfigurationName)
    try? await admin.delete(Namespace.self, namespace: nil, name: ns)
    await admin.shutdown()
  }

  static func exercise(
    admin: KubernetesClient, cluster: LocalKubernetes.Cluster, ns: String, port: Int, readiness: ReadinessTargets,
    pem: String, components: Informer<DaprComponent>
  ) async throws {
    // As the chart installs it: no caBundle; the injector puts it there.
    var configuration = MutatingWebhookConfiguration(name: InjectorServer.webhookConfigurationName)
    var hook = Webhook()
    hook.name = "sidecar-injector.dapr.io"
    hook.clientConfig.url = "https://127.0.0.1:\(port)/mutate"
    hook.failurePolicy = "Fail"
    hook.json["sideEffects"] = "None"
    hook.json["reinvocationPolicy"] = "IfNeeded"
    hook.json["admissionReviewVersions"] = ["v1", "v1beta1"]
    hook.json["rules"] = [["operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]]]
    hook.json["namespaceSelector"] = ["matchLabels": ["kubernetes.io/metadata.name": .string(ns)]]
    configuration.webhooks = [hook]
    _ = try await admin.create(configuration)
    try await eventually("the injector is ready", within: .seconds(30)) { readiness.notReady.isEmpty }
    let stored = try await admin.get(MutatingWebhookConfiguration.self, name: InjectorServer.webhookConfigurationName)
    #expect(stored.webhooks?.first?.clientConfig.caBundle == Data(pem.utf8).base64EncodedString())

    // A pluggable component whose container the Deployment's Pods ask for.
    var component = DaprComponent(name: "audit", namespace: ns)
    component.metadata.annotations = [
      PluggableComponent.containerAnnotation: #"{"name":"audit-store","image":"shop/audit:3"}"#
    ]
    component.spec.type = "state.audit"
    component.spec.version = "v1"
    component.spec.metadata = []
    _ = try await admin.create(component)
    try await eventually("the injector's cache has the Component") { !components.store.isEmpty }

    // A Deployment: the ReplicaSet controller creates the Pod, and it is stored with daprd and the component.
    var deployment = Deployment(name: "web", namespace: ns)
    deployment.spec.replicas = 1
    var selector = LabelSelector()
    selector.matchLabels = ["app": "web"]
    deployment.spec.selector = selector
    deployment.spec.template.metadata.labels = ["app": "web"]
    deployment.spec.template.metadata.annotations = [
      "dapr.io/enabled": "true", "dapr.io/app-id": "web", "dapr.io/inject-pluggable-components": "true",
    ]
    deployment.spec.template.spec.containers = [Container(name: "app", image: "nginx")]
    _ = try await admin.create(deployment)
    try await eventually("the Deployment's Pod exists", within: .seconds(60)) {
      try await !admin.list(Pod.self, namespace: ns).items.isEmpty
    }
    let pod = try #require(try await admin.list(Pod.self, namespace: ns).items.first)
    #expect(Self.containers(pod) == ["app", "daprd", "audit-store"])
    #expect(pod.metadata.labels?["dapr.io/sidecar-injected"] == "true")

    // A user outside the allow-list: the Pod is admitted without a sidecar.
    _ = try await admin.create(ServiceAccount(name: "developer", namespace: ns))
    let binding: JSONValue = [
      "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
      "metadata": ["name": "developer-edit", "namespace": .string(ns)],
      "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"],
      "subjects": [["kind": "ServiceAccount", "name": "developer", "namespace": .string(ns)]],
    ]
    _ = try await admin.patch(
      TestRoleBinding.self, namespace: ns, name: "developer-edit", .apply(binding), fieldManager: "tests", force: true)
    let token = try #require(
      try await admin.requestToken(
        serviceAccount: "developer", namespace: ns,
        TokenRequest(audiences: ["https://kubernetes.default.svc.cluster.local"], expirationSeconds: 600)
      ).token)
    let base = try cluster.configuration()
    let developer = try KubernetesClient(
      configuration: KubernetesConfiguration(
        server: base.server, certificateAuthorityPEM: base.certificateAuthorityPEM, token: .static(token)),
      logger: Logger(label: "developer"))
    var manual = Pod(name: "manual", namespace: ns)
    manual.metadata.annotations = ["dapr.io/enabled": "true", "dapr.io/app-id": "manual"]
    manual.spec.containers = [Container(name: "app", image: "nginx")]
    let created = try await developer.create(manual)
    await developer.shutdown()
    #expect(Self.containers(created) == ["app"])
  }
}
