import ArgumentParser
import ControlPlaneKit
import Foundation
import GRPCCore
import Kubernetes
import Logging
import ServiceLifecycle

/// Placement: tracks which sidecars host which actor types and disseminates the hash tables.
public enum PlacementServer {
  /// The `placement` command's description.
  public static let commandConfiguration = CommandConfiguration(
    commandName: "placement",
    abstract: "Dapr's placement service: disseminates actor placement tables to sidecars.",
    version: BuildInfo.version)

  /// The readiness target of the gRPC server.
  public static let serverTarget = "placement-server"
  /// The Lease replicas campaign for in Kubernetes mode.
  public static let leaseName = "dapr-placement-server"

  /// Runs placement until SIGTERM.
  public static func run(options: PlacementOptions) async throws {
    try await ControlPlaneProcess.run(
      component: .placement, options: options.observability, readinessTargets: [serverTarget]
    ) { environment in
      try await makeServices(options: options, environment: environment)
    }
  }

  /// Placement's services, in start order. Tests call this directly; `onListening` gets the gRPC port.
  public static func makeServices(
    options: PlacementOptions, environment: ProcessEnvironment, namespace: String = ProcessFacts.namespace(),
    leaderTimings: LeaderElectionTimings = LeaderElectionTimings(),
    processEnvironment: [String: String] = ProcessInfo.processInfo.environment,
    onListening: @escaping @Sendable (Int) async -> Void = { _ in }
  ) async throws -> [any Service] {
    let metrics = PlacementMetrics(registry: environment.metrics)
    let hub = PlacementHub(
      configuration: .init(
        replicationFactor: options.replicationFactor, disseminateTimeout: options.disseminateTimeout.duration,
        coalesceWindow: options.disseminateCoalesceWindow.duration),
      requirePeer: options.tlsEnabled, metrics: metrics, logger: environment.logger(subscope: "dissemination"))
    let leadership = LatestValue(false)
    var services: [any Service] = []

    switch options.mode {
    case .standalone:
      // As Dapr's single-peer placement: the one replica leads on its own.
      leadership.set(true)
      metrics.setLeader(true)
    case .kubernetes:
      let configuration = try KubernetesConfiguration.load(kubeconfigPath: options.kubeconfig)
      let client = try KubernetesClient(
        configuration: configuration, logger: environment.logger(subscope: "kubernetes"))
      let elector = LeaderElector(
        client: client, leaseName: leaseName, namespace: namespace, identity: options.id, timings: leaderTimings,
        logger: environment.logger(subscope: "leader"))
      // Services stop in reverse order: the client closes last, after the elector has released the lease.
      services += [
        KubernetesClientCloser(client: client), elector,
        LeadershipFollower(
          elector: elector, leadership: leadership, hub: hub, metrics: metrics,
          logger: environment.logger(subscope: "leader")),
      ]
    }

    if options.metadataEnabled {
      environment.healthRoutes.add { router in PlacementHTTP.install(on: router, hub: hub, leadership: leadership) }
    }

    let security: PlacementGRPCServer.Security
    if options.tlsEnabled {
      let anchors = try TrustBundleWatcher(
        path: options.trustAnchorsFile, logger: environment.logger(subscope: "security"))
      services.append(anchors)
      let (sentryHost, sentryPort) = try hostAndPort(options.sentryAddress, name: "--sentry-address")
      let svid = SVIDClient(
        request: .init(
          appID: "dapr-placement", namespace: namespace, trustDomain: options.trustDomain,
          validator: options.mode == .kubernetes ? .kubernetes : .insecure,
          tokenFile: options.mode == .kubernetes ? SentryToken.file(environment: processEnvironment) : nil),
        sentryHost: sentryHost, sentryPort: sentryPort,
        sentryID: try SPIFFEID(trustDomain: options.trustDomain, namespace: namespace, appID: "dapr-sentry"),
        trustAnchors: anchors.bundle, logger: environment.logger(subscope: "security"))
      security = .mutualTLS(svid: svid, anchors: anchors.bundle)
    } else {
      security = .plaintext
    }
    services.append(
      PlacementGRPCServer(
        host: listenHost(options.listenAddress), port: options.port, security: security,
        keepalive: (options.keepaliveTime.duration, options.keepaliveTimeout.duration),
        service: PlacementService(hub: hub, leadership: leadership, nodeID: options.id), hub: hub,
        readiness: environment.readiness, logger: environment.logger(subscope: "server"), onListening: onListening))
    return services
  }

}

/// Serves `dapr.proto.placement.v1.Placement`; on shutdown every stream ends with `Unavailable`, as Dapr.
struct PlacementGRPCServer: Service {
  enum Security {
    case plaintext
    case mutualTLS(svid: SVIDClient, anchors: LatestValue<TrustBundle>)
    /// A given identity (tests).
    case fixedIdentity(LatestValue<TLSIdentity>, anchors: LatestValue<TrustBundle>)
  }

  let host: String
  let port: Int
  let security: Security
  /// `--keepalive-time` and `--keepalive-timeout`: a half-open connection is dropped after their sum.
  var keepalive: (time: Duration, timeout: Duration) = (.seconds(2), .seconds(3))
  let service: PlacementService
  let hub: PlacementHub
  let readiness: ReadinessTargets
  let logger: Logger
  let onListening: @Sendable (Int) async -> Void

  func run() async throws {
    switch security {
    case .plaintext:
      try await serve(.plaintext)
    case .mutualTLS(let svid, let anchors):
      // daprd's five tries, 3 s apart.
      try await svid.serving(attempts: 5) { [self] identity in
        try await serve(
          .mutualTLS(identity: identity, verifier: SPIFFEPeerVerifier(trustBundle: anchors, requirement: .anyIdentity)))
      }
    case .fixedIdentity(let identity, let anchors):
      try await serve(
        .mutualTLS(identity: identity, verifier: SPIFFEPeerVerifier(trustBundle: anchors, requirement: .anyIdentity)))
    }
  }

  private func serve(_ transportSecurity: GRPCServerSecurity) async throws {
    let keepalive = self.keepalive
    let server = SecureGRPC.server(host: host, port: port, security: transportSecurity, services: [service]) {
      config in
      // Pings every `time`; no answer within `timeout` closes the connection, and its streams leave their rounds.
      // Sidecars may ping too, even between calls.
      config.connection.keepalive = .init(
        time: keepalive.time, timeout: keepalive.timeout,
        clientBehavior: .init(minPingIntervalWithoutCalls: .seconds(1), allowWithoutCalls: true))
      // Each sidecar has its own connection and gets one order at a time: there is nothing to coalesce, and
      // the flush timer it would arm per write costs more than the flush it saves.
      config.connection.flushCoalescing = nil
    }
    let hub = self.hub
    try await server.serveUntilShutdown(
      readiness: readiness, target: PlacementServer.serverTarget, logger: logger,
      listening: { _, port in "Placement service started on port \(port)" }, onListening: onListening,
      onShutdown: { hub.endAll(RPCError(code: .unavailable, message: "placement service is shutting down")) },
      alongside: [{ await hub.runTimers() }])
  }
}

/// Mirrors the Lease into ``PlacementService``'s leadership: a replica that loses it ends every stream with
/// `Unavailable` and starts empty (Dapr's process exits instead, and the pod restarts).
struct LeadershipFollower: Service {
  let elector: LeaderElector
  let leadership: LatestValue<Bool>
  let hub: PlacementHub
  let metrics: PlacementMetrics
  let logger: Logger

  func run() async throws {
    try await untilShutdown {
      for await leading in elector.isLeader.updates(includingCurrent: true) {
        guard leading != leadership.current else { continue }
        leadership.set(leading)
        metrics.setLeader(leading)
        if leading {
          logger.info("Cluster leadership acquired; serving sidecars")
        } else {
          logger.warning("Cluster leadership lost; closing every stream so sidecars reconnect to the new leader")
          hub.endAll(RPCError(code: .unavailable, message: "placement lost leadership"))
        }
      }
    }
  }
}
