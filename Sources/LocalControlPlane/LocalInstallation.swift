import AsyncHTTPClient
import Foundation
import Kubernetes

/// The chart installed on a local API server and its four binaries running here as processes, each from its own
/// container in the chart (its command, flags and environment, resolved by ``LaunchPlan``), under the service
/// account the chart gives it, with a token bound to the pod the controller manager created for it (pods are never
/// scheduled here, so each process stands in for its pod). Used by the local runner and by the tests.
public final class LocalInstallation: Sendable {
  /// Where each binary listens. Zero ports are replaced by free ones when the binary starts.
  public struct Endpoints: Sendable {
    public var address = "127.0.0.1"
    public var sentry = 0
    public var operatorAPI = 0
    public var operatorWebhook = 0
    public var operatorWebhookAddress: String?
    public var injector = 0
    public var injectorAddress: String?
    public var placement = 0

    public init() {}
  }

  public let cluster: LocalKubernetes.Cluster
  public let install: RenderedInstall
  /// Kubeconfigs, tokens and the trust anchors file live here.
  public let work: URL
  public let admin: KubernetesClient

  public init(cluster: LocalKubernetes.Cluster, install: RenderedInstall, work: URL) throws {
    self.cluster = cluster
    self.install = install
    self.work = work
    admin = try cluster.adminClient()
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
  }

  public var namespace: String { install.namespace }
  public var kubeconfig: String { cluster.kubeconfigPath }

  /// The trust anchors file the non-sentry binaries read (written by ``waitForTrustAnchors()``).
  public var trustAnchorsFile: String { work.appendingPathComponent("ca.crt").path }

  /// `kubectl apply`s the install: its namespace, the CRDs (waiting until they are served), then everything else.
  public func apply() throws {
    _ = try? Kubectl.run(["create", "namespace", namespace], kubeconfig: kubeconfig)
    try Kubectl.run(
      ["apply", "-f", "-"], kubeconfig: kubeconfig, input: try RenderedInstall.yaml(install.customResourceDefinitions))
    try Kubectl.run(
      ["wait", "--for", "condition=Established", "crd", "--all", "--timeout", "60s"], kubeconfig: kubeconfig)
    try Kubectl.run(["apply", "-f", "-"], kubeconfig: kubeconfig, input: try RenderedInstall.yaml(install.resources))
  }

  /// Starts `binary` from its container in the chart, with `extraArguments` and `environment` on top of what the
  /// chart gives it, and waits until its `/healthz` answers 200.
  /// `pod` names the pod of the workload it stands for (default: the first one).
  /// `replacing` gives a restarted binary the health and metrics ports of the one it replaces (as a pod's restarted
  /// container keeps its ports), so that Prometheus finds it where it was.
  public func start(
    _ binary: String, pod chosen: String? = nil, replacing: RunningBinary? = nil, extraArguments: [String] = [],
    environment: [String: String] = [:]
  ) async throws -> RunningBinary {
    guard let workload = install.workload(running: binary), let container = RenderedInstall.container(of: workload),
      let account = RenderedInstall.serviceAccount(of: workload)
    else { throw LaunchPlan.Unsupported(description: "the chart runs no \(binary)") }
    let pod: Pod
    if let chosen {
      pod = try await admin.get(Pod.self, namespace: namespace, name: chosen)
    } else {
      pod = try await firstPod(of: workload)
    }
    let podName = pod.metadata.name ?? ""
    let files = work.appendingPathComponent(podName)
    try FileManager.default.createDirectory(at: files, withIntermediateDirectories: true)
    let accountKubeconfig = files.appendingPathComponent("kubeconfig").path
    try await ServiceAccountCredentials.writeKubeconfig(
      admin: admin, base: try cluster.configuration(), serviceAccount: account, namespace: namespace,
      to: accountKubeconfig)
    let token = files.appendingPathComponent("sentry-token").path
    try await ServiceAccountCredentials.writeBoundToken(
      admin: admin, serviceAccount: account, namespace: namespace, pod: pod, audience: sentryAudience, to: token)
    let (healthz, metrics) = (replacing?.healthzPort ?? freeLocalPort(), replacing?.metricsPort ?? freeLocalPort())
    let plan = try LaunchPlan.make(
      container: container, podName: podName, namespace: namespace, serviceAccount: account,
      configMaps: install.configMapData,
      extraArguments: extraArguments + [
        "--kubeconfig", accountKubeconfig, "--healthz-port", "\(healthz)", "--metrics-port", "\(metrics)",
        "--healthz-listen-address", "127.0.0.1", "--metrics-listen-address", "127.0.0.1",
      ],
      environmentOverrides: environment.merging(["DAPR_SENTRY_TOKEN_FILE": token]) { $1 })
    let logFile = files.appendingPathComponent("\(binary).log")
    let process = try ChildProcess(
      executable: ChildProcess.binariesDirectory.appendingPathComponent(plan.binary), arguments: plan.arguments,
      environment: plan.environment, logFile: logFile)
    let running = RunningBinary(
      name: binary, process: process, healthzPort: healthz, metricsPort: metrics, pod: podName, logFile: logFile)
    try await running.waitUntilHealthy()
    return running
  }

  /// Sentry's SPIFFE ID, the audience of the tokens that prove identities to it.
  public var sentryAudience: String {
    let domain =
      install.object(kind: "Configuration", name: "daprsystem")?["spec"]?["mtls"]?["controlPlaneTrustDomain"]?
      .stringValue ?? "cluster.local"
    return "spiffe://\(domain)/ns/\(namespace)/dapr-sentry"
  }

  /// Waits until sentry has published the trust anchors in the `dapr-trust-bundle` ConfigMap, writes them to
  /// ``trustAnchorsFile`` (where a kubelet would mount them) and returns them.
  @discardableResult
  public func waitForTrustAnchors() async throws -> String {
    var anchors = ""
    try await eventually("sentry publishes the trust anchors in ConfigMap dapr-trust-bundle", within: .seconds(60)) {
      anchors =
        try await admin.get(ConfigMap.self, namespace: namespace, name: "dapr-trust-bundle").json["data"]?["ca.crt"]?
        .stringValue ?? ""
      return anchors.contains("BEGIN CERTIFICATE")
    }
    try anchors.write(toFile: trustAnchorsFile, atomically: true, encoding: .utf8)
    return anchors
  }

  /// Starts sentry, then the operator, the injector and placement, on `endpoints` (free ports where zero), and
  /// returns them by name with the endpoints actually used. `extraArguments` adds flags to a binary's.
  public func startControlPlane(
    _ requested: Endpoints = Endpoints(), extraArguments: [String: [String]] = [:]
  )
    async throws -> (binaries: [String: RunningBinary], endpoints: Endpoints)
  {
    var endpoints = requested
    for port in [\Endpoints.sentry, \.operatorAPI, \.operatorWebhook, \.injector, \.placement]
    where endpoints[keyPath: port] == 0 {
      endpoints[keyPath: port] = freeLocalPort()
    }
    var binaries: [String: RunningBinary] = [:]
    do {
      for binary in ["sentry", "operator", "injector", "placement"] {
        let (arguments, environment) = launchArguments(binary, endpoints: endpoints)
        binaries[binary] = try await start(
          binary, extraArguments: arguments + (extraArguments[binary] ?? []), environment: environment)
        if binary == "sentry" { try await waitForTrustAnchors() }
      }
    } catch {
      for binary in binaries.values { binary.process.signal() }
      throw error
    }
    return (binaries, endpoints)
  }

  /// The flags and environment `binary` gets here on top of its chart container's: where it listens, where sentry
  /// and the trust anchors are (what Services and mounted volumes give a pod). `port` overrides the binary's port
  /// (a second replica).
  public func launchArguments(
    _ binary: String, endpoints: Endpoints, port: Int? = nil
  )
    -> (arguments: [String], environment: [String: String])
  {
    let client = [
      "DAPR_SENTRY_ADDRESS": "\(endpoints.address):\(endpoints.sentry)", "DAPR_TRUST_ANCHORS_FILE": trustAnchorsFile,
    ]
    switch binary {
    case "sentry":
      return (["--port", "\(port ?? endpoints.sentry)", "--listen-address", endpoints.address], [:])
    case "operator":
      return (
        [
          "--port", "\(port ?? endpoints.operatorAPI)", "--listen-address", endpoints.address,
          // A second replica's webhook listens elsewhere: the Service's address is the first one's.
          "--webhook-server-port", "\(port == nil ? endpoints.operatorWebhook : freeLocalPort())",
          "--webhook-server-listen-address",
          port == nil ? endpoints.operatorWebhookAddress ?? endpoints.address : endpoints.address,
          "--trust-anchors-file", trustAnchorsFile,
        ], client
      )
    case "injector":
      return (
        [
          "--port", "\(port ?? endpoints.injector)", "--listen-address", endpoints.injectorAddress ?? endpoints.address,
        ],
        client
      )
    default:
      return (
        [
          "--port", "\(port ?? endpoints.placement)", "--listen-address", endpoints.address, "--trust-anchors-file",
          trustAnchorsFile, "--sentry-address", "\(endpoints.address):\(endpoints.sentry)",
        ], client
      )
    }
  }

  /// The first pod, by name, the controller manager created for `workload` (pods stay Pending: there is no kubelet).
  public func firstPod(of workload: JSONValue) async throws -> Pod {
    let labels = workload["spec"]?["selector"]?["matchLabels"]?.objectValue ?? [:]
    let selector = labels.map { "\($0.key)=\($0.value.stringValue ?? "")" }.sorted().joined(separator: ",")
    var found: Pod?
    try await eventually("a pod of \(selector) exists", within: .seconds(60)) {
      found = try await admin.list(Pod.self, namespace: namespace, options: ListOptions(labelSelector: selector))
        .items.min { ($0.metadata.name ?? "") < ($1.metadata.name ?? "") }
      return found != nil
    }
    return found!
  }
}

/// A binary of the install, running here.
public struct RunningBinary: Sendable {
  public let name: String
  public let process: ChildProcess
  public let healthzPort: Int
  public let metricsPort: Int
  /// The pod it stands for.
  public let pod: String
  /// Where its output is written as it runs.
  public let logFile: URL

  /// Waits until `/healthz` answers 200; a process that exits first fails with its output.
  public func waitUntilHealthy() async throws {
    let url = "http://127.0.0.1:\(healthzPort)/healthz"
    let (process, name) = (self.process, self.name)
    try await eventually(
      "\(name) is healthy; it printed:\n\(process.capturedOutput.suffix(4000))", within: .seconds(60)
    ) {
      let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(2))
      return response.status == .ok
    }
  }

  /// The metrics page.
  public func metricsPage() async throws -> String {
    let page = try await HTTPClient.shared.execute(
      HTTPClientRequest(url: "http://127.0.0.1:\(metricsPort)/metrics"), timeout: .seconds(5))
    return String(buffer: try await page.body.collect(upTo: 8 << 20))
  }
}
