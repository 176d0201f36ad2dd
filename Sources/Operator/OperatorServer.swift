import ArgumentParser
import ControlPlaneKit
import Foundation
import GRPCCore
import Kubernetes
import Logging
import ServiceLifecycle

/// The operator: serves Dapr's resources to sidecars and keeps their `<app-id>-dapr` Services.
public enum OperatorServer {
  /// The `operator` command's description.
  public static let commandConfiguration = CommandConfiguration(
    commandName: "operator",
    abstract: "Dapr's operator: streams Components and other Dapr resources to sidecars over gRPC.",
    version: BuildInfo.version)

  /// Ready once the gRPC API listens.
  public static let apiTarget = "operator-api"

  /// Runs the operator until SIGTERM.
  public static func run(options: OperatorOptions) async throws {
    try await ControlPlaneProcess.run(
      component: .operator, options: options.observability,
      readinessTargets: [apiTarget, ResourceCache.readinessTarget]
    ) { environment in
      try await makeServices(options: options, environment: environment)
    }
  }

  /// The operator's services. Without a reachable Kubernetes configuration it serves health (503, naming what is
  /// missing) and metrics only, and says why in the log.
  public static func makeServices(
    options: OperatorOptions, environment: ProcessEnvironment,
    processEnvironment: [String: String] = ProcessInfo.processInfo.environment
  ) async throws -> [any Service] {
    let logger = environment.logger
    guard
      let client = try KubernetesClient.ifConfigured(
        kubeconfigPath: options.kubeconfig, logger: logger, clientLogger: environment.logger(subscope: "kubernetes"),
        unserved: "the operator API")
    else { return [] }
    let namespace = processEnvironment["NAMESPACE"].flatMap { $0.isEmpty ? nil : $0 } ?? ProcessFacts.namespace()
    let controlPlane = try await loadControlPlaneSettings(
      client: client, configurationName: options.config, namespace: namespace, environment: processEnvironment,
      logger: logger)
    let trustDomain = controlPlane.trustDomain
    let metrics = OperatorMetrics(registry: environment.metrics)
    let cache = ResourceCache(
      client: client, metrics: metrics, readiness: environment.readiness,
      logger: environment.logger(subscope: "informer"),
      secretNamespaces: options.secretNamespaceSet(environment: processEnvironment))
    let hub = cache.makeHub(metrics: metrics, logger: environment.logger(subscope: "api"))

    let anchors = try TrustBundleWatcher(
      path: options.trustAnchorsFile, logger: environment.logger(subscope: "security"))
    let (sentryHost, sentryPort) = try hostAndPort(controlPlane.sentryAddress, name: "the sentry address")
    let svid = SVIDClient(
      request: .init(
        appID: "dapr-operator", namespace: namespace, trustDomain: trustDomain,
        tokenFile: SentryToken.file(environment: processEnvironment)),
      sentryHost: sentryHost, sentryPort: sentryPort,
      sentryID: try SPIFFEID(trustDomain: trustDomain, namespace: namespace, appID: "dapr-sentry"),
      trustAnchors: anchors.bundle, logger: environment.logger(subscope: "security"))
    var services: [any Service] = [KubernetesClientCloser(client: client), anchors, cache]
    var controllers: [@Sendable () async throws -> Void] = []
    let watchedNamespaces = Set(
      options.watchNamespace.split(separator: ",").map { String($0).trimmingWhitespace }
        .filter { !$0.isEmpty })
    if !options.disableServiceReconciler {
      let reconciler = ServiceReconciler(
        client: client, registry: environment.metrics, namespaces: watchedNamespaces,
        argoRollouts: options.enableArgoRolloutServiceReconciler, logger: environment.logger(subscope: "service"))
      controllers.append { try await reconciler.run() }
    }
    let schedule = try WatchdogSchedule(parsing: options.watchInterval)
    if schedule != .off {
      let watchdog = PodWatchdog(
        client: client, schedule: schedule, maxRestartsPerMinute: options.maxPodRestartsPerMinute,
        canPatchLabels: options.watchdogCanPatchPodLabels, namespaces: watchedNamespaces,
        logger: environment.logger(subscope: "watchdog"))
      controllers.append { try await watchdog.run() }
    }
    if !controllers.isEmpty {
      var elector: LeaderElector?
      if !options.disableLeaderElection {
        let created = LeaderElector(
          client: client, leaseName: "operator.dapr.io", namespace: namespace,
          identity: ProcessInfo.processInfo.hostName, logger: environment.logger(subscope: "leader"))
        services.append(created)
        elector = created
      }
      services.append(LeaderOnlyControllers(elector: elector, controllers: controllers))
    }
    if processEnvironment["ENABLE_WEBHOOKS"]?.lowercased() != "false" {
      services += [
        SubscriptionCRDPatcher(
          client: client, anchors: anchors.bundle,
          clientConfig: SubscriptionCRDPatcher.serviceConfig(namespace: namespace),
          logger: environment.logger(subscope: "conversion")),
        ServingConversionWebhook(
          svid: svid,
          host: listenHost(options.webhookServerListenAddress),
          port: options.webhookServerPort, logger: environment.logger(subscope: "conversion")),
      ]
    }
    return services + [
      OperatorGRPCServer(
        host: listenHost(options.listenAddress), port: options.port,
        security: .sentry(svid, anchors: anchors.bundle), service: OperatorService(cache: cache, hub: hub),
        readiness: environment.readiness, logger: environment.logger(subscope: "api"))
    ]
  }
}

extension OperatorServer {
  /// Reads the `--config` Configuration for the operator's trust domain and sentry address; a missing one is not
  /// fatal (see ``ControlPlaneSettings``). Other API errors are retried for a while, then end start-up.
  static func loadControlPlaneSettings(
    client: KubernetesClient, configurationName: String, namespace: String, environment: [String: String],
    logger: Logger
  ) async throws -> ControlPlaneSettings {
    var backoff = Backoff()
    var attempt = 0
    let start = ContinuousClock.now
    while true {
      do {
        let configuration = try await client.get(DaprConfiguration.self, namespace: namespace, name: configurationName)
        return .resolve(
          configuration: configuration, configurationName: configurationName, namespace: namespace,
          environment: environment)
      } catch let error where error.code == .notFound {
        let settings = ControlPlaneSettings.resolve(
          configuration: nil, configurationName: configurationName, namespace: namespace, environment: environment)
        if let note = settings.note { logger.warning("\(note)") }
        return settings
      } catch {
        attempt += 1
        guard attempt < 10 else { throw error }
        let delay = backoff.next(now: ContinuousClock.now - start, random: Double.random(in: 0..<1))
        logger.warning(
          "Cannot read Configuration \(namespace)/\(configurationName); retrying",
          metadata: ["error": "\(error)", "in": "\(delay)"])
        try await Task.sleep(for: delay)
      }
    }
  }

  /// The API alone (caches, fan-out and the gRPC server) with a given identity: for benchmarks and tools that run
  /// the operator's API without sentry.
  public static func apiServices(
    client: KubernetesClient, identity: LatestValue<TLSIdentity>, anchors: LatestValue<TrustBundle>, host: String,
    port: Int, environment: ProcessEnvironment
  ) -> [any Service] {
    let metrics = OperatorMetrics(registry: environment.metrics)
    let cache = ResourceCache(
      client: client, metrics: metrics, readiness: environment.readiness,
      logger: environment.logger(subscope: "informer"))
    let hub = cache.makeHub(metrics: metrics, logger: environment.logger(subscope: "api"))
    return [
      cache,
      OperatorGRPCServer(
        host: host, port: port, security: .fixed(identity, anchors: anchors),
        service: OperatorService(cache: cache, hub: hub),
        readiness: environment.readiness, logger: environment.logger(subscope: "api")),
    ]
  }
}

/// Serves `dapr.proto.operator.v1.Operator` over mTLS: any client with a SPIFFE ID chained to the trust anchors
/// connects, and every call is authorised from that ID.
struct OperatorGRPCServer: Service {
  enum Security {
    case sentry(SVIDClient, anchors: LatestValue<TrustBundle>)
    /// A given identity (tests).
    case fixed(LatestValue<TLSIdentity>, anchors: LatestValue<TrustBundle>)
  }

  let host: String
  let port: Int
  let security: Security
  let service: OperatorService
  let readiness: ReadinessTargets
  let logger: Logger
  var onListening: @Sendable (Int) async -> Void = { _ in }

  func run() async throws {
    switch security {
    case .sentry(let svid, let anchors):
      try await svid.serving { [self] identity in try await serve(identity: identity, anchors: anchors) }
    case .fixed(let identity, let anchors):
      try await serve(identity: identity, anchors: anchors)
    }
  }

  private func serve(identity: LatestValue<TLSIdentity>, anchors: LatestValue<TrustBundle>) async throws {
    let server = SecureGRPC.server(
      host: host, port: port,
      security: .mutualTLS(
        identity: identity, verifier: SPIFFEPeerVerifier(trustBundle: anchors, requirement: .anyIdentity)),
      services: [service]
    ) { config in
      // A change goes out as one message per stream, one stream per sidecar connection: nothing to coalesce, and
      // the flush timer coalescing arms per write (100 µs, on every connection at once) costs more than it saves.
      config.connection.flushCoalescing = nil
    }
    try await server.serveUntilShutdown(
      readiness: readiness, target: OperatorServer.apiTarget, logger: logger,
      listening: { _, port in "Starting gRPC server on port \(port)" }, onListening: onListening,
      onShutdown: { [hub = service.hub] in hub.closeAll() })
  }
}

/// The conversion webhook with its own SVID from sentry (DNS SAN `dapr-webhook.<ns>.svc`), renewed before expiry.
struct ServingConversionWebhook: Service {
  let svid: SVIDClient
  let host: String
  let port: Int
  let logger: Logger

  func run() async throws {
    try await svid.serving { [self] identity in
      try await ConversionWebhook(host: host, port: port, identity: identity, logger: logger).run()
    }
  }
}
