import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization

/// The four control-plane services, and the sidecar simulator that plays daprd against them.
public enum ControlPlaneComponent: String, Sendable, CaseIterable {
  case `operator`, injector, sentry, placement
  case sidecarSimulator = "sidecar-simulator"

  /// The `scope` of the service's log lines, such as `dapr.sentry`.
  public var logScope: String { "dapr.\(rawValue)" }

  /// The name Dapr's start-up line uses.
  public var displayName: String {
    switch self {
    case .operator: "Operator"
    case .injector: "Sidecar Injector"
    case .sentry: "Sentry certificate authority"
    case .placement: "Placement Service"
    case .sidecarSimulator: "sidecar simulator"
    }
  }
}

/// What a service's code gets from the process it runs in.
public struct ProcessEnvironment: Sendable {
  public let component: ControlPlaneComponent
  /// The logger whose scope is the component's (`dapr.sentry`).
  public let logger: Logger
  public let metrics: MetricsRegistry
  public let readiness: ReadinessTargets
  /// Routes a service adds to the health server (placement's `/placement/state`), before the group starts.
  public let healthRoutes: HealthRoutes

  public init(
    component: ControlPlaneComponent, logger: Logger, metrics: MetricsRegistry, readiness: ReadinessTargets,
    healthRoutes: HealthRoutes = HealthRoutes()
  ) {
    self.component = component
    self.logger = logger
    self.metrics = metrics
    self.readiness = readiness
    self.healthRoutes = healthRoutes
  }

  /// A logger for a part of the service: `logger(subscope: "ca")` logs with scope `dapr.sentry.ca`.
  public func logger(subscope: String) -> Logger {
    var logger = Logger(label: "\(component.logScope).\(subscope)")
    logger.logLevel = self.logger.logLevel
    return logger
  }
}

/// Runs one control-plane process: logging and metrics set up once, the health and metrics servers, the
/// component's services, all in one `ServiceGroup` that stops gracefully on SIGTERM or SIGINT.
public enum ControlPlaneProcess {
  /// Runs Swift Concurrency's tasks on NIO's event-loop threads instead of a separate pool, so that a request's
  /// handler runs on the thread that read it: no thread hop per RPC, fewer threads, less memory. Call first thing
  /// in `main`, on the main thread, before any task is created.
  /// There is one event loop per CPU the process may use: NIO counts the machine's cores, cgroup quotas and cpusets
  /// but not the affinity mask (`taskset`), and two loops time-sharing one core only add switches. An explicit
  /// `NIO_SINGLETON_GROUP_LOOP_COUNT` wins.
  @MainActor
  public static func runTasksOnEventLoops() {
    if ProcessInfo.processInfo.environment["NIO_SINGLETON_GROUP_LOOP_COUNT"] == nil, let allowed = allowedCPUCount,
      allowed > 0, allowed < System.coreCount
    {
      NIOSingletons.groupLoopCountSuggestion = allowed
    }
    _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
  }

  /// How many CPUs the process's affinity mask allows (`Cpus_allowed` in `/proc/self/status`), when known.
  public static var allowedCPUCount: Int? {
    guard let status = ProcFile.contents(of: "/proc/self/status"),
      let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") })
    else { return nil }
    let mask = line.dropFirst("Cpus_allowed:".count).filter { $0.isHexDigit }
    return mask.reduce(0) { $0 + ($1.hexDigitValue ?? 0).nonzeroBitCount }
  }

  /// Sets up logging (Dapr's format) and metrics (one Prometheus registry, also behind swift-metrics) for the
  /// process. Both are process-wide and set up once; later calls return the first registry.
  public static func bootstrap(component: ControlPlaneComponent, options: ObservabilityOptions) -> ProcessEnvironment {
    let context = LogContext(format: options.logAsJSON ? .json : .text)
    let level = options.logLevel.loggerLevel
    let metrics = bootstrapOnce.withLock { registry -> MetricsRegistry in
      if let registry { return registry }
      LoggingSystem.bootstrap { label in DaprLogHandler(scope: label, logLevel: level, context: context) }
      let created = MetricsRegistry()
      MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: created.prometheus))
      registry = created
      return created
    }
    var logger = Logger(label: component.logScope)
    logger.logLevel = level
    return ProcessEnvironment(
      component: component, logger: logger, metrics: metrics,
      readiness: ReadinessTargets([]))
  }

  private static let bootstrapOnce = Mutex<MetricsRegistry?>(nil)

  /// Runs the process until SIGTERM or SIGINT (then returns normally) or until a service fails (then throws).
  ///
  /// - Parameters:
  ///   - readinessTargets: the component's own targets, besides the health and metrics servers'.
  ///   - makeServices: builds the component's services, in start order.
  public static func run(
    component: ControlPlaneComponent,
    options: ObservabilityOptions,
    readinessTargets: [String],
    makeServices: (ProcessEnvironment) async throws -> [any Service]
  ) async throws {
    let base = bootstrap(component: component, options: options)
    let readiness = ReadinessTargets(
      [ObservabilityServers.healthzTarget, ObservabilityServers.metricsTarget] + readinessTargets)
    let environment = ProcessEnvironment(
      component: component, logger: base.logger, metrics: base.metrics, readiness: readiness)
    let services = try await makeServices(environment)
    let group = makeServiceGroup(environment: environment, options: options, services: services)
    environment.logger.info(
      "Starting Dapr \(component.displayName) -- version \(BuildInfo.version) -- Dapr \(BuildInfo.daprCompatibility) compatible"
    )
    environment.logger.info("Log level set to: \(options.logLevel.rawValue)")
    try await group.run()
    environment.logger.info("Dapr \(component.rawValue) shut down gracefully")
  }

  /// The health server, the metrics server (unless disabled) and `services`, in one group.
  public static func makeServiceGroup(
    environment: ProcessEnvironment, options: ObservabilityOptions, services: [any Service]
  ) -> ServiceGroup {
    let httpLogger = environment.logger(subscope: "http")
    var all: [any Service] = [
      ObservabilityServers.healthApplication(
        host: options.healthzListenAddress, port: options.healthzPort, readiness: environment.readiness,
        logger: httpLogger, routes: environment.healthRoutes)
    ]
    if options.enableMetrics {
      all.append(
        ObservabilityServers.metricsApplication(
          host: options.metricsListenAddress, port: options.metricsPort, registry: environment.metrics,
          readiness: environment.readiness, logger: httpLogger))
    } else {
      environment.readiness.markReady(ObservabilityServers.metricsTarget)
    }
    if MemoryRelease.isEnabled() {
      all.append(
        HeapTrimService(
          releasingStartupPagesOnce: environment.readiness, logger: environment.logger(subscope: "memory")))
    } else {
      environment.logger(subscope: "memory").info(
        "Memory release is off (\(MemoryRelease.switchVariable)): the heap is not trimmed, start-up pages stay")
    }
    all += services
    let unstopped = UnstoppedServices()
    all = all.map(unstopped.tracking)
    // Last, so that it hears of the stop first (services are told in reverse order).
    all.append(
      ShutdownDeadline(limit: .seconds(15), unstopped: unstopped, logger: environment.logger(subscope: "lifecycle")))
    var configuration = ServiceGroupConfiguration(
      services: all.map { .init(service: $0) },
      gracefulShutdownSignals: [.sigterm, .sigint],
      logger: environment.logger(subscope: "lifecycle"))
    // As Dapr: a graceful stop that takes longer than 5 s is cut short.
    configuration.maximumGracefulShutdownDuration = .seconds(5)
    return ServiceGroup(configuration: configuration)
  }
}
