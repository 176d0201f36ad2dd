import AsyncHTTPClient
import ControlPlaneKit
import ControlPlaneTestSupport
import Foundation
import Kubernetes
import Logging
import Testing

/// The four binaries serving simulated sidecars together, on a real API server, as a user runs them (see
/// ``EndToEndEnvironment``). The suite is serialized: the tests share the processes, and some stop one.
@Suite(.serialized, .timeLimit(.minutes(10))) struct EndToEndTests {
  @Test func anAnnotatedDeploymentsPodsGetDaprdAndTheirSidecarsAnIdentityAndTheNamespacesComponents() async throws {
    let env = try await EndToEndEnvironment.shared()
    let ns = try await env.namespace("e2e-inject")
    try Kubectl.run(
      ["apply", "-f", "-"], kubeconfig: env.kubeconfig,
      input: EndToEndEnvironment.component("statestore", namespace: ns) + "---\n"
        + EndToEndEnvironment.component("orders-only", namespace: ns, scopes: ["orders"]) + "---\n"
        + EndToEndEnvironment.deployment("cart", namespace: ns, replicas: 1))
    // The API server called the injector through the chart's webhook configuration.
    let pod = try #require(try await env.injectedPods(namespace: ns, app: "cart", count: 1).first)
    let containers = pod.json["spec"]?["containers"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
    #expect(containers == ["cart", "daprd"])
    #expect(pod.metadata.labels?["dapr.io/sidecar-injected"] == "true")
    try await env.waitUntilHealthy([pod])
    let details = try await env.get(env.sidecarURL(namespace: ns, pod: pod.metadata.name!, "v1.0-sim/details")).body
    #expect(details["identity"]?["spiffeID"]?.stringValue == "spiffe://public/ns/\(ns)/cart")
    let metadata = try await env.get(env.sidecarURL(namespace: ns, pod: pod.metadata.name!, "v1.0/metadata")).body
    #expect(metadata["id"]?.stringValue == "cart")
    #expect(metadata["components"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["statestore"])
  }

  @Test func kubectlApplyShowsTheInjectorsWarningsAndThePodIsCreatedWithTheDefaults() async throws {
    let env = try await EndToEndEnvironment.shared()
    let ns = try await env.namespace("e2e-warnings")
    // Created by the administrator (system:masters, on the injector's allow-list), so the review's warnings come
    // back to this kubectl; a controller-made pod's go to the controller, and to the injector's log and metric.
    let result = try ExternalTool("kubectl", ["--kubeconfig", env.kubeconfig, "apply", "-f", "-"]).run(
      input: """
        apiVersion: v1
        kind: Pod
        metadata:
          name: warned
          namespace: \(ns)
          annotations:
            dapr.io/enabled: "true"
            dapr.io/app-id: warned
            dapr.io/app-port: " 8080"
            dapr.io/metrics-port: "4294967297"
            dapr.io/log-level: ""
            dapr.io/volume-mounts: "certs:/mnt/certs:ro"
            dapr.io/env: " A = 1 "
            dapr.io/env-from-secret: "K=s:k:x"
            dapr.io/app-protcol: grpc
            dapr.io/sidecar-cpu-limit: lots
        spec:
          containers: [{name: app, image: app:1}]
          volumes: [{name: certs, emptyDir: {}}]
        """)
    #expect(result.succeeded, "\(result.standardError)")
    let lines = result.standardError.split(separator: "\n").filter { $0.hasPrefix("Warning: ") }
    for expected in [
      #"Warning: dapr.io/app-port: " 8080" is not an integer (remove the spaces); leaving it out"#,
      "Warning: dapr.io/metrics-port: 4294967297 is out of range (1 to 65535); using the default, 9090",
      "Warning: dapr.io/log-level is empty; using the default, info",
      #"Warning: dapr.io/volume-mounts: "certs:/mnt/certs:ro" is not <volume>:<path>; it is skipped"#,
      #"Warning: dapr.io/env: the name "A " has spaces; using A"#,
      #"Warning: dapr.io/env-from-secret: K="s:k:x" is not <secret> or <secret>:<key>; K is left out"#,
      "Warning: dapr.io/app-protcol is not a Dapr annotation and is ignored; did you mean dapr.io/app-protocol?",
      #"Warning: dapr.io/sidecar-cpu-limit: "lots" is not a Kubernetes quantity; the sidecar gets no requests or limits"#,
    ] {
      #expect(lines.contains(Substring(expected)), "missing \(expected) in \(lines)")
    }
    // The API server took the pod: every value it would have refused was replaced.
    let pod = try await env.admin.get(Pod.self, namespace: ns, name: "warned")
    let daprd = try #require(pod.json["spec"]?["containers"]?.arrayValue?.first { $0["name"] == "daprd" })
    let args = daprd["args"]?.arrayValue?.compactMap(\.stringValue) ?? []
    #expect(!args.contains("--app-port") && args.contains("info"))
    #expect(daprd["env"]?.arrayValue?.contains { $0["name"] == "A" && $0["value"] == " 1" } == true)
    #expect(daprd["resources"]?["limits"] == nil && daprd["resources"]?["requests"] == nil)
  }

  @Test func componentChangesReachTheSidecarWithinASecondAndSecretRotationsWithinFive() async throws {
    let env = try await EndToEndEnvironment.shared()
    let ns = try await env.namespace("e2e-changes")
    try Kubectl.run(
      ["create", "secret", "generic", "redis", "-n", ns, "--from-literal=password=first"], kubeconfig: env.kubeconfig)
    try Kubectl.run(
      ["apply", "-f", "-"], kubeconfig: env.kubeconfig,
      input: EndToEndEnvironment.component("statestore", namespace: ns, secret: "redis") + "---\n"
        + EndToEndEnvironment.deployment("cart", namespace: ns, replicas: 1))
    let pod = try #require(try await env.injectedPods(namespace: ns, app: "cart", count: 1).first)
    try await env.waitUntilHealthy([pod])
    let components = env.sidecarURL(namespace: ns, pod: pod.metadata.name!, "v1.0-sim/resources/component")
    @Sendable func host(_ body: JSONValue) -> String? {
      body.arrayValue?.first { $0["metadata"]?["name"] == "statestore" }?["spec"]?["metadata"]?.arrayValue?
        .first { $0["name"] == "redisHost" }?["value"]?.stringValue
    }
    @Sendable func password(_ body: JSONValue) -> String? {
      body.arrayValue?.first { $0["metadata"]?["name"] == "statestore" }?["spec"]?["metadata"]?.arrayValue?
        .first { $0["name"] == "redisPassword" }?["value"]?.stringValue
    }
    #expect(password(try await env.get(components).body) == Data("first".utf8).base64EncodedString())

    // A change reaches the sidecar's view within a second of kubectl's answer.
    try Kubectl.run(
      ["apply", "-f", "-"], kubeconfig: env.kubeconfig,
      input: EndToEndEnvironment.component("statestore", namespace: ns, host: "redis-2:6379", secret: "redis"))
    let applied = ContinuousClock.now
    try await eventually("the change reaches the sidecar", within: .seconds(10)) {
      host(try await env.get(components).body) == "redis-2:6379"
    }
    let delivered = ContinuousClock.now - applied
    #expect(delivered < .seconds(1), "the change took \(delivered)")

    // A Component scoped to another app never arrives: a later change to one in scope does, after it would have.
    try Kubectl.run(
      ["apply", "-f", "-"], kubeconfig: env.kubeconfig,
      input: EndToEndEnvironment.component("orders-only", namespace: ns, scopes: ["orders"]))
    try Kubectl.run(
      ["apply", "-f", "-"], kubeconfig: env.kubeconfig,
      input: EndToEndEnvironment.component("statestore", namespace: ns, host: "redis-3:6379", secret: "redis"))
    try await eventually("the later change reaches the sidecar", within: .seconds(10)) {
      host(try await env.get(components).body) == "redis-3:6379"
    }
    let names = (try await env.get(components).body.arrayValue ?? []).compactMap {
      $0["metadata"]?["name"]?.stringValue
    }
    #expect(names == ["statestore"])

    // Rotating the Secret the Component refers to reaches the sidecar within five seconds.
    try Kubectl.run(
      [
        "create", "secret", "generic", "redis", "-n", ns, "--from-literal=password=second", "--dry-run=client", "-o",
        "yaml",
      ], kubeconfig: env.kubeconfig)
    _ = try await env.admin.patch(
      Secret.self, namespace: ns, name: "redis",
      .merge(["data": ["password": .string(Data("second".utf8).base64EncodedString())]]))
    let rotated = ContinuousClock.now
    try await eventually("the rotated Secret reaches the sidecar", within: .seconds(20)) {
      password(try await env.get(components).body) == Data("second".utf8).base64EncodedString()
    }
    #expect(ContinuousClock.now - rotated < .seconds(5), "the rotation took \(ContinuousClock.now - rotated)")
  }

  /// Each sidecar's host for `ids` of actor type `type`.
  static func hosts(
    _ env: EndToEndEnvironment, pods: [Pod], type: String, ids: [String]
  ) async throws -> [String: [String: String]] {
    var answers: [String: [String: String]] = [:]
    for pod in pods {
      let url = env.sidecarURL(namespace: pod.metadata.namespace!, pod: pod.metadata.name!, "v1.0-sim/actors/\(type)")
      let body = try await env.post(url, .array(ids.map { .string($0) })).body
      answers[pod.metadata.name!] = (body.objectValue ?? [:]).compactMapValues(\.stringValue)
    }
    return answers
  }

  /// Waits until every pod's sidecar has a table whose ring holds exactly `pods`' hosts.
  static func waitForAgreement(_ env: EndToEndEnvironment, pods: [Pod], type: String) async throws {
    let expected = Set(pods.map { "\($0.metadata.name!):50002" })
    for pod in pods {
      let url = env.sidecarURL(namespace: pod.metadata.namespace!, pod: pod.metadata.name!, "v1.0-sim/details")
      try await eventually(
        "the sidecar of \(pod.metadata.name!) has a table of \(expected.sorted())", within: .seconds(60)
      ) {
        let placement = try await env.get(url).body["placement"]
        let ring = Set(placement?["rings"]?[type]?.arrayValue?.compactMap(\.stringValue) ?? [])
        return ring == expected && (placement?["unlockedVersion"]?.intValue ?? 0) > 0
      }
    }
  }

  @Test func sidecarsWithActorsAgreeOnTheHostOfEveryActorWithPlacementAndAgainAfterOneLeaves() async throws {
    let env = try await EndToEndEnvironment.shared()
    let ns = try await env.namespace("e2e-actors")
    try Kubectl.run(
      ["apply", "-f", "-"], kubeconfig: env.kubeconfig,
      input: EndToEndEnvironment.deployment("cart", namespace: ns, replicas: 3, actorTypes: ["Cart"]))
    var pods = try await env.injectedPods(namespace: ns, app: "cart", count: 3)
    try await env.waitUntilHealthy(pods)
    try await Self.waitForAgreement(env, pods: pods, type: "Cart")
    let ids = (0..<1000).map { "cart-\($0)" }
    var answers = try await Self.hosts(env, pods: pods, type: "Cart", ids: ids)
    let first = try #require(answers.values.first)
    #expect(first.count == 1000)
    #expect(answers.values.allSatisfy { $0 == first })
    #expect(Set(first.values).count == 3, "1,000 actors all on \(Set(first.values))")
    // Placement's own answer (on the leader) is the same.
    var leader: RunningBinary?
    for role in ["placement", "placement-1"] {
      guard let binary = env.binary(role) else { continue }
      let answer = try await env.get(
        "http://127.0.0.1:\(binary.healthzPort)/placement/lookup?namespace=\(ns)&type=Cart&id=cart-0")
      if answer.status == 200 { leader = binary }
    }
    let placement = try #require(leader, "no placement replica answered as leader")
    for id in ids.prefix(200) {
      let answer = try await env.get(
        "http://127.0.0.1:\(placement.healthzPort)/placement/lookup?namespace=\(ns)&type=Cart&id=\(id)")
      #expect(answer.body["host"]?["name"]?.stringValue == first[id], "\(id)")
    }

    // One leaves: the others get a new table and agree again.
    try Kubectl.run(["scale", "deployment", "cart", "-n", ns, "--replicas", "2"], kubeconfig: env.kubeconfig)
    pods = try await env.injectedPods(namespace: ns, app: "cart", count: 2)
    try await Self.waitForAgreement(env, pods: pods, type: "Cart")
    answers = try await Self.hosts(env, pods: pods, type: "Cart", ids: ids)
    let second = try #require(answers.values.first)
    #expect(answers.values.allSatisfy { $0 == second })
    #expect(Set(second.values) == Set(pods.map { "\($0.metadata.name!):50002" }))
  }

  @Test func deletingThePodMakesSentryRefuseTheNextRenewalAndAnotherPodsTokenGetsNoCertificate() async throws {
    let env = try await EndToEndEnvironment.shared()
    let ns = try await env.namespace("e2e-identity")
    try Kubectl.run(
      ["apply", "-f", "-"], kubeconfig: env.kubeconfig,
      input: EndToEndEnvironment.deployment("cart", namespace: ns, replicas: 1))
    let pod = try #require(try await env.injectedPods(namespace: ns, app: "cart", count: 1).first)
    // A simulator of its own for this pod, which keeps the sidecar after the pod is gone (the shared one stops it).
    let port = freeLocalPort()
    let rules = [
      "dapr-api.\(EndToEndEnvironment.namespace).svc.cluster.local:443=127.0.0.1:\(env.endpoints.operatorAPI)",
      "dapr-sentry.\(EndToEndEnvironment.namespace).svc.cluster.local:443=127.0.0.1:\(env.endpoints.sentry)",
      "dapr-placement-server.\(EndToEndEnvironment.namespace).svc.cluster.local:50005=127.0.0.1:\(env.endpoints.placement),127.0.0.1:\(env.secondPlacementPort)",
    ]
    let simulator = try ChildProcess(
      "dapr-sidecar-sim",
      arguments: [
        "--kubeconfig", env.kubeconfig, "--pod", "\(ns)/\(pod.metadata.name!)", "--http-port", "\(port)",
        "--healthz-port", "\(freeLocalPort())", "--metrics-port", "\(freeLocalPort())", "--healthz-listen-address",
        "127.0.0.1", "--metrics-listen-address", "127.0.0.1",
      ] + rules.flatMap { ["--resolve", $0] })
    defer { simulator.signal() }
    try await eventually(
      "the sidecar is healthy; it printed:\n\(simulator.capturedOutput.suffix(2000))", within: .seconds(60)
    ) {
      try await env.get("http://127.0.0.1:\(port)/v1.0/healthz").status == 204
    }
    let renewed = try await env.post("http://127.0.0.1:\(port)/v1.0-sim/renew")
    #expect(renewed.status == 200, "\(renewed.body)")
    try Kubectl.run(["delete", "pod", pod.metadata.name!, "-n", ns, "--wait=false"], kubeconfig: env.kubeconfig)
    try Kubectl.run(["scale", "deployment", "cart", "-n", ns, "--replicas", "0"], kubeconfig: env.kubeconfig)
    try await eventually("the pod is gone", within: .seconds(60)) {
      (try? await env.admin.get(Pod.self, namespace: ns, name: pod.metadata.name!)) == nil
    }
    let refused = try await env.post("http://127.0.0.1:\(port)/v1.0-sim/renew")
    #expect(refused.status == 502, "\(refused.body)")

    // A token bound to one pod asks for another app's identity: no certificate.
    try Kubectl.run(
      ["apply", "-f", "-"], kubeconfig: env.kubeconfig,
      input: EndToEndEnvironment.deployment("orders", namespace: ns, replicas: 1))
    let orders = try #require(try await env.injectedPods(namespace: ns, app: "orders", count: 1).first)
    let token = env.installation.work.appendingPathComponent("stolen-\(ns).token").path
    try await ServiceAccountCredentials.writeBoundToken(
      admin: env.admin, serviceAccount: "default", namespace: ns, pod: orders,
      audience: env.installation.sentryAudience, to: token)
    let svid = SVIDClient(
      request: .init(appID: "cart", namespace: ns, trustDomain: "", tokenFile: token), sentryHost: "127.0.0.1",
      sentryPort: env.endpoints.sentry,
      sentryID: try SPIFFEID(
        trustDomain: "cluster.local", namespace: EndToEndEnvironment.namespace, appID: "dapr-sentry"),
      trustAnchors: LatestValue(
        try TrustBundle(pemEncoded: try String(contentsOfFile: env.installation.trustAnchorsFile, encoding: .utf8))),
      logger: Logger(label: "thief"))
    await #expect {
      _ = try await svid.fetch()
    } throws: { "\($0)".contains("app-id mismatch") }
  }

  @Test func withTheInjectorStoppedADaprPodIsRefusedAndAPlainOneIsNot() async throws {
    // Kubernetes 1.20 (the test API server) cannot run the 1.28+ shape's matchConditions (CEL over annotations), so
    // this test gives the chart's webhook the same narrowing with an objectSelector on a label the Dapr pod carries,
    // and the chart's failurePolicy for that shape (Fail); the CEL expression itself is checked by the chart tests.
    let env = try await EndToEndEnvironment.shared()
    let ns = try await env.namespace("e2e-down")
    let webhook = try await env.admin.get(MutatingWebhookConfiguration.self, name: "dapr-sidecar-injector")
    let restore = webhook.json["webhooks"]?.arrayValue?.first
    try Kubectl.run(
      [
        "patch", "mutatingwebhookconfiguration", "dapr-sidecar-injector", "--type", "json", "-p",
        #"[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Fail"},{"op":"add","path":"/webhooks/0/objectSelector","value":{"matchLabels":{"e2e.dapr.io/dapr-pod":"true"}}}]"#,
      ], kubeconfig: env.kubeconfig)
    let injector = try #require(env.binary("injector"))
    injector.process.signal()
    _ = try await injector.process.exitStatus()
    env.replace("injector", with: nil)
    func pod(_ name: String, dapr: Bool) -> String {
      """
      apiVersion: v1
      kind: Pod
      metadata:
        name: \(name)
        namespace: \(ns)
        \(dapr ? "labels: {e2e.dapr.io/dapr-pod: \"true\"}\n  annotations: {dapr.io/enabled: \"true\", dapr.io/app-id: \(name)}" : "labels: {app: \(name)}")
      spec:
        containers: [{name: app, image: app:1}]
      """
    }
    let refused = try ExternalTool("kubectl", ["--kubeconfig", env.kubeconfig, "apply", "-f", "-"]).run(
      input: pod("dapr-app", dapr: true))
    #expect(!refused.succeeded)
    #expect(refused.standardError.contains("sidecar-injector.dapr.io"), "\(refused.standardError)")
    try Kubectl.run(["apply", "-f", "-"], kubeconfig: env.kubeconfig, input: pod("plain-app", dapr: false))

    // Back as it was: the chart's webhook and a running injector.
    let (arguments, environment) = env.installation.launchArguments("injector", endpoints: env.endpoints)
    env.replace(
      "injector",
      with: try await env.installation.start(
        "injector", replacing: injector, extraArguments: arguments, environment: environment))
    if let restore {
      _ = try await env.admin.patch(
        MutatingWebhookConfiguration.self, name: "dapr-sidecar-injector",
        .json([
          .replace("/webhooks/0/failurePolicy", restore["failurePolicy"] ?? "Ignore"),
          .remove("/webhooks/0/objectSelector"),
        ]))
    }
    try Kubectl.run(["apply", "-f", "-"], kubeconfig: env.kubeconfig, input: pod("dapr-app", dapr: true))
    let admitted = try await env.admin.get(Pod.self, namespace: ns, name: "dapr-app")
    #expect(admitted.json["spec"]?["containers"]?.arrayValue?.contains { $0["name"] == "daprd" } == true)
  }

  @Test func whenThePlacementLeaderDiesTheLeaseMovesAndTheSidecarsConvergeOnTheNewLeadersTable() async throws {
    let env = try await EndToEndEnvironment.shared()
    let ns = try await env.namespace("e2e-failover")
    try Kubectl.run(
      ["apply", "-f", "-"], kubeconfig: env.kubeconfig,
      input: EndToEndEnvironment.deployment("cart", namespace: ns, replicas: 2, actorTypes: ["Cart"]))
    let pods = try await env.injectedPods(namespace: ns, app: "cart", count: 2)
    try await env.waitUntilHealthy(pods)
    try await Self.waitForAgreement(env, pods: pods, type: "Cart")
    let lease = try await env.admin.get(
      Lease.self, namespace: EndToEndEnvironment.namespace, name: "dapr-placement-server")
    let holder = try #require(lease.spec.holderIdentity)
    let (leaderRole, followerRole) =
      env.binary("placement")?.pod == holder ? ("placement", "placement-1") : ("placement-1", "placement")
    let leader = try #require(env.binary(leaderRole))
    leader.process.signal(SIGKILL)
    _ = try await leader.process.exitStatus()
    env.replace(leaderRole, with: nil)
    let follower = try #require(env.binary(followerRole))
    try await eventually("the Lease moves to the other replica", within: .seconds(60)) {
      try await env.admin.get(Lease.self, namespace: EndToEndEnvironment.namespace, name: "dapr-placement-server")
        .spec.holderIdentity == follower.pod
    }
    try await Self.waitForAgreement(env, pods: pods, type: "Cart")
    let answers = try await Self.hosts(env, pods: pods, type: "Cart", ids: (0..<200).map { "cart-\($0)" })
    let reference = try #require(answers.values.first)
    #expect(answers.values.allSatisfy { $0 == reference })

    // The killed replica comes back (as its pod would), as a follower.
    let port = leaderRole == "placement" ? env.endpoints.placement : env.secondPlacementPort
    let (arguments, environment) = env.installation.launchArguments("placement", endpoints: env.endpoints, port: port)
    env.replace(
      leaderRole,
      with: try await env.installation.start(
        "placement", pod: leader.pod, replacing: leader, extraArguments: arguments + ["--metadata-enabled"],
        environment: environment))
  }

  @Test func withOneOfTwoOperatorsKilledEveryStreamIsServedByTheOther() async throws {
    let env = try await EndToEndEnvironment.shared()
    let ns = try await env.namespace("e2e-operator")
    try Kubectl.run(
      ["apply", "-f", "-"], kubeconfig: env.kubeconfig,
      input: EndToEndEnvironment.component("statestore", namespace: ns) + "---\n"
        + EndToEndEnvironment.deployment("cart", namespace: ns, replicas: 3))
    let pods = try await env.injectedPods(namespace: ns, app: "cart", count: 3)
    try await env.waitUntilHealthy(pods)
    let victim = try #require(env.binary("operator"))
    victim.process.signal(SIGKILL)
    _ = try await victim.process.exitStatus()
    env.replace("operator", with: nil)
    try Kubectl.run(
      ["apply", "-f", "-"], kubeconfig: env.kubeconfig,
      input: EndToEndEnvironment.component("statestore", namespace: ns, host: "after-failover:6379"))
    for pod in pods {
      let url = env.sidecarURL(namespace: ns, pod: pod.metadata.name!, "v1.0-sim/resources/component")
      try await eventually(
        "the sidecar of \(pod.metadata.name!) gets the change from the other operator", within: .seconds(60)
      ) {
        let body = try await env.get(url).body
        return "\(body)".contains("after-failover:6379")
      }
    }
    // The killed replica comes back, as its pod would.
    let (arguments, environment) = env.installation.launchArguments(
      "operator", endpoints: env.endpoints, port: env.endpoints.operatorAPI)
    env.replace(
      "operator",
      with: try await env.installation.start(
        "operator", pod: victim.pod, replacing: victim, extraArguments: arguments, environment: environment))
  }

  @Test func prometheusScrapesAllFourServicesAndSeesWhatTheTestsCaused() async throws {
    let env = try await EndToEndEnvironment.shared()
    let ns = try await env.namespace("e2e-metrics")
    try Kubectl.run(
      ["apply", "-f", "-"], kubeconfig: env.kubeconfig,
      input: EndToEndEnvironment.deployment("cart", namespace: ns, replicas: 2, actorTypes: ["Cart"]))
    let pods = try await env.injectedPods(namespace: ns, app: "cart", count: 2)
    try await env.waitUntilHealthy(pods)
    let prometheus = env.prometheus
    for job in [
      "dapr-sentry", "dapr-operator", "dapr-sidecar-injector", "dapr-placement-server", "dapr-sidecar-simulator",
    ] {
      try await eventually("Prometheus scrapes \(job) (up == 1)", within: .seconds(60)) {
        try await prometheus.query("max(up{job=\"\(job)\"})").first?.value == 1
      }
    }
    try await eventually("the metrics show what this test caused", within: .seconds(60)) {
      let signed = try await prometheus.query("sum(dapr_sentry_cert_sign_success_total)").first?.value ?? 0
      let reviews = try await prometheus.query("sum(dapr_injector_sidecar_injection_requests_total)").first?.value ?? 0
      let runtimes =
        try await prometheus.query(
          "max(dapr_placement_runtimes_total{host_namespace=\"\(ns)\"})"
        ).first?.value ?? 0
      let services =
        try await prometheus.query(
          "sum(dapr_operator_service_created_total{app_id=\"cart\"})"
        ).first?.value ?? 0
      return signed >= 2 && reviews >= 2 && runtimes == 2 && services >= 1
    }
  }
}
