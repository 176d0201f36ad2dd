import ArgumentParser
import ControlPlaneKit
import Foundation
import Kubernetes
import Logging
import ServiceLifecycle

/// Sentry: Dapr's certificate authority.
public enum SentryServer {
  /// The `sentry` command's description.
  public static let commandConfiguration = CommandConfiguration(
    commandName: "sentry",
    abstract: "Dapr's certificate authority: signs sidecar CSRs into SPIFFE certificates and keeps the trust bundle.",
    version: BuildInfo.version)

  /// The readiness target of the gRPC server.
  public static let serverTarget = "sentry-server"

  /// Runs sentry until SIGTERM.
  public static func run(options: SentryOptions) async throws {
    var targets = [CAManager.readinessTarget, serverTarget]
    if options.mode == .kubernetes { targets.append(InformerClusterDirectory.readinessTarget) }
    if options.oidc != nil { targets.append(OIDCServer.readinessTarget) }
    try await ControlPlaneProcess.run(component: .sentry, options: options.observability, readinessTargets: targets) {
      environment in
      try await makeServices(options: options, environment: environment)
    }
  }

  /// Sentry's services, in start order. Tests call this directly.
  public static func makeServices(
    options: SentryOptions, environment: ProcessEnvironment, namespace: String = ProcessFacts.namespace(),
    now: @escaping @Sendable () -> Date = { Date() },
    onOIDCListening: @escaping @Sendable (Int) async -> Void = { _ in }
  ) async throws -> [any Service] {
    let logger = environment.logger
    let metrics = SentryMetrics(registry: environment.metrics)
    let sentryID = try SPIFFEID(trustDomain: options.trustDomain, namespace: namespace, appID: "dapr-sentry")
    var services: [any Service] = []
    let store: any CAStore
    var validators: [SignRequest.Validator: any IdentityValidator] = [:]
    let defaultValidator: SignRequest.Validator?
    let settings: MTLSSettings

    switch options.mode {
    case .kubernetes:
      let configuration = try KubernetesConfiguration.load(kubeconfigPath: options.kubeconfig)
      let client = try KubernetesClient(
        configuration: configuration, logger: environment.logger(subscope: "kubernetes"))
      services.append(KubernetesClientCloser(client: client))
      settings = await loadSettings(from: client, namespace: namespace, name: options.config, logger: logger)
      logger.info("Using kubernetes secret store for trust bundle storage")
      let kubernetesStore = KubernetesCAStore(
        client: client, namespace: namespace, keys: options.credentialNames,
        rootKeySecret: options.keepRootKey ? KubernetesCAStore.rootKeySecretName : nil,
        logger: environment.logger(subscope: "ca"))
      services += kubernetesStore.informers
      store = kubernetesStore
      let directory = InformerClusterDirectory(client: client, logger: environment.logger(subscope: "validator"))
      services += directory.informers
      services.append(ReadinessWhenSynced(directory: directory, readiness: environment.readiness))
      validators[.kubernetes] = KubernetesValidator(
        reviewer: client, directory: directory, sentryID: sentryID, now: now)
      defaultValidator = .kubernetes

    case .standalone:
      settings = loadSettings(fromFile: options.config, logger: logger)
      logger.info("Using local file system for trust bundle storage")
      store = FileCAStore(directory: options.issuerCredentials, fileNames: options.credentialNames)
      validators[.insecure] = InsecureValidator()
      // As Dapr: insecure is the default only when no other validator is configured.
      defaultValidator = settings.jwksOptions == nil ? .insecure : nil
    }
    if let jwks = settings.jwksOptions {
      environment.readiness.register(JWKSValidator.readinessTarget)
      let validator = JWKSValidator(
        options: try JWKSValidator.Options(jwks), sentryID: sentryID, readiness: environment.readiness,
        logger: environment.logger(subscope: "jwks"), now: now)
      validators[.jwks] = validator
      services.append(validator)
    }

    let sharedSettings = LatestValue(settings)
    let jwt = try options.jwt
    let manager = CAManager(
      store: store, trustDomain: options.trustDomain, namespace: namespace, keyAlgorithm: options.caKeyAlgorithm,
      allowedClockSkew: { TimeInterval(sharedSettings.current.allowedClockSkew.nanoseconds) / 1e9 },
      metrics: metrics, readiness: environment.readiness, logger: environment.logger(subscope: "ca"), jwt: jwt,
      lifecycle: options.lifecycle, now: now)
    let serving = ServingIdentity(
      spiffeID: sentryID, authority: manager.authority, settings: sharedSettings, metrics: metrics,
      logger: environment.logger(subscope: "server"), now: now)
    let authority = CertificateAuthority(
      validators: validators, defaultValidator: defaultValidator, authority: manager.authority,
      settings: sharedSettings, namespace: namespace, jwtIssuer: jwt == nil ? nil : manager.jwtIssuer, now: now)
    let service = CAService(authority: authority, metrics: metrics, logger: environment.logger(subscope: "server"))

    services += [
      manager, serving,
      ExpiryMonitor(
        authority: manager.authority, metrics: metrics, logger: logger, readiness: environment.readiness, now: now),
      SentryGRPCServer(
        host: listenHost(options.listenAddress), port: options.port, serving: serving, service: service,
        readiness: environment.readiness, logger: environment.logger(subscope: "server")),
    ]
    if let oidc = options.oidc {
      services.append(
        OIDCServer(
          discovery: OIDCDiscovery(settings: oidc, issuer: jwt?.issuer), jwtIssuer: manager.jwtIssuer,
          readiness: environment.readiness, logger: environment.logger(subscope: "oidc"),
          onListening: onOIDCListening))
    }
    return services
  }

  /// The `daprsystem` Configuration's mTLS settings; defaults (with a warning) when it is missing, rather than
  /// refusing to start as Dapr does.
  static func loadSettings(
    from client: KubernetesClient, namespace: String, name: String, logger: Logger
  ) async
    -> MTLSSettings
  {
    do {
      let configuration = try await client.get(DaprConfiguration.self, namespace: namespace, name: name)
      return try MTLSSettings(configuration: configuration)
    } catch let error as KubernetesError where error.code == .notFound {
      logger.warning(
        "Configuration \(namespace)/\(name) not found; using defaults (workloadCertTTL 24h, allowedClockSkew 15m)")
    } catch {
      logger.error("Cannot use Configuration \(namespace)/\(name): \(error); using defaults")
    }
    return MTLSSettings()
  }

  static func loadSettings(fromFile path: String, logger: Logger) -> MTLSSettings {
    guard FileManager.default.fileExists(atPath: path) else {
      logger.warning("Configuration file \(path) not found; using defaults (workloadCertTTL 24h, allowedClockSkew 15m)")
      return MTLSSettings()
    }
    do {
      return try MTLSSettings(file: path)
    } catch {
      logger.error("Cannot use configuration file \(path): \(error.message); using defaults")
      return MTLSSettings()
    }
  }
}

/// Serves `dapr.proto.sentry.v1.CA` over TLS once sentry's own certificate exists, presenting each renewed
/// certificate to new connections.
struct SentryGRPCServer: Service {
  let host: String
  let port: Int
  let serving: ServingIdentity
  let service: CAService
  let readiness: ReadinessTargets
  let logger: Logger

  func run() async throws {
    // Until the CA is loaded there is no certificate to serve with; a shutdown meanwhile just ends the wait.
    let first: TLSIdentity? = await cancelWhenGracefulShutdown {
      for await identity in serving.identity.updates(includingCurrent: true) {
        if let identity { return identity }
      }
      return nil
    }
    guard let first else { return }
    let current = LatestValue(first)
    let server = SecureGRPC.server(host: host, port: port, security: .tls(identity: current), services: [service])
    try await server.serveUntilShutdown(
      readiness: readiness, target: SentryServer.serverTarget, logger: logger,
      listening: { address, _ in "Running gRPC server on \(address)" },
      alongside: [{ for await identity in serving.identity.updates() { if let identity { current.set(identity) } } }])
  }
}

/// Marks the validator ready once its caches have synced.
struct ReadinessWhenSynced: Service {
  let directory: InformerClusterDirectory
  let readiness: ReadinessTargets

  func run() async throws {
    try await untilShutdown {
      await directory.markReadyWhenSynced(readiness)
      try await gracefulShutdown()
    }
  }
}
