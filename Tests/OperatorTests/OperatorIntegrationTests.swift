import ControlPlaneKit
import ControlPlaneTestSupport
import DaprProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Kubernetes
import Logging
import ServiceLifecycle
import Testing

@testable import Operator
@testable import OperatorCore

/// Runs `kubectl` against the test control plane, feeding `input` on stdin.
func kubectl(_ arguments: [String], kubeconfig: String, input: String? = nil) throws -> String {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = ["kubectl", "--kubeconfig", kubeconfig] + arguments
  let output = Pipe()
  let stdin = Pipe()
  process.standardOutput = output
  process.standardError = output
  process.standardInput = stdin
  try process.run()
  if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
  try stdin.fileHandleForWriting.close()
  let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  process.waitUntilExit()
  guard process.terminationStatus == 0 else { throw TestFailure(description: "kubectl \(arguments): \(text)") }
  return text
}

struct TestFailure: Error, CustomStringConvertible {
  let description: String
}

/// Events of one update stream, awaited one at a time.
final class EventInbox: Sendable {
  let stream: AsyncStream<(Int, String)>
  let continuation: AsyncStream<(Int, String)>.Continuation

  init() { (stream, continuation) = AsyncStream.makeStream() }

  /// The next event as (type, component name), or a failure after `limit`.
  func next(within limit: Duration = .seconds(20)) async throws -> (Int, String) {
    let stream = self.stream
    return try await withThrowingTaskGroup(of: (Int, String)?.self) { group in
      group.addTask {
        var iterator = stream.makeAsyncIterator()
        return await iterator.next()
      }
      group.addTask {
        try await Task.sleep(for: limit)
        return nil
      }
      let first = try await group.next()!
      group.cancelAll()
      guard let event = first else { throw TestFailure(description: "no update event within \(limit)") }
      return event
    }
  }
}

/// The test API server with Dapr's CRDs installed, an admin client for it, and a new namespace `<prefix>-<random>`.
func namespaceWithDaprCRDs(_ prefix: String) async throws -> (LocalKubernetes.Cluster, KubernetesClient, String) {
  let cluster = try await LocalKubernetes.shared.cluster()
  let admin = try cluster.adminClient()
  try await cluster.installDaprCRDs(admin)
  let ns = "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
  _ = try await admin.create(Namespace(name: ns))
  return (cluster, admin, ns)
}

@Suite(.serialized, .timeLimit(.minutes(3))) struct OperatorIntegrationTests {
  static let operatorID = try! SPIFFEID(trustDomain: "cluster.local", namespace: "dapr-system", appID: "dapr-operator")

  static func component(_ name: String, namespace: String, host: String = "redis:6379", secret: String? = nil) -> String
  {
    var yaml = """
      apiVersion: dapr.io/v1alpha1
      kind: Component
      metadata: {name: \(name), namespace: \(namespace)}
      spec:
        type: state.redis
        version: v1
        metadata:
        - {name: redisHost, value: "\(host)"}
      """
    if let secret { yaml += "\n  - name: redisPassword\n    secretKeyRef: {name: \(secret), key: password}" }
    return yaml + "\n"
  }

  static func names(_ list: [Data]) throws -> [String] {
    try list.map { try JSONCoding.parse($0)["metadata"]?["name"]?.stringValue ?? "" }
  }

  typealias OperatorClient = Dapr_Proto_Operator_V1_Operator.Client<HTTP2ClientTransport.Posix>

  /// The operator's API (caches, fan-out, the gRPC server) on the test API server, and a client for it with the
  /// SPIFFE ID of `appID` in `namespace`.
  static func withOperatorAPI(
    admin: KubernetesClient, namespace: String, appID: String,
    _ body: @escaping @Sendable (OperatorClient, ResourceHub) async throws -> Void
  ) async throws {
    try await withOperatorAPI(admin: admin, namespace: namespace, appID: appID) { api, hub, _ in
      try await body(api, hub)
    }
  }

  /// As above, with the service group the caches and the server run in, for a body that stops it.
  static func withOperatorAPI(
    admin: KubernetesClient, namespace: String, appID: String,
    _ body: @escaping @Sendable (OperatorClient, ResourceHub, ServiceGroup) async throws -> Void
  ) async throws {
    let ca = try TestCertificateAuthority()
    let metrics = OperatorMetrics(registry: MetricsRegistry(includeProcessMetrics: false))
    let readiness = ReadinessTargets([OperatorServer.apiTarget, ResourceCache.readinessTarget])
    let cache = ResourceCache(client: admin, metrics: metrics, readiness: readiness, logger: Logger(label: "informer"))
    let hub = cache.makeHub(metrics: metrics, logger: Logger(label: "api"))
    let listening = Signal<Int>()
    var server = OperatorGRPCServer(
      host: "127.0.0.1", port: 0,
      security: .fixed(
        LatestValue(try ca.issue(spiffeID: Self.operatorID, keyType: .ed25519)), anchors: LatestValue(ca.trustBundle)),
      service: OperatorService(cache: cache, hub: hub), readiness: readiness, logger: Logger(label: "api"))
    server.onListening = { listening.fire($0) }
    let client = try SPIFFEID(trustDomain: "cluster.local", namespace: namespace, appID: appID)
    let identity = try ca.issue(spiffeID: client, keyType: .ed25519)
    let trust = ca.trustBundle
    let group = ServiceGroup(services: [cache, server], logger: Logger(label: "operator"))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
      tasks.addTask { try await group.run() }
      defer { tasks.cancelAll() }
      let port = try await listening.value()
      try await eventually("the caches have synced") { readiness.notReady.isEmpty }
      let transport = try SecureGRPC.clientTransport(
        host: "127.0.0.1", port: port,
        security: .tls(
          identity: LatestValue(identity),
          verifier: SPIFFEPeerVerifier(trustAnchors: { trust }, requirement: .exactly(Self.operatorID))))
      try await withGRPCClient(transport: transport) { grpc in
        try await body(Dapr_Proto_Operator_V1_Operator.Client(wrapping: grpc), hub, group)
      }
    }
  }

  @Test func listsAndStreamsFollowTheAPIServerWithinNamespaceScopeAndSecrets() async throws {
    let cluster = try await LocalKubernetes.shared.cluster()
    let admin = try cluster.adminClient()
    try await cluster.installDaprCRDs(admin)
    let suffix = UInt32.random(in: 0...UInt32.max)
    let (a, b) = ("ops-a-\(suffix)", "ops-b-\(suffix)")
    for ns in [a, b] { _ = try await admin.create(Namespace(name: ns)) }
    let kubeconfig = cluster.kubeconfigPath
    _ = try kubectl(
      ["create", "secret", "generic", "redis", "-n", a, "--from-literal=password=first"], kubeconfig: kubeconfig)
    _ = try kubectl(
      ["apply", "-f", "-"], kubeconfig: kubeconfig,
      input: Self.component("statestore", namespace: a, secret: "redis") + "---\n"
        + Self.component("broken", namespace: a, secret: "gone") + "---\n"
        + Self.component("orders-only", namespace: a).replacingOccurrences(of: "spec:", with: "scopes: [orders]\nspec:")
    )

    try await Self.withOperatorAPI(admin: admin, namespace: a, appID: "cart") { api, hub in
      var listRequest = Dapr_Proto_Operator_V1_ListComponentsRequest()
      listRequest.namespace = a
      // The broken component is left out (Dapr fails the whole list); the one scoped to another app too.
      let listed = try await api.listComponents(listRequest).components
      #expect(try Self.names(listed) == ["statestore"])
      let statestore = try JSONCoding.parse(listed[0])
      let password = statestore["spec"]?["metadata"]?.arrayValue?.first { $0["name"] == "redisPassword" }
      #expect(password?["value"]?.stringValue == Data("first".utf8).base64EncodedString())
      // The broken one is reported where `kubectl describe` shows it.
      try await eventually("a Warning Event names the missing Secret") {
        try await admin.list(Event.self, namespace: a).items.contains {
          $0.reason == "SecretNotFound" && $0.involvedObject.name == "broken"
            && ($0.message ?? "").contains("\(a)/gone")
        }
      }

      // Another namespace: Dapr's text.
      var other = Dapr_Proto_Operator_V1_ListComponentsRequest()
      other.namespace = b
      await #expect {
        _ = try await api.listComponents(other)
      } throws: { error in
        let error = error as? RPCError
        return error?.code == .permissionDenied
          && error?.message == "identity does not match requested namespace exp=\(b) got=\(a)"
      }
      var unknownConfiguration = Dapr_Proto_Operator_V1_GetConfigurationRequest()
      unknownConfiguration.namespace = a
      unknownConfiguration.name = "nope"
      await #expect {
        _ = try await api.getConfiguration(unknownConfiguration)
      } throws: { ($0 as? RPCError)?.code == .notFound }

      // The update stream.
      let inbox = EventInbox()
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
          var request = Dapr_Proto_Operator_V1_ComponentUpdateRequest()
          request.namespace = a
          try await api.componentUpdate(request) { response in
            for try await event in response.messages {
              let name = try JSONCoding.parse(event.component)["metadata"]?["name"]?.stringValue ?? ""
              inbox.continuation.yield((event.type.rawValue, name))
            }
          }
        }
        // The stream is registered once the server has a stream for it; a first change proves it.
        try await eventually("the stream is connected") { hub.connectedStreams(.component) == 1 }
        _ = try kubectl(["apply", "-f", "-"], kubeconfig: kubeconfig, input: Self.component("cache", namespace: b))
        _ = try kubectl(["apply", "-f", "-"], kubeconfig: kubeconfig, input: Self.component("pubsub", namespace: a))
        // Nothing from the other namespace came first.
        #expect(try await inbox.next() == (1, "pubsub"))
        _ = try kubectl(
          ["apply", "-f", "-"], kubeconfig: kubeconfig,
          input: Self.component("pubsub", namespace: a, host: "other:6379"))
        #expect(try await inbox.next() == (2, "pubsub"))
        // Rotating a Secret reaches the stream as UPDATED of the component that uses it.
        _ = try await admin.patch(
          Secret.self, namespace: a, name: "redis",
          .merge(["data": ["password": .string(Data("second".utf8).base64EncodedString())]]))
        #expect(try await inbox.next() == (2, "statestore"))
        _ = try kubectl(["delete", "component", "pubsub", "-n", a], kubeconfig: kubeconfig)
        #expect(try await inbox.next() == (3, "pubsub"))
        group.cancelAll()
      }
    }
    for ns in [a, b] { try? await admin.delete(Namespace.self, name: ns) }
    await admin.shutdown()
  }

  @Test func aStreamWhoseSidecarLeftIsClosedAtOnceAndAStoppingOperatorEndsTheStreamsStillOpen() async throws {
    let (cluster, admin, ns) = try await namespaceWithDaprCRDs("ops-leave")
    var stream = Dapr_Proto_Operator_V1_ComponentUpdateRequest()
    stream.namespace = ns
    let request = stream

    try await Self.withOperatorAPI(admin: admin, namespace: ns, appID: "cart") { api, hub, group in
      // gRPC tells a handler of a gone client only through the RPC's cancellation handle; the stream must close
      // then, not when a change of its kind next fails to write (for some kinds, never).
      let leaving = Task { try await api.componentUpdate(request) { for try await _ in $0.messages {} } }
      try await eventually("the stream is connected") { hub.connectedStreams(.component) == 1 }
      leaving.cancel()
      try await eventually("the stream of the sidecar that left is closed, with no change sent") {
        hub.connectedStreams(.component) == 0
      }
      // A graceful stop ends the streams still open (daprd then connects again, to another replica): the call ends
      // normally, and the server does not wait for its stop deadline.
      let staying = Task {
        try await api.componentUpdate(request) { response in
          var events = 0
          for try await _ in response.messages { events += 1 }
          return events
        }
      }
      try await eventually("the second stream is connected") { hub.connectedStreams(.component) == 1 }
      await group.triggerGracefulShutdown()
      #expect(try await staying.value == 0)
      #expect(hub.connectedStreams(.component) == 0)
    }
    try? await admin.delete(Namespace.self, name: ns)
    await admin.shutdown()
  }

  /// A Configuration whose OpenTelemetry header comes from Secret `otel` (`key` nil: a ref without a key).
  static func configuration(_ name: String, namespace: String, key: String? = "token", rate: String = "1") -> String {
    """
    apiVersion: dapr.io/v1alpha1
    kind: Configuration
    metadata: {name: \(name), namespace: \(namespace)}
    spec:
      tracing:
        samplingRate: "\(rate)"
        otel:
          endpointAddress: otel-collector:4317
          protocol: grpc
          isSecure: false
          headers:
            - name: x-api-key
              secretKeyRef: {name: otel\(key.map { ", key: \($0)" } ?? "")}
    """
  }

  @Test func configurationStreamsCarryOnlyWhatTheAppsPodsNameAndOtelHeadersGetTheirSecret() async throws {
    let cluster = try await LocalKubernetes.shared.cluster()
    let admin = try cluster.adminClient()
    try await cluster.installDaprCRDs(admin)
    let ns = "ops-cfg-\(UInt32.random(in: 0...UInt32.max))"
    try await cluster.createNamespaceForPods(ns, client: admin)
    let kubeconfig = cluster.kubeconfigPath
    _ = try kubectl(
      ["create", "secret", "generic", "otel", "-n", ns, "--from-literal=token=s3cret"], kubeconfig: kubeconfig)
    _ = try kubectl(
      ["apply", "-f", "-"], kubeconfig: kubeconfig,
      input: Self.configuration("tracing", namespace: ns) + "\n---\n"
        + Self.configuration("keyless", namespace: ns, key: nil))
    // What the injector leaves on a pod of app cart that uses Configuration "tracing".
    var pod = Pod(name: "cart-1", namespace: ns)
    pod.metadata.labels = ["dapr.io/sidecar-injected": "true", "dapr.io/app-id": "cart"]
    pod.metadata.annotations = ["dapr.io/config": "tracing"]
    pod.spec.containers = [Container(name: "app", image: "nginx")]
    _ = try await admin.create(pod)

    try await Self.withOperatorAPI(admin: admin, namespace: ns, appID: "cart") { api, hub in
      var get = Dapr_Proto_Operator_V1_GetConfigurationRequest()
      get.namespace = ns
      get.name = "tracing"
      let tracing = try JSONCoding.parse(try await api.getConfiguration(get).configuration)
      let header = tracing["spec"]?["tracing"]?["otel"]?["headers"]?.arrayValue?.first
      #expect(header?["value"]?.stringValue == "s3cret")
      get.name = "keyless"
      await #expect {
        _ = try await api.getConfiguration(get)
      } throws: { error in
        let error = error as? RPCError
        return error?.code == .failedPrecondition
          && error?.message == "Configuration \(ns)/keyless: header x-api-key names Secret \(ns)/otel without a key"
      }

      let inbox = EventInbox()
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
          var request = Dapr_Proto_Operator_V1_ConfigurationUpdateRequest()
          request.namespace = ns
          try await api.configurationUpdate(request) { response in
            for try await event in response.messages {
              let name = try JSONCoding.parse(event.configuration)["metadata"]?["name"]?.stringValue ?? ""
              inbox.continuation.yield((event.type.rawValue, name))
            }
          }
        }
        try await eventually("the stream is connected") { hub.connectedStreams(.configuration) == 1 }
        // A Configuration cart's pods do not name is not sent; the one they name is.
        _ = try kubectl(
          ["apply", "-f", "-"], kubeconfig: kubeconfig, input: Self.configuration("unused", namespace: ns))
        _ = try kubectl(
          ["apply", "-f", "-"], kubeconfig: kubeconfig, input: Self.configuration("tracing", namespace: ns, rate: "0.5")
        )
        #expect(try await inbox.next() == (2, "tracing"))
        // Rotating the header's Secret re-sends the Configuration that uses it.
        _ = try await admin.patch(
          Secret.self, namespace: ns, name: "otel",
          .merge(["data": ["token": .string(Data("rotated".utf8).base64EncodedString())]]))
        #expect(try await inbox.next() == (2, "tracing"))
        group.cancelAll()
      }
    }
    try? await admin.delete(Namespace.self, name: ns)
    await admin.shutdown()
  }
}

extension OperatorIntegrationTests {
  static func mcpServer(
    _ name: String, namespace: String, scopes: [String] = [], url: String = "http://tools:8080/mcp"
  )
    -> String
  {
    """
    apiVersion: dapr.io/v1alpha1
    kind: MCPServer
    metadata: {name: \(name), namespace: \(namespace)}
    scopes: [\(scopes.joined(separator: ", "))]
    spec:
      endpoint:
        streamableHTTP:
          url: \(url)
          headers:
            - name: Authorization
              secretKeyRef: {name: mcp-token, key: token}

    """
  }

  static func workflowAccessPolicy(_ name: String, namespace: String, caller: String) -> String {
    """
    apiVersion: dapr.io/v1alpha1
    kind: WorkflowAccessPolicy
    metadata: {name: \(name), namespace: \(namespace)}
    scopes: [cart]
    spec:
      rules:
        - callers: [{appID: \(caller)}]
          workflows: [{name: "order-*", operations: [schedule, get]}]

    """
  }

  @Test func mcpServersAndWorkflowAccessPoliciesAreListedAndStreamedLikeTheOtherKinds() async throws {
    let (cluster, admin, ns) = try await namespaceWithDaprCRDs("ops-mcp")
    let kubeconfig = cluster.kubeconfigPath
    _ = try kubectl(
      ["create", "secret", "generic", "mcp-token", "-n", ns, "--from-literal=token=Bearer abc"], kubeconfig: kubeconfig)
    _ = try kubectl(
      ["apply", "-f", "-"], kubeconfig: kubeconfig,
      input: Self.mcpServer("tools", namespace: ns) + "---\n"
        + Self.workflowAccessPolicy("orders", namespace: ns, caller: "checkout"))

    try await Self.withOperatorAPI(admin: admin, namespace: ns, appID: "cart") { api, hub in
      var list = Dapr_Proto_Operator_V1_ListMCPServersRequest()
      list.namespace = ns
      let servers = try await api.listMCPServers(list).mcpServers
      #expect(try Self.names(servers) == ["tools"])
      // The header's Secret is filled in as for HTTPEndpoints: the JSON string of its base64 bytes.
      let header = try JSONCoding.parse(servers[0])["spec"]?["endpoint"]?["streamableHTTP"]?["headers"]?.arrayValue?
        .first
      #expect(header?["value"]?.stringValue == Data("Bearer abc".utf8).base64EncodedString())
      var policies = Dapr_Proto_Operator_V1_ListWorkflowAccessPolicyRequest()
      policies.namespace = ns
      #expect(try Self.names(try await api.listWorkflowAccessPolicy(policies).policies) == ["orders"])

      let inbox = EventInbox()
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
          var request = Dapr_Proto_Operator_V1_MCPServerUpdateRequest()
          request.namespace = ns
          try await api.mcpServerUpdate(request) { response in
            for try await event in response.messages {
              let name = try JSONCoding.parse(event.mcpServer)["metadata"]?["name"]?.stringValue ?? ""
              inbox.continuation.yield((event.type.rawValue, "mcp/" + name))
            }
          }
        }
        group.addTask {
          var request = Dapr_Proto_Operator_V1_WorkflowAccessPolicyUpdateRequest()
          request.namespace = ns
          try await api.workflowAccessPolicyUpdate(request) { response in
            for try await event in response.messages {
              let name = try JSONCoding.parse(event.policy)["metadata"]?["name"]?.stringValue ?? ""
              inbox.continuation.yield((event.type.rawValue, "policy/" + name))
            }
          }
        }
        try await eventually("both streams are connected") {
          hub.connectedStreams(.mcpServer) == 1 && hub.connectedStreams(.workflowAccessPolicy) == 1
        }
        // Scoped to another app: never sent to cart; then one in scope.
        _ = try kubectl(
          ["apply", "-f", "-"], kubeconfig: kubeconfig,
          input: Self.mcpServer("private", namespace: ns, scopes: ["orders"]))
        _ = try kubectl(
          ["apply", "-f", "-"], kubeconfig: kubeconfig, input: Self.mcpServer("search", namespace: ns, scopes: ["cart"])
        )
        #expect(try await inbox.next() == (1, "mcp/search"))
        _ = try kubectl(
          ["apply", "-f", "-"], kubeconfig: kubeconfig,
          input: Self.workflowAccessPolicy("orders", namespace: ns, caller: "payments"))
        #expect(try await inbox.next() == (2, "policy/orders"))
        // Rotating the header's Secret re-sends the MCPServers that use it.
        _ = try await admin.patch(
          Secret.self, namespace: ns, name: "mcp-token",
          .merge(["data": ["token": .string(Data("Bearer xyz".utf8).base64EncodedString())]]))
        var rotated: Set<String> = []
        for _ in 0..<2 { rotated.insert(try await inbox.next().1) }
        #expect(rotated == ["mcp/tools", "mcp/search"])
        _ = try kubectl(["delete", "workflowaccesspolicy", "orders", "-n", ns], kubeconfig: kubeconfig)
        #expect(try await inbox.next() == (3, "policy/orders"))
        group.cancelAll()
      }
    }
    try? await admin.delete(Namespace.self, name: ns)
    await admin.shutdown()
  }
}

@Suite(.serialized, .timeLimit(.minutes(3))) struct ServiceReconcilerIntegrationTests {
  /// A Dapr-enabled workload of one nginx container, labelled and selected by `app: <name>`.
  static func workload(_ apiVersion: String, _ kind: String, name: String, namespace: String, appID: String) -> String {
    """
    apiVersion: \(apiVersion)
    kind: \(kind)
    metadata: {name: \(name), namespace: \(namespace)}
    spec:
      selector: {matchLabels: {app: \(name)}}
      template:
        metadata:
          labels: {app: \(name)}
          annotations: {dapr.io/enabled: "true", dapr.io/app-id: \(appID)}
        spec:
          containers: [{name: app, image: nginx}]
    """
  }

  /// Argo's Rollout CRD, reduced to what the API server needs to store Rollouts.
  static let rolloutCRD = """
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: rollouts.argoproj.io}
    spec:
      group: argoproj.io
      scope: Namespaced
      names: {kind: Rollout, listKind: RolloutList, plural: rollouts, singular: rollout}
      versions:
        - name: v1alpha1
          served: true
          storage: true
          schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
    """

  @Test func withTheFlagAnExistingArgoRolloutGetsItsDaprServiceOwnedByTheRolloutAtStart() async throws {
    let cluster = try await LocalKubernetes.shared.cluster()
    let admin = try cluster.adminClient()
    let kubeconfig = cluster.kubeconfigPath
    _ = try kubectl(["apply", "-f", "-"], kubeconfig: kubeconfig, input: Self.rolloutCRD)
    _ = try kubectl(
      ["wait", "--for", "condition=Established", "crd/rollouts.argoproj.io", "--timeout", "60s"], kubeconfig: kubeconfig
    )
    let ns = "rollout-\(UInt32.random(in: 0...UInt32.max))"
    _ = try await admin.create(Namespace(name: ns))
    let reconciler = ServiceReconciler(
      client: admin, registry: MetricsRegistry(includeProcessMetrics: false), namespaces: [ns], argoRollouts: true,
      logger: Logger(label: "service"))
    // The Rollout exists before the reconciler starts, as when a replica becomes the leader: it is reconciled too.
    _ = try kubectl(
      ["apply", "-f", "-"], kubeconfig: kubeconfig,
      input: Self.workload("argoproj.io/v1alpha1", "Rollout", name: "canary", namespace: ns, appID: "canary"))
    try await withRunningServices([LeaderOnlyControllers(elector: nil, reconciler: reconciler)]) {
      try await eventually("the Rollout's Service exists") {
        (try? await admin.get(KubernetesService.self, namespace: ns, name: "canary-dapr")) != nil
      }
      let service = try await admin.get(KubernetesService.self, namespace: ns, name: "canary-dapr")
      let owner = service.json["metadata"]?["ownerReferences"]?.arrayValue?.first
      #expect(owner?["kind"]?.stringValue == "Rollout" && owner?["apiVersion"]?.stringValue == "argoproj.io/v1alpha1")
      #expect(service.json["spec"]?["selector"] == ["app": "canary"])
    }
    try? await admin.delete(Namespace.self, name: ns)
    await admin.shutdown()
  }

  @Test func anAnnotatedDeploymentGetsItsDaprServiceAndAHandEditIsReverted() async throws {
    let cluster = try await LocalKubernetes.shared.cluster()
    let admin = try cluster.adminClient()
    let ns = "svc-\(UInt32.random(in: 0...UInt32.max))"
    _ = try await admin.create(Namespace(name: ns))
    let registry = MetricsRegistry(includeProcessMetrics: false)
    let reconciler = ServiceReconciler(
      client: admin, registry: registry, namespaces: [ns], logger: Logger(label: "service"))
    try await withRunningServices([LeaderOnlyControllers(elector: nil, reconciler: reconciler)]) {
      _ = try kubectl(
        ["apply", "-f", "-"], kubeconfig: cluster.kubeconfigPath,
        input: Self.workload("apps/v1", "Deployment", name: "checkout", namespace: ns, appID: "cart"))
      try await eventually("the cart-dapr Service exists") {
        (try? await admin.get(KubernetesService.self, namespace: ns, name: "cart-dapr")) != nil
      }
      let service = try await admin.get(KubernetesService.self, namespace: ns, name: "cart-dapr")
      #expect(service.json["spec"]?["clusterIP"]?.stringValue == "None")
      #expect(service.json["metadata"]?["ownerReferences"]?.arrayValue?.first?["name"]?.stringValue == "checkout")

      // A hand edit of the ports is put back.
      _ = try await admin.patch(
        KubernetesService.self, namespace: ns, name: "cart-dapr",
        .json([JSONPatchOperation(op: "replace", path: "/spec/ports/0/port", value: 8080)]))
      try await eventually("the edit is reverted") {
        let current = try await admin.get(KubernetesService.self, namespace: ns, name: "cart-dapr")
        return current.json["spec"]?["ports"]?.arrayValue?.first?["port"]?.intValue == 80
      }
      // The counter moves just after the API call the test has already seen.
      try await eventually("the revert is counted") {
        String(decoding: registry.exposition(), as: UTF8.self)
          .contains("dapr_operator_service_updated_total{app_id=\"cart\"} 1")
      }
      let page = String(decoding: registry.exposition(), as: UTF8.self)
      #expect(page.contains("dapr_operator_service_created_total{app_id=\"cart\"} 1"))
    }
    try? await admin.delete(Namespace.self, name: ns)
    await admin.shutdown()
  }
}

@Suite(.serialized, .timeLimit(.minutes(3))) struct ConversionWebhookIntegrationTests {
  @Test func aV1alpha1SubscriptionComesBackAsV2alpha1ThroughTheWebhook() async throws {
    let (cluster, admin, ns) = try await namespaceWithDaprCRDs("conv")
    let ca = try TestCertificateAuthority()
    let listening = Signal<Int>()
    var webhook = ConversionWebhook(
      host: "127.0.0.1", port: 0,
      identity: LatestValue(try ca.issue(spiffeID: nil, ipAddresses: [[127, 0, 0, 1]])), logger: Logger(label: "conv"))
    webhook.onListening = { listening.fire($0) }
    try await withRunningServices([webhook]) {
      let port = try await listening.value()
      let patcher = SubscriptionCRDPatcher(
        client: admin, anchors: LatestValue(ca.trustBundle),
        clientConfig: ["url": .string("https://127.0.0.1:\(port)/convert")],
        logger: Logger(label: "conv"))
      try await withRunningServices([patcher]) {
        try await eventually("the CRD converts through the webhook") {
          let crd = try await admin.get(CustomResourceDefinition.self, name: "subscriptions.dapr.io")
          return crd.json["spec"]?["conversion"]?["strategy"]?.stringValue == "Webhook"
        }
        // Until the API server has reloaded the CRD, a v1alpha1 write may still go through the old strategy.
        try await eventually("a v1alpha1 Subscription is stored through the webhook", within: .seconds(30)) {
          _ = try? kubectl(
            ["delete", "subscription", "orders", "-n", ns, "--ignore-not-found"], kubeconfig: cluster.kubeconfigPath)
          _ = try kubectl(
            ["apply", "-f", "-"], kubeconfig: cluster.kubeconfigPath,
            input: """
              apiVersion: dapr.io/v1alpha1
              kind: Subscription
              metadata: {name: orders, namespace: \(ns)}
              spec: {pubsubname: pubsub, topic: orders, route: /orders}
              """)
          let stored = try kubectl(
            ["get", "subscriptions.v2alpha1.dapr.io", "orders", "-n", ns, "-o", "json"],
            kubeconfig: cluster.kubeconfigPath)
          let object = try JSONCoding.parse(Data(stored.utf8))
          return object["spec"]?["routes"]?["default"]?.stringValue == "/orders"
        }
      }
    }
    _ = try await admin.patch(
      CustomResourceDefinition.self, name: "subscriptions.dapr.io",
      .merge(["spec": ["conversion": ["strategy": "None", "webhook": nil]]]))
    try? await admin.delete(Namespace.self, name: ns)
    await admin.shutdown()
  }
}

@Suite(.serialized, .timeLimit(.minutes(3))) struct OperatorLeadershipIntegrationTests {
  @Test func oneOfTwoReplicasReconcilesAndWhenItStopsTheOtherTakesOverWithinALeaseDuration() async throws {
    let cluster = try await LocalKubernetes.shared.cluster()
    let admin = try cluster.adminClient()
    let ns = "lease-\(UInt32.random(in: 0...UInt32.max))"
    _ = try await admin.create(Namespace(name: ns))
    let timings = LeaderElectionTimings(
      leaseDuration: .seconds(3), renewDeadline: .seconds(2), retryPeriod: .milliseconds(500))
    func replica(_ identity: String) -> (LeaderElector, LeaderOnlyControllers) {
      let elector = LeaderElector(
        client: admin, leaseName: "operator.dapr.io", namespace: ns, identity: identity, timings: timings,
        logger: Logger(label: identity))
      let reconciler = ServiceReconciler(
        client: admin, registry: MetricsRegistry(includeProcessMetrics: false), namespaces: [ns],
        logger: Logger(label: identity))
      return (elector, LeaderOnlyControllers(elector: elector, reconciler: reconciler))
    }
    let (electorA, controllersA) = replica("operator-a")
    let (electorB, controllersB) = replica("operator-b")
    let (stopA, stopB) = (Signal<Void>(), Signal<Void>())
    func deployment(_ name: String) -> String {
      ServiceReconcilerIntegrationTests.workload("apps/v1", "Deployment", name: name, namespace: ns, appID: name)
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await withRunningServices([electorA, controllersA]) { try await stopA.value() } }
      group.addTask { try await withRunningServices([electorB, controllersB]) { try await stopB.value() } }
      defer {
        stopA.fire(())
        stopB.fire(())
      }
      try await eventually("one replica holds the Lease") { electorA.isLeader.current != electorB.isLeader.current }
      let aLeads = electorA.isLeader.current
      _ = try kubectl(["apply", "-f", "-"], kubeconfig: cluster.kubeconfigPath, input: deployment("first"))
      try await eventually("the leader creates first-dapr") {
        (try? await admin.get(KubernetesService.self, namespace: ns, name: "first-dapr")) != nil
      }
      let stopped = ContinuousClock.now
      (aLeads ? stopA : stopB).fire(())
      let follower = aLeads ? electorB : electorA
      try await eventually("the other replica takes the Lease", within: .seconds(10)) { follower.isLeader.current }
      // The Lease can be taken once it expires, a lease duration after the last renewal; allow one more for load.
      #expect(ContinuousClock.now - stopped < timings.leaseDuration * 2)
      _ = try kubectl(["apply", "-f", "-"], kubeconfig: cluster.kubeconfigPath, input: deployment("second"))
      try await eventually("the new leader creates second-dapr") {
        (try? await admin.get(KubernetesService.self, namespace: ns, name: "second-dapr")) != nil
      }
    }
    try? await admin.delete(Namespace.self, name: ns)
    await admin.shutdown()
  }
}

@Suite(.timeLimit(.minutes(2))) struct CRDValidationTests {
  @Test(
    "Malformed resources are refused by the CRD schema with the field named",
    arguments: [
      ("Component", "spec: {version: v1, metadata: []}", "spec.type"),
      ("Component", "spec: {type: state.redis, version: v1, metadata: [{value: x}]}", "spec.metadata.name"),
      ("Subscription", "spec: {pubsubname: p, topic: t}", "spec.routes"),
      ("HTTPEndpoint", "spec: {headers: []}", "spec.baseUrl"),
    ])
  func refused(kind: String, spec: String, field: String) async throws {
    let cluster = try await LocalKubernetes.shared.cluster()
    let admin = try cluster.adminClient()
    try await cluster.installDaprCRDs(admin)
    await admin.shutdown()
    let version = kind == "Subscription" ? "v2alpha1" : "v1alpha1"
    do {
      _ = try kubectl(
        ["apply", "--dry-run=server", "--validate=false", "-f", "-"], kubeconfig: cluster.kubeconfigPath,
        input: "apiVersion: dapr.io/\(version)\nkind: \(kind)\nmetadata: {name: bad, namespace: default}\n\(spec)\n")
      Issue.record("a malformed \(kind) was accepted")
    } catch {
      #expect("\(error)".contains(field), "\(error)")
    }
  }
}

@Suite(.serialized, .timeLimit(.minutes(3))) struct WatchdogIntegrationTests {
  @Test func theWatchdogWaitsForTheInjectorThenDeletesPodsMissingTheSidecarAndLabelsTheRest() async throws {
    let cluster = try await LocalKubernetes.shared.cluster()
    let admin = try cluster.adminClient()
    let ns = "watchdog-\(UInt32.random(in: 0...UInt32.max))"
    try await cluster.createNamespaceForPods(ns, client: admin)
    for (name, containers, enabled) in [
      ("orphan", ["app"], "true"), ("injected", ["app", "daprd"], "true"), ("plain", ["app"], "false"),
    ] {
      var pod = Pod(name: name, namespace: ns)
      pod.metadata.annotations = ["dapr.io/enabled": enabled]
      pod.spec.containers = containers.map { Container(name: $0, image: "nginx") }
      _ = try await admin.create(pod)
    }

    let looks = LatestValue(0)
    let injectorReady = LatestValue(false)
    var watchdog = PodWatchdog(
      client: admin, schedule: .once, maxRestartsPerMinute: 20, canPatchLabels: true, namespaces: [ns],
      logger: Logger(label: "watchdog"))
    watchdog.injectorRetry = .milliseconds(50)
    watchdog.injectorReady = { _ in
      looks.set(looks.current + 1)
      return injectorReady.current
    }
    let configured = watchdog
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await configured.run() }
      // Two looks without a ready injector: nothing may be deleted yet.
      try await eventually("the watchdog looked for the injector twice") { looks.current >= 2 }
      #expect(try await admin.list(Pod.self, namespace: ns).items.count == 3)
      injectorReady.set(true)
      try await group.waitForAll()
    }
    let left = try await admin.list(Pod.self, namespace: ns).items
    #expect(Set(left.compactMap(\.metadata.name)) == ["injected", "plain"])
    #expect(left.first { $0.metadata.name == "injected" }?.metadata.labels?["dapr.io/watchdog-patched"] == "true")
    try? await admin.delete(Namespace.self, name: ns)
    await admin.shutdown()
  }
}
