import ArgumentParser
import ControlPlaneKit
import Foundation
import Kubernetes
import Logging
import ServiceLifecycle

/// The sidecar injector: a mutating admission webhook that adds `daprd` to annotated pods.
public enum InjectorServer {
  /// The `injector` command's description.
  public static let commandConfiguration = CommandConfiguration(
    commandName: "injector",
    abstract:
      "Dapr's sidecar injector: a mutating admission webhook that adds daprd to pods annotated dapr.io/enabled.",
    version: BuildInfo.version)

  /// Ready once the webhook configuration carries the current trust anchors as its caBundle.
  public static let webhookConfigurationTarget = "webhook-configuration"
  /// The MutatingWebhookConfiguration the chart installs.
  public static let webhookConfigurationName = "dapr-sidecar-injector"

  /// Runs the injector until SIGTERM.
  public static func run(options: InjectorOptions) async throws {
    try await ControlPlaneProcess.run(
      component: .injector, options: options.observability,
      readinessTargets: [InjectorWebhook.readinessTarget, webhookConfigurationTarget]
    ) { environment in
      try await makeServices(options: options, environment: environment)
    }
  }

  /// The injector's services. Without a reachable Kubernetes configuration it serves health (503, naming what is
  /// missing) and metrics only, and says why in the log.
  public static func makeServices(
    options: InjectorOptions, environment: ProcessEnvironment,
    processEnvironment: [String: String] = ProcessInfo.processInfo.environment,
    onListening: @escaping @Sendable (Int) async -> Void = { _ in }
  ) async throws -> [any Service] {
    let logger = environment.logger
    var warnings: [String] = []
    var settings = try InjectorSettings(environment: processEnvironment, warnings: &warnings)
    settings.schedulerEnabled = options.schedulerEnabled
    for warning in warnings { logger.warning("\(warning)") }
    let allowList = try ServiceAccountAllowList(
      extra: [
        processEnvironment["ALLOWED_SERVICE_ACCOUNTS"], processEnvironment["ALLOWED_SERVICE_ACCOUNTS_PREFIX_NAMES"],
      ]
      .compactMap { $0 })

    guard
      let client = try KubernetesClient.ifConfigured(
        kubeconfigPath: options.kubeconfig, logger: logger, clientLogger: environment.logger(subscope: "kubernetes"),
        unserved: "the webhook")
    else { return [] }
    let namespace = settings.controlPlaneNamespace

    // Trust anchors: given to every sidecar and patched into the webhook's caBundle.
    let anchorsPath = processEnvironment["DAPR_TRUST_ANCHORS_FILE"] ?? "/var/run/secrets/dapr.io/tls/ca.crt"
    let anchors = try TrustBundleWatcher(path: anchorsPath, logger: environment.logger(subscope: "security"))
    let mTLS = LatestValue(true)
    let configurations = Informer<DaprConfiguration>(
      client: client, namespace: namespace,
      configuration: {
        var configuration = InformerConfiguration<DaprConfiguration>()
        configuration.fieldSelector = "metadata.name=daprsystem"
        return configuration
      }(), logger: environment.logger(subscope: "configuration"))

    // Components with a container annotation, for `dapr.io/inject-pluggable-components`; Dapr lists the
    // namespace's Components on every such review instead.
    let components = componentsInformer(
      client: client, namespace: nil, logger: environment.logger(subscope: "components"))

    let frozenSettings = settings
    let allowedUIDs = LatestValue<Set<String>>([])
    @Sendable func handler() -> AdmissionReviewHandler {
      var list = allowList
      list.uids = allowedUIDs.current
      return AdmissionReviewHandler(
        planner: PatchPlanner(
          settings: frozenSettings, trustAnchors: (try? anchors.bundle.current.pemEncoded()) ?? "",
          mTLSEnabled: mTLS.current),
        allowList: list,
        pluggableComponents: pluggableComponents(components))
    }
    let current = LatestValue(handler())

    let (sentryHost, sentryPort) = try hostAndPort(
      processEnvironment["DAPR_SENTRY_ADDRESS"] ?? "dapr-sentry.\(namespace).svc.\(settings.clusterDomain):443",
      name: "DAPR_SENTRY_ADDRESS")
    let tokenFile = SentryToken.file(environment: processEnvironment)
    let svid = SVIDClient(
      request: .init(
        appID: "dapr-injector", namespace: namespace, trustDomain: settings.controlPlaneTrustDomain,
        tokenFile: tokenFile, keyAlgorithm: .rsa2048),
      sentryHost: sentryHost, sentryPort: sentryPort,
      sentryID: try SPIFFEID(trustDomain: settings.controlPlaneTrustDomain, namespace: namespace, appID: "dapr-sentry"),
      trustAnchors: anchors.bundle, logger: environment.logger(subscope: "security"))

    let metrics = InjectorMetrics(registry: environment.metrics)
    return [
      KubernetesClientCloser(client: client), anchors, configurations, components,
      HandlerRefresher(
        anchors: anchors, configurations: configurations, mTLS: mTLS, rebuild: { current.set(handler()) }),
      AllowListUIDs(
        client: client, allowList: allowList, uids: allowedUIDs, rebuild: { current.set(handler()) }, logger: logger),
      CABundlePatcher(
        client: client, anchors: anchors.bundle, readiness: environment.readiness,
        logger: environment.logger(subscope: "webhook")),
      ServingWebhook(
        svid: svid, host: listenHost(options.listenAddress), port: options.port,
        handler: current, metrics: metrics, readiness: environment.readiness,
        logger: environment.logger(subscope: "webhook"), onListening: onListening),
    ]
  }
}

extension InjectorServer {
  /// The Components of `namespace` (nil: all), keeping only what pluggable-component injection needs.
  static func componentsInformer(
    client: KubernetesClient, namespace: String?, logger: Logger
  ) -> Informer<DaprComponent> {
    var configuration = InformerConfiguration<DaprComponent>()
    configuration.transform = pluggableComponentFacts
    return Informer(client: client, namespace: namespace, configuration: configuration, logger: logger)
  }

  /// A namespace's pluggable components, from the informer's cache (nil until it has loaded).
  static func pluggableComponents(_ informer: Informer<DaprComponent>) -> @Sendable (String) -> [PluggableComponent]? {
    { namespace in
      guard informer.hasSynced else { return nil }
      return informer.store.values.filter { $0.metadata.namespace == namespace }.compactMap(PluggableComponent.init)
    }
  }
}

/// What the injector keeps of a Component: its name, namespace, scopes and container annotation.
@Sendable func pluggableComponentFacts(_ component: DaprComponent) -> DaprComponent {
  let metadata = component.metadata
  var kept: JSONObject = [:]
  for key in ["name", "namespace", "resourceVersion"] { kept[key] = metadata.json[key] }
  if let container = metadata.annotations?[PluggableComponent.containerAnnotation] {
    kept["annotations"] = [PluggableComponent.containerAnnotation: .string(container)]
  }
  var json: JSONObject = ["metadata": .object(kept)]
  json["scopes"] = component.json["scopes"]
  return DaprComponent(json: json)
}

/// Rebuilds the review handler when the trust anchors or the `daprsystem` mTLS setting change; the setting is read
/// from an informer's cache, not fetched for every review as Dapr does.
struct HandlerRefresher: Service {
  let anchors: TrustBundleWatcher
  let configurations: Informer<DaprConfiguration>
  let mTLS: LatestValue<Bool>
  let rebuild: @Sendable () -> Void

  func run() async throws {
    try await untilShutdown {
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
          for await _ in anchors.bundle.updates() { rebuild() }
        }
        group.addTask {
          @Sendable func apply() {
            let enabled = configurations.store.values.first?.mtls.enabled ?? true
            if enabled != mTLS.current {
              mTLS.set(enabled)
              rebuild()
            }
          }
          // Subscribe, then read what is cached: a change is seen either way, whichever service started first.
          let events = configurations.events()
          await configurations.waitUntilSynced()
          apply()
          for await _ in events { apply() }
        }
        try await group.waitForAll()
      }
    }
  }
}

/// Looks up the UIDs of the exactly named allowed service accounts once at start-up, as Dapr does.
struct AllowListUIDs: Service {
  let client: KubernetesClient
  let allowList: ServiceAccountAllowList
  let uids: LatestValue<Set<String>>
  let rebuild: @Sendable () -> Void
  let logger: Logger

  func run() async throws {
    var found: Set<String> = []
    for pattern in allowList.patterns where pattern.isExact {
      do {
        let account = try await client.get(ServiceAccount.self, namespace: pattern.namespace, name: pattern.name)
        if let uid = account.json["metadata"]?["uid"]?.stringValue { found.insert(uid) }
      } catch {
        logger.debug("Unable to get SA \(pattern.namespace):\(pattern.name) UID: \(error)")
      }
    }
    uids.set(found)
    rebuild()
    try? await gracefulShutdown()
  }
}

/// Puts the trust anchors into the webhook configuration's caBundle at start-up and whenever they change, with
/// an `add` (correct whether or not the field exists); the readiness target turns ready after the first success.
/// A failure is retried (Dapr's injector exits instead).
struct CABundlePatcher: Service {
  let client: any ObjectWriting
  let anchors: LatestValue<TrustBundle>
  let readiness: ReadinessTargets
  let logger: Logger
  /// What the retries wait on (a manual clock in tests).
  var clock: any Clock<Duration> = ContinuousClock()

  func run() async throws {
    try await untilShutdown {
      for await bundle in anchors.updates(includingCurrent: true) {
        let value = Data(((try? bundle.pemEncoded()) ?? "").utf8).base64EncodedString()
        try await Backoff(initial: .seconds(1)).retrying(on: clock) {
          _ = try await client.patch(
            MutatingWebhookConfiguration.self, namespace: nil, name: InjectorServer.webhookConfigurationName,
            .json([JSONPatchOperation(op: "add", path: "/webhooks/0/clientConfig/caBundle", value: .string(value))]),
            fieldManager: nil, force: false)
        } onFailure: { error, delay in
          logger.error(
            "Cannot patch the caBundle of MutatingWebhookConfiguration \(InjectorServer.webhookConfigurationName): \(error); retrying in \(delay)"
          )
        }
        logger.info("Patched the caBundle of MutatingWebhookConfiguration \(InjectorServer.webhookConfigurationName)")
        readiness.markReady(InjectorServer.webhookConfigurationTarget)
      }
    }
  }
}

/// Gets the webhook's RSA SVID from sentry (DNS SAN `dapr-sidecar-injector.<ns>.svc`), serves HTTPS with it, and
/// renews it before it expires without dropping connections.
struct ServingWebhook: Service {
  let svid: SVIDClient
  let host: String
  let port: Int
  let handler: LatestValue<AdmissionReviewHandler>
  let metrics: InjectorMetrics
  let readiness: ReadinessTargets
  let logger: Logger
  let onListening: @Sendable (Int) async -> Void

  func run() async throws {
    try await svid.serving { [self] identity in
      try await InjectorWebhook(
        host: host, port: port, identity: identity, handler: handler, metrics: metrics, readiness: readiness,
        logger: logger, onListening: onListening
      ).run()
    }
  }
}
