import AsyncHTTPClient
import ControlPlaneKit
import ControlPlaneTestSupport
import DaprProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Kubernetes
import Logging
import NIOSSL
import PlacementSimulator
import Testing

/// The default install, applied with kubectl to an API server of its own that records every request, then each
/// binary run as a process from the chart's own container (its command, flags and environment, with loopback ports)
/// under the chart's service account for it. Each does its job; afterwards the audit log shows that no request of
/// theirs was forbidden and that every rule the chart grants was used, or is listed below with why it is kept.
@Suite(.serialized, .timeLimit(.minutes(8))) struct ChartInstallTests {
  static let namespace = "dapr-system"
  static let samples = "dapr-samples"

  /// Rules a default install grants that this test's run does not exercise, with the reason each is kept:
  /// `service account → "verb group/resource"`.
  static let keptRules: [String: [String: String]] = [
    "dapr-sentry": [
      "get /pods":
        "a pod created a moment before its first sign request may not be in sentry's pod cache yet; sentry then reads it directly"
    ],
    "dapr-operator": [
      "delete /pods": "the watchdog deletes pods that missed their sidecar (--watch-interval, off by default)",
      "get /pods": "the watchdog reads a pod before deleting it (--watch-interval, off by default)",
      "update apps/deployments/finalizers":
        "the Service's owner reference blocks owner deletion, which the OwnerReferencesPermissionEnforcement admission plugin (OpenShift, some managed clusters) checks as this verb",
      "update apps/statefulsets/finalizers": "as for Deployments",
    ],
  ]

  @Test func theDefaultInstallWorksWithEveryRequestAllowedAndEveryGrantedRuleUsed() async throws {
    let dedicated = try await LocalKubernetes.dedicated(audit: true)
    defer { dedicated.stop() }
    let cluster = dedicated.cluster
    let kubeconfig = cluster.kubeconfigPath
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("install-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: work) }
    let installation = try LocalInstallation(
      cluster: cluster,
      install: try RenderedInstall.render(namespace: Self.namespace, sets: ["global.kubeVersion=1.20.0"]), work: work)
    let (install, admin) = (installation.install, installation.admin)

    // --- kubectl apply, as a user without Helm would (deploy/dapr.yaml is the same objects) ---------------------
    try installation.apply()
    let resources = try RenderedInstall.yaml(install.resources)
    // Every object is there.
    let listed = try Kubectl.run(["get", "-f", "-", "-o", "name"], kubeconfig: kubeconfig, input: resources)
    #expect(listed.split(separator: "\n").count == install.resources.count, "\(listed)")
    for crd in install.customResourceDefinitions {
      let name = try #require(crd["metadata"]?["name"]?.stringValue)
      #expect(try await admin.get(CustomResourceDefinition.self, name: name).isEstablished)
    }

    // --- users' resources of every kind apply; a malformed one is refused with the field named ---------------------
    try await Self.applySamples(cluster: cluster, admin: admin)
    let refused = try ExternalTool(
      "kubectl",
      ["--kubeconfig", kubeconfig, "apply", "-f", Self.fixtures.appendingPathComponent("invalid-component.yaml").path]
    ).run()
    #expect(!refused.succeeded)
    #expect(refused.standardError.contains("version"), "\(refused.standardError)")

    // --- the four binaries, each from its container in the chart, under its own service account -----------------
    let started = try await installation.startControlPlane()
    var running = started.binaries
    let endpoints = started.endpoints
    defer { for binary in running.values { binary.process.signal() } }
    let anchors = try String(contentsOfFile: installation.trustAnchorsFile, encoding: .utf8)
    let sentryAddress = "127.0.0.1:\(endpoints.sentry)"
    let (operatorPort, injectorPort, placementPort) = (endpoints.operatorAPI, endpoints.injector, endpoints.placement)

    // --- each does its job ----------------------------------------------------------------------------------------
    // Placement leads through its Lease, under its pod's name.
    let placementPod = running["placement"]?.pod
    try await eventually("placement holds its Lease") {
      try await admin.get(Lease.self, namespace: Self.namespace, name: "dapr-placement-server").spec.holderIdentity
        == placementPod
    }
    // The injector put the trust anchors into its webhook's caBundle, and answers a review with daprd.
    try await eventually("the injector patched the webhook's caBundle") {
      let webhook = try await admin.get(MutatingWebhookConfiguration.self, name: "dapr-sidecar-injector")
      return webhook.json["webhooks"]?.arrayValue?.first?["clientConfig"]?["caBundle"]?.stringValue
        == Data(anchors.utf8).base64EncodedString()
    }
    let review = try await Self.review(port: injectorPort, anchors: anchors)
    #expect(review["response"]?["allowed"]?.boolValue == true, "\(review)")
    let patch = try #require(review["response"]?["patch"]?.stringValue.flatMap { Data(base64Encoded: $0) })
    #expect(String(decoding: patch, as: UTF8.self).contains("\"name\":\"daprd\""))
    // A review the injector must refuse (an app id that is no DNS label) is answered allowed:false.
    let refusedReview = try await Self.review(port: injectorPort, anchors: anchors, appID: "Not_A_Label")
    #expect(refusedReview["response"]?["allowed"]?.boolValue == false, "\(refusedReview)")
    // A sidecar with an SVID from sentry: the operator serves it a List and an update stream, placement a table.
    let sidecar = try await Self.sidecarIdentity(
      sentryAddress: sentryAddress, anchors: anchors, admin: admin, work: work)
    let components = try await Self.listComponents(
      operatorPort: operatorPort, sidecar: sidecar,
      streamUntil: { [running] in
        try await Self.metric("dapr_operator_connected_streams", of: running["operator"]!) == 1
      })
    #expect(components == ["statestore"])
    let table = try await Self.joinPlacement(port: placementPort, sidecar: sidecar)
    #expect(table.tables.entries["Cart"] != nil, "\(table)")
    try Kubectl.run(["apply", "-f", "-"], kubeconfig: kubeconfig, input: Self.annotatedDeployment)
    try await eventually("the operator creates Service checkout-dapr") {
      (try? await admin.get(KubernetesService.self, namespace: Self.samples, name: "checkout-dapr")) != nil
    }
    // A hand edit is reverted (the Service reconciler's update path).
    try Kubectl.run(
      ["annotate", "service", "checkout-dapr", "-n", Self.samples, "prometheus.io/scrape=false", "--overwrite"],
      kubeconfig: kubeconfig)
    try await eventually("the operator reverts the hand edit") {
      try await admin.get(KubernetesService.self, namespace: Self.samples, name: "checkout-dapr").metadata.annotations?[
        "prometheus.io/scrape"] == "true"
    }
    // A workload that stops using Dapr loses its Service (ours deletes it; Dapr's leaves it behind).
    try Kubectl.run(
      [
        "patch", "deployment", "checkout", "-n", Self.samples, "--type", "merge", "-p",
        #"{"spec":{"template":{"metadata":{"annotations":{"dapr.io/enabled":"false"}}}}}"#,
      ], kubeconfig: kubeconfig)
    try await eventually("the operator deletes Service checkout-dapr") {
      (try? await admin.get(KubernetesService.self, namespace: Self.samples, name: "checkout-dapr")) == nil
    }
    // A Component whose Secret is missing is reported with an Event (the operator's only write outside Services).
    try Kubectl.run(
      ["apply", "-f", "-"], kubeconfig: kubeconfig,
      input: """
        apiVersion: dapr.io/v1alpha1
        kind: Component
        metadata: {name: no-secret, namespace: \(Self.samples)}
        spec:
          type: state.redis
          version: v1
          metadata: [{name: redisPassword, secretKeyRef: {name: absent, key: password}}]
        """)
    _ = try? await Self.listComponents(operatorPort: operatorPort, sidecar: sidecar)
    try await eventually("the operator records a SecretNotFound Event") {
      try await admin.list(Event.self, namespace: Self.samples).items.contains { $0.reason == "SecretNotFound" }
    }

    // --- every metric the dashboards and alerts name is on the binaries' pages ------------------------------------
    let monitoring = try RenderedInstall.render(namespace: Self.namespace, sets: ChartTests.monitoring)
    let named = MonitoringQueries.metricNames(in: monitoring)
    #expect(named.count >= 20, "\(named.sorted())")
    var exposed: Set<String> = []
    for binary in running.values { exposed.formUnion(try await Self.sampleNames(of: binary)) }
    #expect(
      named.subtracting(exposed).isEmpty,
      "named by dashboards or alerts but exposed by no binary: \(named.subtracting(exposed).sorted())")

    // --- stop, then read the audit log -------------------------------------------------------------------------------
    // A stop within its deadline logs nothing above info: a service that ignores the graceful stop is cancelled at
    // the deadline, and that shows as errors (a server's "Waiting on child channel") or a lease not released.
    let logged = running.mapValues { $0.process.capturedOutput.count }
    for binary in running.values { binary.process.signal() }
    for (name, binary) in running {
      let status = try await binary.process.exitStatus()
      #expect(status == 0, "\(name) exited with \(status):\n\(binary.process.capturedOutput.suffix(3000))")
      let stopping = binary.process.capturedOutput.dropFirst(logged[name] ?? 0)
      let loud = stopping.split(separator: "\n").filter {
        $0.contains("level=error") || $0.contains("level=warning") || $0.contains(#""level":"error""#)
          || $0.contains(#""level":"warning""#)
      }
      #expect(loud.isEmpty, "\(name) while stopping:\n\(loud.joined(separator: "\n"))")
    }
    running = [:]
    await admin.shutdown()
    let requests = try AuditLog.read(try #require(dedicated.auditLogPath))
      .filter { $0.user.hasPrefix("system:serviceaccount:\(Self.namespace):") }
    #expect(!requests.isEmpty)
    let forbidden = requests.filter { $0.code == 403 }
    #expect(forbidden.isEmpty, "forbidden: \(forbidden.map(\.description).joined(separator: "\n"))")
    let comparison = RBACComparison(install: install, requests: requests)
    var unexplained: [String] = []
    for (account, grants) in comparison.unusedGrants {
      for grant in grants where Self.keptRules[account]?[grant] == nil {
        unexplained.append("\(account): \(grant)")
      }
    }
    #expect(unexplained.isEmpty, "granted but never used, with no reason given: \(unexplained.sorted())")
    for (account, kept) in Self.keptRules {
      for grant in kept.keys {
        #expect(
          comparison.unusedGrants[account]?.contains(grant) == true,
          "\(account): \(grant) is listed as kept but was used (or is no longer granted); drop it from keptRules")
      }
    }
  }

  @Test func withSecretReaderNamespacesTheOperatorReadsSecretsThereOnlyAndSaysWhyElsewhere() async throws {
    let dedicated = try await LocalKubernetes.dedicated(audit: true)
    defer { dedicated.stop() }
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("secrets-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: work) }
    let installation = try LocalInstallation(
      cluster: dedicated.cluster,
      install: try RenderedInstall.render(
        namespace: Self.namespace,
        sets: ["global.kubeVersion=1.20.0", "dapr_rbac.secretReader.namespaces={\(Self.samples)}"]),
      work: work)
    #expect(
      !installation.install.objects(kind: "ClusterRole").contains { role in
        role["rules"]?.arrayValue?.contains { $0["resources"]?.arrayValue?.contains("secrets") == true } == true
      })
    // The namespaces the Roles go to exist first (Helm, too, cannot create a Role in a missing namespace).
    try await dedicated.cluster.createNamespaceForPods(Self.samples, client: installation.admin)
    try installation.apply()
    try await Self.applySamples(cluster: dedicated.cluster, admin: installation.admin)
    // A Component in a namespace the operator may not read Secrets in.
    try await dedicated.cluster.createNamespaceForPods("elsewhere", client: installation.admin)
    try Kubectl.run(
      ["apply", "-f", "-"], kubeconfig: dedicated.cluster.kubeconfigPath,
      input: """
        apiVersion: dapr.io/v1alpha1
        kind: Component
        metadata: {name: store, namespace: elsewhere}
        spec:
          type: state.redis
          version: v1
          metadata: [{name: redisPassword, secretKeyRef: {name: redis, key: password}}]
        """)
    let sentryPort = freeLocalPort()
    let sentry = try await installation.start(
      "sentry", extraArguments: ["--port", "\(sentryPort)", "--listen-address", "127.0.0.1"])
    defer { sentry.process.signal() }
    let anchors = try await installation.waitForTrustAnchors()
    let sentryAddress = "127.0.0.1:\(sentryPort)"
    let operatorPort = freeLocalPort()
    let operatorProcess = try await installation.start(
      "operator",
      extraArguments: [
        "--port", "\(operatorPort)", "--listen-address", "127.0.0.1", "--webhook-server-port", "\(freeLocalPort())",
        "--webhook-server-listen-address", "127.0.0.1", "--trust-anchors-file", installation.trustAnchorsFile,
      ],
      environment: ["DAPR_SENTRY_ADDRESS": sentryAddress, "DAPR_TRUST_ANCHORS_FILE": installation.trustAnchorsFile])
    defer { operatorProcess.process.signal() }
    // Ready (its Secret caches synced within its Roles), and the sample's Secret is filled in.
    let sidecar = try await Self.sidecarIdentity(
      sentryAddress: sentryAddress, anchors: anchors, admin: installation.admin, work: work)
    #expect(try await Self.listComponents(operatorPort: operatorPort, sidecar: sidecar) == ["statestore"])
    // A sidecar elsewhere gets no Component that needs a Secret, and the Component says why.
    let stranger = try await Self.sidecarIdentity(
      sentryAddress: sentryAddress, anchors: anchors, admin: installation.admin, work: work, namespace: "elsewhere")
    #expect(try await Self.listComponents(operatorPort: operatorPort, sidecar: stranger, namespace: "elsewhere") == [])
    try await eventually("the operator says why the Component elsewhere gets no Secret") {
      try await installation.admin.list(Event.self, namespace: "elsewhere").items.contains {
        $0.reason == "SecretNotFound" && ($0.message ?? "").contains("may read Secrets only in \(Self.samples)")
      }
    }
    operatorProcess.process.signal()
    sentry.process.signal()
    _ = try await operatorProcess.process.exitStatus()
    let forbidden = try AuditLog.read(try #require(dedicated.auditLogPath)).filter {
      $0.user == "system:serviceaccount:\(Self.namespace):dapr-operator" && $0.code == 403
    }
    #expect(forbidden.isEmpty, "\(forbidden.map(\.description))")
  }

  static let fixtures = LocalKubernetes.repositoryRoot.appendingPathComponent("Tests/PackagingTests/Fixtures")

  /// The samples namespace with Secret `redis` and one resource of every Dapr kind.
  static func applySamples(cluster: LocalKubernetes.Cluster, admin: KubernetesClient) async throws {
    if (try? await admin.get(Namespace.self, name: samples)) == nil {
      try await cluster.createNamespaceForPods(samples, client: admin)
    }
    try Kubectl.run(
      ["create", "secret", "generic", "redis", "-n", samples, "--from-literal=password=s3cret"],
      kubeconfig: cluster.kubeconfigPath)
    let applied = try Kubectl.run(
      ["apply", "-f", fixtures.appendingPathComponent("samples.yaml").path], kubeconfig: cluster.kubeconfigPath)
    for kind in [
      "component", "configuration", "resiliency", "httpendpoint", "mcpserver", "workflowaccesspolicy", "subscription",
    ] {
      #expect(applied.contains("\(kind).dapr.io/"), "\(applied)")
    }
  }

  static let annotatedDeployment = """
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: checkout, namespace: \(samples)}
    spec:
      selector: {matchLabels: {app: checkout}}
      template:
        metadata:
          labels: {app: checkout}
          annotations: {dapr.io/enabled: "true", dapr.io/app-id: checkout}
        spec:
          containers: [{name: app, image: checkout:1}]
    """

  /// An AdmissionReview of an annotated pod, sent to the injector over TLS verified against the trust anchors.
  static func review(port: Int, anchors: String, appID: String = "checkout") async throws -> JSONValue {
    var tls = TLSConfiguration.makeClientConfiguration()
    tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(anchors.utf8)))
    // The certificate names dapr-sidecar-injector.dapr-system.svc, which loopback is not.
    tls.certificateVerification = .noHostnameVerification
    let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
    defer { _ = http.shutdown() }
    let body: JSONValue = [
      "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
      "request": [
        "uid": "install-test", "kind": ["group": "", "version": "v1", "kind": "Pod"],
        "resource": ["group": "", "version": "v1", "resource": "pods"], "operation": "CREATE",
        "namespace": .string(samples), "userInfo": ["username": "admin", "groups": ["system:masters"]],
        "object": [
          "apiVersion": "v1", "kind": "Pod",
          "metadata": [
            "name": "checkout-1", "namespace": .string(samples),
            "annotations": ["dapr.io/enabled": "true", "dapr.io/app-id": .string(appID)],
          ],
          "spec": ["containers": [["name": "app", "image": "checkout:1"]]],
        ],
      ],
    ]
    var request = HTTPClientRequest(url: "https://127.0.0.1:\(port)/mutate")
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    request.body = .bytes(try JSONCoding.encode(body))
    let response = try await http.execute(request, timeout: .seconds(10))
    #expect(response.status == .ok)
    return try JSONCoding.parse(Data(buffer: try await response.body.collect(upTo: 1 << 20)))
  }

  /// An SVID from sentry for a pod of app `checkout`, with the trust anchors it was checked against.
  static func sidecarIdentity(
    sentryAddress: String, anchors: String, admin: KubernetesClient, work: URL, namespace appNamespace: String = samples
  ) async throws -> (identity: TLSIdentity, anchors: LatestValue<TrustBundle>) {
    var pod = Pod(name: "checkout-sidecar", namespace: appNamespace)
    pod.metadata.annotations = ["dapr.io/app-id": "checkout"]
    pod.spec.containers = [Container(name: "app", image: "checkout:1")]
    pod.spec.serviceAccountName = "default"
    pod = try await admin.create(pod)
    let token = work.appendingPathComponent("checkout-\(appNamespace).token").path
    try await ServiceAccountCredentials.writeBoundToken(
      admin: admin, serviceAccount: "default", namespace: appNamespace, pod: pod,
      audience: "spiffe://cluster.local/ns/\(namespace)/dapr-sentry", to: token)
    let bundle = LatestValue(try TrustBundle(pemEncoded: anchors))
    let (host, port) = try hostAndPort(sentryAddress, name: "sentry")
    let svid = SVIDClient(
      request: .init(appID: "checkout", namespace: appNamespace, trustDomain: "", tokenFile: token),
      sentryHost: host, sentryPort: port,
      sentryID: try SPIFFEID(trustDomain: "cluster.local", namespace: namespace, appID: "dapr-sentry"),
      trustAnchors: bundle, logger: Logger(label: "sidecar"))
    return (try await svid.fetchInitial(), bundle)
  }

  /// A client transport to a control-plane service on loopback, over mTLS with `sidecar`'s SVID, the server's
  /// SPIFFE id pinned as daprd pins it.
  static func transport(
    port: Int, service: String, sidecar: (identity: TLSIdentity, anchors: LatestValue<TrustBundle>)
  )
    throws -> HTTP2ClientTransport.Posix
  {
    let server = try SPIFFEID(trustDomain: "cluster.local", namespace: namespace, appID: service)
    let anchors = sidecar.anchors
    return try SecureGRPC.clientTransport(
      host: "127.0.0.1", port: port,
      security: .tls(
        identity: LatestValue(sidecar.identity),
        verifier: SPIFFEPeerVerifier(trustAnchors: { anchors.current }, requirement: .exactly(server))))
  }

  /// The names ListComponents gives app `checkout` in the samples namespace; with `streamUntil`, a ComponentUpdate
  /// stream is also held open until the condition holds.
  static func listComponents(
    operatorPort: Int, sidecar: (identity: TLSIdentity, anchors: LatestValue<TrustBundle>),
    namespace appNamespace: String = samples, streamUntil: (@Sendable () async throws -> Bool)? = nil
  ) async throws -> [String] {
    let transport = try transport(port: operatorPort, service: "dapr-operator", sidecar: sidecar)
    return try await withGRPCClient(transport: transport) { grpc -> [String] in
      let api = Dapr_Proto_Operator_V1_Operator.Client(wrapping: grpc)
      var request = Dapr_Proto_Operator_V1_ListComponentsRequest()
      request.namespace = appNamespace
      let listed = try await api.listComponents(request)
      if let streamUntil {
        try await withThrowingTaskGroup(of: Void.self) { group in
          group.addTask {
            var update = Dapr_Proto_Operator_V1_ComponentUpdateRequest()
            update.namespace = samples
            try await api.componentUpdate(update) { response in for try await _ in response.messages {} }
          }
          try await eventually("the operator counts the update stream", streamUntil)
          group.cancelAll()
        }
      }
      return try listed.components.map { try JSONCoding.parse($0)["metadata"]?["name"]?.stringValue ?? "" }.sorted()
    }
  }

  /// Joins placement with actor type `Cart` and returns the first table it disseminates.
  static func joinPlacement(
    port: Int, sidecar: (identity: TLSIdentity, anchors: LatestValue<TrustBundle>)
  )
    async throws -> SimulatedSidecar.Order
  {
    let transport = try transport(port: port, service: "dapr-placement", sidecar: sidecar)
    return try await withGRPCClient(transport: transport) { grpc in
      let host = SimulatedSidecar(
        name: "127.0.0.1:50002", appID: "checkout", namespace: samples, actorTypes: ["Cart"])
      return try await withThrowingTaskGroup(of: SimulatedSidecar.Order?.self) { group in
        group.addTask {
          _ = await host.run(on: grpc)
          return nil
        }
        group.addTask { try await host.waitFor("update") }
        var table: SimulatedSidecar.Order?
        while table == nil, let next = try await group.next() { table = next }
        host.close()
        group.cancelAll()
        return try #require(table)
      }
    }
  }

  /// The names of the samples on a binary's metrics page.
  static func sampleNames(of binary: RunningBinary) async throws -> Set<String> {
    let text = try await binary.metricsPage()
    return Set(
      text.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap {
        $0.split(whereSeparator: { $0 == "{" || $0 == " " }).first.map(String.init)
      })
  }

  /// The sum of a metric's samples on a binary's page.
  static func metric(_ name: String, of binary: RunningBinary) async throws -> Double {
    let text = try await binary.metricsPage()
    return text.split(separator: "\n").filter { $0.hasPrefix(name + "{") || $0.hasPrefix(name + " ") }
      .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
  }
}
