import ArgumentParser
import Foundation
import Kubernetes
import LocalControlPlane

/// `dapr-local`: the whole control plane on this machine, from the chart, with a demo (scripts/run-local.sh).
@main
struct LocalRunner: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dapr-local",
    abstract:
      "Runs the control plane here: a local Kubernetes API server, the chart's objects applied, the four binaries under their service accounts, a demo app whose pods the injector mutates and simulated sidecars for them."
  )

  @Flag(name: .customLong("no-demo"), help: "Start the control plane only: no sample app, no simulated sidecars.")
  var noDemo = false

  @Flag(name: .customLong("prometheus"), help: "Also start Prometheus scraping the four services and the sidecars.")
  var prometheus = false

  @Option(name: .customLong("replicas"), help: "Replicas of the demo Deployment.")
  var replicas = 2

  func validate() throws {
    guard (1...50).contains(replicas) else { throw ValidationError("--replicas must be between 1 and 50") }
  }

  func run() async throws {
    let console = Console()
    let stop = StopSignals()
    let started = ContinuousClock.now
    let namespace = "dapr-system"
    var cleanup: [() -> Void] = []
    defer { for step in cleanup.reversed() { step() } }

    // --- the API server, with a cluster IP range of its own so that its webhook calls stay on loopback ---------------
    let routing = WebhookRouting.isAvailable ? WebhookRouting() : nil
    if routing == nil {
      console.note(
        "not root: the API server cannot reach the injector at its Service's cluster IP, so pods are admitted without daprd"
      )
    }
    let dedicated = try await console.step(
      "Kubernetes API server, etcd and controller manager (built from Debian's packages)", typical: "10 s"
    ) { try await LocalKubernetes.dedicated(serviceCIDR: routing?.serviceCIDR) }
    cleanup.append {
      console.line("stopping the Kubernetes API server"); dedicated.stopAndWait()
    }
    let cluster = dedicated.cluster
    let kubeconfig = cluster.kubeconfigPath

    // --- the chart, rendered by Helm, applied with kubectl --------------------------------------------------------
    let work = URL(fileURLWithPath: cluster.directory ?? NSTemporaryDirectory()).appendingPathComponent("dapr")
    let installation = try await console.step("Dapr's chart rendered by Helm and applied with kubectl", typical: "5 s")
    {
      let install = try RenderedInstall.render(namespace: namespace, sets: ["global.kubeVersion=1.20.0"])
      let installation = try LocalInstallation(cluster: cluster, install: install, work: work)
      try installation.apply()
      return installation
    }
    console.done(
      "\(installation.install.customResourceDefinitions.count) CRDs and \(installation.install.resources.count) objects, as `helm install dapr charts/dapr -n dapr-system` creates them"
    )

    // --- the four binaries ---------------------------------------------------------------------------------------
    var requested = LocalInstallation.Endpoints()
    for (port, assign) in [
      (50001, { (e: inout LocalInstallation.Endpoints) in e.sentry = 50001 }),
      (6500, { (e: inout LocalInstallation.Endpoints) in e.operatorAPI = 6500 }),
      (50005, { (e: inout LocalInstallation.Endpoints) in e.placement = 50005 }),
    ] where isFree(port) {
      assign(&requested)
    }
    var wanted = requested
    if let routing {
      wanted = try await routing.route(requested, install: installation.install, admin: installation.admin)
      cleanup.append { routing.remove() }
    }
    let (binaries, endpoints) = try await console.step(
      "sentry, then the operator, the injector and placement, each under its own service account", typical: "15 s"
    ) { [wanted] in try await installation.startControlPlane(wanted) }
    cleanup.append {
      console.line("stopping the control plane")
      for binary in binaries.values { binary.process.signal() }
      for binary in binaries.values { binary.process.waitForExit(within: .seconds(10)) }
    }
    if routing != nil {
      try await console.step("the injector's webhook registered with its caBundle", typical: "1 s") {
        try await eventually("the injector patched its webhook's caBundle", within: .seconds(60)) {
          let webhook = try await installation.admin.get(
            MutatingWebhookConfiguration.self, name: "dapr-sidecar-injector")
          return webhook.json["webhooks"]?.arrayValue?.first?["clientConfig"]?["caBundle"]?.stringValue?.isEmpty
            == false
        }
      }
    }

    // --- the demo ----------------------------------------------------------------------------------------------------
    var simulatorPort: Int?
    var simulatorMetrics: Int?
    var demoLines: [String] = []
    if !noDemo {
      let demo = "demo"
      try await cluster.createNamespaceForPods(demo, client: installation.admin)
      try Kubectl.run(
        ["apply", "-f", "-"], kubeconfig: kubeconfig, input: Demo.deployment(namespace: demo, replicas: replicas))
      let pods = try await console.step(
        "demo app: Deployment \(demo)/hello (\(replicas) replicas), its pods created by the controller manager",
        typical: "3 s"
      ) { try await Demo.injectedPods(namespace: demo, count: replicas, admin: installation.admin) }
      let injected = pods.filter(Demo.hasDaprd)
      console.done("\(injected.count) of \(pods.count) pods came back from the injector with a daprd container")
      let port = isFree(3500) ? 3500 : freeLocalPort()
      let metrics = freeLocalPort()
      let simulatorFiles = work.appendingPathComponent("dapr-sidecar-sim")
      try FileManager.default.createDirectory(at: simulatorFiles, withIntermediateDirectories: true)
      let simulator = try ChildProcess(
        "dapr-sidecar-sim",
        arguments: [
          "--kubeconfig", kubeconfig, "--namespace", demo, "--http-port", "\(port)", "--healthz-port",
          "\(freeLocalPort())", "--metrics-port", "\(metrics)", "--healthz-listen-address", "127.0.0.1",
          "--metrics-listen-address", "127.0.0.1", "--relist-interval", "10s",
        ] + endpoints.simulatorResolveRules(namespace: namespace).flatMap { ["--resolve", $0] },
        logFile: simulatorFiles.appendingPathComponent("dapr-sidecar-sim.log"))
      cleanup.append {
        console.line("stopping the simulated sidecars"); simulator.signal(); simulator.waitForExit(within: .seconds(10))
      }
      simulatorPort = port
      simulatorMetrics = metrics
      try Kubectl.run(["apply", "-f", "-"], kubeconfig: kubeconfig, input: Demo.resources(namespace: demo))
      let seen = try await console.step(
        "simulated sidecars: SVIDs from sentry, the operator's resources, placement's table", typical: "10 s"
      ) { try await Demo.waitForSidecars(port: port, pods: injected, simulator: simulator) }
      demoLines = seen
    }

    // --- Prometheus ------------------------------------------------------------------------------------------------
    var prometheusURL: String?
    if prometheus {
      var targets: [String: [String]] = [:]
      for (name, binary) in binaries { targets[Demo.job(name)] = ["127.0.0.1:\(binary.metricsPort)"] }
      if let simulatorMetrics { targets["dapr-sidecar-simulator"] = ["127.0.0.1:\(simulatorMetrics)"] }
      let server = try LocalPrometheus(
        targets: targets, directory: work.appendingPathComponent("prometheus"),
        port: isFree(9090) ? 9090 : nil)
      cleanup.append {
        console.line("stopping Prometheus"); server.process.signal(); server.process.waitForExit(within: .seconds(10))
      }
      try await console.step("Prometheus scraping the four services and the sidecars", typical: "3 s") {
        try await server.waitUntilReady()
      }
      prometheusURL = server.url
    }

    // --- what happened, and what to try -------------------------------------------------------------------------------
    let elapsed = ContinuousClock.now - started
    console.line("")
    console.line("The Dapr control plane is running (ready in \(Console.seconds(elapsed))).")
    console.line("")
    console.table(
      ["service", "listens on", "health", "metrics"],
      binaries.sorted { $0.key < $1.key }.map { name, binary in
        [
          name, Demo.listening(name, endpoints), "http://127.0.0.1:\(binary.healthzPort)/healthz",
          "http://127.0.0.1:\(binary.metricsPort)/metrics",
        ]
      })
    for line in demoLines { console.line(line) }
    console.line("")
    console.line("Try, in another shell:")
    console.line("  export KUBECONFIG=\(kubeconfig)")
    console.line(
      "  kubectl get pods -n dapr-system -o wide      # the chart's pods (Pending: no kubelet; processes stand in)")
    if let simulatorPort {
      console.line("  kubectl get pods -n demo -o jsonpath='{.items[*].spec.containers[*].name}'   # app and daprd")
      console.line("  curl -s localhost:\(simulatorPort)/sidecars                       # the simulated sidecars")
      console.line("  curl -s localhost:\(simulatorPort)/sidecars/demo/<pod>/v1.0/metadata")
      console.line("  kubectl apply -f - <<< '\(Demo.oneLineComponent)'   # then ask /v1.0/metadata again")
    }
    console.line("  tail -f \(work.path)/*/*.log   # what each process logs")
    if let prometheusURL {
      console.line("  open \(prometheusURL)/graph?g0.expr=dapr_sentry_cert_sign_success_total   # Prometheus")
    }
    console.line("Ctrl-C stops everything.")
    await stop.wait()
    console.line("")
    for step in cleanup.reversed() { step() }
    cleanup = []
    console.line("stopped; a new run starts from scratch")
  }

  func isFree(_ port: Int) -> Bool { LocalPorts.isFree(port) }
}
