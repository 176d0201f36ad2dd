import AsyncHTTPClient
import ControlPlaneTestSupport
import Foundation
import Kubernetes
import Synchronization

/// The whole control plane as a user gets it, for the end-to-end tests: a real API server (with a cluster IP range
/// of its own, see ``WebhookRouting``), the chart's objects applied with kubectl, the four binaries as processes
/// under their service accounts (two replicas of placement and of the operator), the API server calling the
/// injector through the chart's webhook configuration, simulated sidecars for every injected pod (their own
/// process, `dapr-sidecar-sim --all-namespaces`), and a real Prometheus scraping all of it.
final class EndToEndEnvironment: Sendable {
  static let namespace = "dapr-system"

  let dedicated: LocalKubernetes.Dedicated
  let routing: WebhookRouting
  let installation: LocalInstallation
  let endpoints: LocalInstallation.Endpoints
  /// The processes by role: `sentry`, `operator`, `operator-1`, `injector`, `placement`, `placement-1`.
  let binaries: Mutex<[String: RunningBinary]>
  /// The second placement and operator replicas' ports.
  let secondPlacementPort: Int
  let secondOperatorPort: Int
  let simulator: ChildProcess
  let simulatorPort: Int
  let simulatorMetricsPort: Int
  let prometheus: LocalPrometheus

  var kubeconfig: String { dedicated.cluster.kubeconfigPath }
  var admin: KubernetesClient { installation.admin }

  private static let starting = Mutex<Task<EndToEndEnvironment, any Error>?>(nil)

  /// The environment of this test run, started on first use (with the chart's `sets`, and the simulated sidecars
  /// listing their resources again every `relistInterval`: short for the functional suites, so that a missed event
  /// shows within their deadlines; daprd's 60 s for the soak, whose load should be daprd's).
  static func shared(sets: [String] = [], relistInterval: String = "5s") async throws -> EndToEndEnvironment {
    let task = starting.withLock { task in
      if let task { return task }
      let created = Task { try await EndToEndEnvironment.start(sets: sets, relistInterval: relistInterval) }
      task = created
      return created
    }
    return try await task.value
  }

  private init(
    dedicated: LocalKubernetes.Dedicated, routing: WebhookRouting, installation: LocalInstallation,
    endpoints: LocalInstallation.Endpoints, binaries: [String: RunningBinary], secondPlacementPort: Int,
    secondOperatorPort: Int, simulator: ChildProcess, simulatorPort: Int, simulatorMetricsPort: Int,
    prometheus: LocalPrometheus
  ) {
    self.dedicated = dedicated
    self.routing = routing
    self.installation = installation
    self.endpoints = endpoints
    self.binaries = Mutex(binaries)
    self.secondPlacementPort = secondPlacementPort
    self.secondOperatorPort = secondOperatorPort
    self.simulator = simulator
    self.simulatorPort = simulatorPort
    self.simulatorMetricsPort = simulatorMetricsPort
    self.prometheus = prometheus
  }

  static func start(sets: [String], relistInterval: String) async throws -> EndToEndEnvironment {
    guard WebhookRouting.isAvailable else {
      throw ExternalTool.Failure(
        description: "the end-to-end tests need root (the webhooks' cluster IPs go on the loopback interface)")
    }
    let routing = WebhookRouting()
    let dedicated = try await LocalKubernetes.dedicated(serviceCIDR: routing.serviceCIDR)
    let work = URL(fileURLWithPath: dedicated.cluster.directory ?? NSTemporaryDirectory()).appendingPathComponent("e2e")
    let install = try RenderedInstall.render(namespace: namespace, sets: ["global.kubeVersion=1.20.0"] + sets)
    let installation = try LocalInstallation(cluster: dedicated.cluster, install: install, work: work)
    try installation.apply()
    // Two replicas of placement and of the operator, as under HA: their pods, each a process.
    try Kubectl.run(
      ["scale", "statefulset", "dapr-placement-server", "-n", namespace, "--replicas", "2"],
      kubeconfig: dedicated.cluster.kubeconfigPath)
    try Kubectl.run(
      ["scale", "deployment", "dapr-operator", "-n", namespace, "--replicas", "2"],
      kubeconfig: dedicated.cluster.kubeconfigPath)
    let endpoints = try await routing.route(
      LocalInstallation.Endpoints(), install: install, admin: installation.admin)
    var (binaries, used) = try await installation.startControlPlane(
      endpoints, extraArguments: ["placement": ["--metadata-enabled"]])
    let secondPlacementPort = freeLocalPort()
    let secondOperatorPort = freeLocalPort()
    let placementPod = try await pod(named: "dapr-placement-server-1", installation: installation)
    var (arguments, environment) = installation.launchArguments(
      "placement", endpoints: used, port: secondPlacementPort)
    binaries["placement-1"] = try await installation.start(
      "placement", pod: placementPod, extraArguments: arguments + ["--metadata-enabled"], environment: environment)
    let secondOperator = try await secondPod(
      of: "app=dapr-operator", besides: binaries["operator"]!.pod, installation: installation)
    (arguments, environment) = installation.launchArguments("operator", endpoints: used, port: secondOperatorPort)
    binaries["operator-1"] = try await installation.start(
      "operator", pod: secondOperator, extraArguments: arguments, environment: environment)
    let simulatorPort = freeLocalPort()
    let simulatorMetricsPort = freeLocalPort()
    let rules = [
      "dapr-api.\(namespace).svc.cluster.local:443=127.0.0.1:\(used.operatorAPI),127.0.0.1:\(secondOperatorPort)",
      "dapr-sentry.\(namespace).svc.cluster.local:443=127.0.0.1:\(used.sentry)",
      "dapr-placement-server.\(namespace).svc.cluster.local:50005=127.0.0.1:\(used.placement),127.0.0.1:\(secondPlacementPort)",
    ]
    let simulator = try ChildProcess(
      "dapr-sidecar-sim",
      arguments: [
        "--kubeconfig", dedicated.cluster.kubeconfigPath, "--all-namespaces", "--http-port", "\(simulatorPort)",
        "--healthz-port", "\(freeLocalPort())", "--metrics-port", "\(simulatorMetricsPort)",
        "--healthz-listen-address", "127.0.0.1", "--metrics-listen-address", "127.0.0.1", "--relist-interval",
        relistInterval,
        "--log-as-json",
      ] + rules.flatMap { ["--resolve", $0] })
    var targets: [String: [String]] = ["dapr-sidecar-simulator": ["127.0.0.1:\(simulatorMetricsPort)"]]
    for (role, binary) in binaries {
      let job =
        "dapr-"
        + (role.hasPrefix("placement")
          ? "placement-server"
          : role.hasPrefix("injector") ? "sidecar-injector" : role.split(separator: "-")[0].description)
      targets[job, default: []].append("127.0.0.1:\(binary.metricsPort)")
    }
    let prometheus = try LocalPrometheus(targets: targets, directory: work.appendingPathComponent("prometheus"))
    try await prometheus.waitUntilReady()
    return EndToEndEnvironment(
      dedicated: dedicated, routing: routing, installation: installation, endpoints: used, binaries: binaries,
      secondPlacementPort: secondPlacementPort, secondOperatorPort: secondOperatorPort, simulator: simulator,
      simulatorPort: simulatorPort, simulatorMetricsPort: simulatorMetricsPort, prometheus: prometheus)
  }

  static func pod(named name: String, installation: LocalInstallation) async throws -> String {
    try await eventually("pod \(name) exists", within: .seconds(60)) {
      (try? await installation.admin.get(Pod.self, namespace: namespace, name: name)) != nil
    }
    return name
  }

  static func secondPod(
    of selector: String, besides first: String, installation: LocalInstallation
  ) async throws
    -> String
  {
    var found = ""
    try await eventually("a second pod of \(selector) exists", within: .seconds(60)) {
      let pods = try await installation.admin.list(
        Pod.self, namespace: namespace, options: ListOptions(labelSelector: selector)
      ).items
      found = pods.compactMap(\.metadata.name).first { $0 != first } ?? ""
      return !found.isEmpty
    }
    return found
  }

  func binary(_ role: String) -> RunningBinary? { binaries.withLock { $0[role] } }

  func replace(_ role: String, with binary: RunningBinary?) { binaries.withLock { $0[role] = binary } }

  // === Metrics ===

  /// Whether every process started is still running.
  func allRunning() -> Bool {
    binaries.withLock { $0.values.allSatisfy { $0.process.isRunning } } && simulator.isRunning
  }

  /// Each control-plane process's `process_resident_memory_bytes`, by role.
  func residentMemory() async throws -> [String: Double] {
    var memory: [String: Double] = [:]
    for (role, binary) in binaries.withLock({ $0 }) {
      memory[role] = Self.sum("process_resident_memory_bytes", in: try await binary.metricsPage())
    }
    return memory
  }

  /// Each control-plane process's anonymous resident memory (`RssAnon`: heap and stacks, no code pages), by role.
  func anonymousMemory() -> [String: Double] {
    var memory: [String: Double] = [:]
    for (role, binary) in binaries.withLock({ $0 }) {
      guard let status = try? String(contentsOfFile: "/proc/\(binary.process.pid)/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("RssAnon:") }),
        let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
      else { continue }
      memory[role] = kilobytes * 1024
    }
    return memory
  }

  func metric(_ name: String, of role: String) async throws -> Double {
    guard let binary = binary(role) else { return 0 }
    return Self.sum(name, in: try await binary.metricsPage())
  }

  func simulatorPage() async throws -> String {
    let response = try await HTTPClient.shared.execute(
      HTTPClientRequest(url: "http://127.0.0.1:\(simulatorMetricsPort)/metrics"), timeout: .seconds(10))
    return String(buffer: try await response.body.collect(upTo: 16 << 20))
  }

  func simulatorMetric(_ name: String) async throws -> Double { Self.sum(name, in: try await simulatorPage()) }

  /// A quantile of a histogram on the simulator's page, from its buckets (the upper bound of the bucket it is in).
  func simulatorHistogramQuantile(_ name: String, _ quantile: Double) async throws -> Double {
    var buckets: [(Double, Double)] = []
    for line in try await simulatorPage().split(separator: "\n") where line.hasPrefix(name + "_bucket{") {
      guard let le = line.range(of: "le=\""), let close = line[le.upperBound...].firstIndex(of: "\""),
        let count = line.split(separator: " ").last.flatMap({ Double($0) })
      else { continue }
      let bound = String(line[le.upperBound..<close])
      buckets.append((bound == "+Inf" ? .infinity : Double(bound) ?? .infinity, count))
    }
    buckets.sort { $0.0 < $1.0 }
    guard let total = buckets.last?.1, total > 0 else { return 0 }
    return buckets.first { $0.1 >= total * quantile }?.0 ?? .infinity
  }

  /// The sum of a metric's samples on a page.
  static func sum(_ name: String, in page: String) -> Double {
    page.split(separator: "\n").filter { $0.hasPrefix(name + "{") || $0.hasPrefix(name + " ") }
      .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
  }

  // === Asking the simulated sidecars ===

  func sidecarURL(namespace: String, pod: String, _ path: String) -> String {
    "http://127.0.0.1:\(simulatorPort)/sidecars/\(namespace)/\(pod)/\(path)"
  }

  func get(_ url: String) async throws -> (status: Int, body: JSONValue) {
    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
    let data = Data(buffer: try await response.body.collect(upTo: 16 << 20))
    return (Int(response.status.code), (try? JSONCoding.parse(data)) ?? .null)
  }

  func post(_ url: String, _ body: JSONValue = .null) async throws -> (status: Int, body: JSONValue) {
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    request.body = .bytes(try JSONCoding.encode(body))
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    let data = Data(buffer: try await response.body.collect(upTo: 16 << 20))
    return (Int(response.status.code), (try? JSONCoding.parse(data)) ?? .null)
  }

  /// The pods of a namespace's Deployment `app`, once `count` exist, with their daprd container.
  func injectedPods(namespace: String, app: String, count: Int) async throws -> [Pod] {
    var pods: [Pod] = []
    try await eventually("\(count) pods of \(namespace)/\(app) exist", within: .seconds(60)) {
      pods = try await admin.list(Pod.self, namespace: namespace, options: ListOptions(labelSelector: "app=\(app)"))
        .items.filter { $0.metadata.deletionTimestamp == nil }
      return pods.count == count
    }
    return pods
  }

  /// Waits until the simulated sidecar of each pod answers daprd's healthz with 204.
  func waitUntilHealthy(_ pods: [Pod], within limit: Duration = .seconds(90)) async throws {
    for pod in pods {
      let url = sidecarURL(namespace: pod.metadata.namespace ?? "", pod: pod.metadata.name ?? "", "v1.0/healthz")
      let details = sidecarURL(
        namespace: pod.metadata.namespace ?? "", pod: pod.metadata.name ?? "", "v1.0-sim/details")
      do {
        try await eventually("the simulated sidecar of \(pod.metadata.name ?? "") is healthy", within: limit) {
          try await self.get(url).status == 204
        }
      } catch {
        let state = (try? await get(details).body).map { "\($0)" } ?? "no answer"
        throw ExternalTool.Failure(
          description: "\(error); it knows: \(state)\nthe simulator printed:\n\(simulator.capturedOutput.suffix(3000))")
      }
    }
  }

  /// A namespace for one test, whose pods can be created.
  func namespace(_ prefix: String) async throws -> String {
    let name = "\(prefix)-\(UInt16.random(in: 0...UInt16.max))"
    try await dedicated.cluster.createNamespaceForPods(name, client: admin)
    return name
  }

  /// A Deployment of `replicas` pods annotated for Dapr as app `app`, optionally hosting actor types.
  static func deployment(_ app: String, namespace: String, replicas: Int, actorTypes: [String] = []) -> String {
    var annotations = ["dapr.io/enabled": "\"true\"", "dapr.io/app-id": app]
    if !actorTypes.isEmpty { annotations["sidecar-simulator.dapr.io/actor-types"] = actorTypes.joined(separator: ",") }
    let lines = annotations.sorted { $0.key < $1.key }.map { "        \($0.key): \($0.value)" }.joined(separator: "\n")
    return [
      "apiVersion: apps/v1",
      "kind: Deployment",
      "metadata: {name: \(app), namespace: \(namespace)}",
      "spec:",
      "  replicas: \(replicas)",
      "  selector: {matchLabels: {app: \(app)}}",
      "  template:",
      "    metadata:",
      "      labels: {app: \(app)}",
      "      annotations:",
      lines,
      "    spec:",
      "      containers: [{name: \(app), image: \(app):1}]",
    ].joined(separator: "\n") + "\n"
  }

  static func component(
    _ name: String, namespace: String, host: String = "redis:6379", scopes: [String] = [], secret: String? = nil
  ) -> String {
    var text = """
      apiVersion: dapr.io/v1alpha1
      kind: Component
      metadata:
        name: \(name)
        namespace: \(namespace)
        annotations: {sidecar-simulator.dapr.io/changed-at: "\(Int64(Date().timeIntervalSince1970 * 1000))"}
      scopes: [\(scopes.joined(separator: ", "))]
      spec:
        type: state.redis
        version: v1
        metadata:
        - {name: redisHost, value: "\(host)"}
      """
    if let secret { text += "\n  - name: redisPassword\n    secretKeyRef: {name: \(secret), key: password}" }
    return text + "\n"
  }
}
