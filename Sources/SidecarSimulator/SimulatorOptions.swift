import ArgumentParser
import ControlPlaneKit
import Foundation
import Kubernetes
import Logging
import ServiceLifecycle

/// `dapr-sidecar-sim`'s flags.
public struct SimulatorOptions: ParsableArguments, Sendable {
  @Option(name: .customLong("kubeconfig"), help: "A kubeconfig allowed to read pods and request their tokens.")
  public var kubeconfig: String?

  @Option(name: .customLong("pod"), help: "Simulate the sidecar of this pod, namespace/name (repeatable).")
  public var pods: [String] = []

  @Option(
    name: .customLong("namespace"), help: "Simulate a sidecar for every injected pod of this namespace (repeatable).")
  public var namespaces: [String] = []

  @Flag(name: .customLong("all-namespaces"), help: "Simulate a sidecar for every injected pod of the cluster.")
  public var allNamespaces = false

  @Option(
    name: .customLong("resolve"),
    help: "Reach a cluster address at loopback: NAME:PORT=IP:PORT[,IP:PORT...] (repeatable), as curl's --resolve.")
  public var resolve: [String] = []

  @Option(name: .customLong("http-port"), help: "The port of the simulator's HTTP API (daprd's 3500).")
  public var httpPort: Int = 3500

  @Option(name: .customLong("http-listen-address"), help: "The address the HTTP API listens on.")
  public var httpListenAddress = "127.0.0.1"

  @Option(name: .customLong("relist-interval"), help: "How often sidecars list their resources again (daprd: 60s).")
  public var relistInterval: GoDuration = .seconds(60)

  @Option(name: .customLong("token-directory"), help: "Where the sidecars' identity tokens are written.")
  public var tokenDirectory: String?

  @OptionGroup public var observability: ObservabilityOptions

  public init() {}

  public static let booleanFlags: Set<String> = ObservabilityOptions.booleanFlags.union(["all-namespaces"])

  public func validate() throws {
    let sources = [!pods.isEmpty, !namespaces.isEmpty, allNamespaces].filter { $0 }.count
    guard sources == 1 else {
      throw ValidationError(
        "name the pods to simulate: --pod (repeatable), --namespace (repeatable) or --all-namespaces")
    }
    guard (0...65535).contains(httpPort) else {
      throw ValidationError("--http-port must be between 0 and 65535, not \(httpPort)")
    }
    do {
      _ = try AddressBook(rules: resolve)
    } catch {
      throw ValidationError(error.description)
    }
  }
}

/// The simulator's process: the fleet and its HTTP API, with Dapr's logs, `/healthz` and metrics.
public enum SidecarSimulatorProcess {
  public static let commandConfiguration = CommandConfiguration(
    commandName: "dapr-sidecar-sim",
    abstract: "Plays daprd's side of sentry, the operator and placement for injected pods, from their daprd container.",
    version: BuildInfo.version)

  public static func run(options: SimulatorOptions) async throws {
    try await ControlPlaneProcess.run(
      component: .sidecarSimulator, options: options.observability, readinessTargets: ["sidecar-simulator-api"]
    ) { environment in
      let configuration = try KubernetesConfiguration.load(kubeconfigPath: options.kubeconfig)
      let client = try KubernetesClient(
        configuration: configuration, logger: environment.logger(subscope: "kubernetes"))
      let pods: SidecarFleet.Pods =
        options.pods.isEmpty
        ? .injected(namespaces: options.allNamespaces ? [] : options.namespaces) : .named(options.pods)
      let directory =
        options.tokenDirectory.map { URL(fileURLWithPath: $0) }
        ?? FileManager.default.temporaryDirectory.appendingPathComponent("dapr-sidecar-sim-\(getpid())")
      let fleet = SidecarFleet(
        client: client, pods: pods, addresses: try AddressBook(rules: options.resolve),
        relistInterval: options.relistInterval.duration, tokenDirectory: directory,
        metrics: SimulatorMetrics(registry: environment.metrics), logger: environment.logger(subscope: "fleet"))
      let readiness = environment.readiness
      return [
        KubernetesClientCloser(client: client), fleet,
        SidecarHTTPAPI(
          fleet: fleet, host: options.httpListenAddress, port: options.httpPort,
          logger: environment.logger(subscope: "http"),
          onListening: { port in
            readiness.markReady("sidecar-simulator-api")
            environment.logger.info("Simulated sidecars' HTTP API on \(options.httpListenAddress):\(port)")
          }),
      ]
    }
  }
}
