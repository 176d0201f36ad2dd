import ControlPlaneKit
import Foundation
import Kubernetes
import Logging
import ServiceLifecycle
import Synchronization

/// The operator's view of the cluster: one informer per Dapr kind and one for Secrets, read by the List and Get
/// calls (no API-server call per request) and fanned out to update streams as they change.
public final class ResourceCache: Service, Sendable {
  public static let readinessTarget = "operator-caches"

  let components: Informer<DaprComponent>
  let configurations: Informer<DaprConfiguration>
  let subscriptions: Informer<DaprSubscription>
  let resiliencies: Informer<DaprResiliency>
  let httpEndpoints: Informer<DaprHTTPEndpoint>
  let mcpServers: Informer<DaprMCPServer>
  let workflowAccessPolicies: Informer<DaprWorkflowAccessPolicy>
  /// One Secret informer for the whole cluster, or one per namespace of ``secretNamespaces``.
  let secretInformers: [Informer<Secret>]
  /// The namespaces whose Secrets the operator may read (`--secret-namespaces`); empty: every namespace.
  let secretNamespaces: Set<String>
  /// Injected pods (label `dapr.io/sidecar-injected=true`), only their app id and `dapr.io/config`.
  let pods: Informer<Pod>
  let metrics: OperatorMetrics
  let readiness: ReadinessTargets
  let logger: Logger
  /// Set once, before the streams open.
  let hub = LatestValue<ResourceHub?>(nil)
  let client: KubernetesClient
  /// The optional kinds whose CRDs are not installed (found at start; served as empty).
  private let absentKinds = Mutex<Set<ResourceKind>>([])
  /// Warning Events about resources sidecars cannot use (a missing Secret).
  let events: EventRecorder

  public init(
    client: KubernetesClient, metrics: OperatorMetrics, readiness: ReadinessTargets, logger: Logger,
    secretNamespaces: Set<String> = []
  ) {
    self.client = client
    events = EventRecorder(client: client, logger: logger)
    components = Informer(client: client, logger: logger)
    configurations = Informer(client: client, logger: logger)
    subscriptions = Informer(client: client, logger: logger)
    resiliencies = Informer(client: client, logger: logger)
    httpEndpoints = Informer(client: client, logger: logger)
    mcpServers = Informer(client: client, logger: logger)
    workflowAccessPolicies = Informer(client: client, logger: logger)
    self.secretNamespaces = secretNamespaces
    secretInformers =
      secretNamespaces.isEmpty
      ? [Informer(client: client, logger: logger)]
      : secretNamespaces.sorted().map { Informer(client: client, namespace: $0, logger: logger) }
    var podConfiguration = InformerConfiguration<Pod>()
    podConfiguration.labelSelector = "dapr.io/sidecar-injected=true"
    podConfiguration.transform = Self.podFacts
    pods = Informer(client: client, configuration: podConfiguration, logger: logger)
    self.metrics = metrics
    self.readiness = readiness
    self.logger = logger
  }

  /// The hub that fans this cache's changes out, with secrets resolved and Configurations sent only to the apps
  /// that name them.
  public func makeHub(metrics: OperatorMetrics, logger: Logger) -> ResourceHub {
    let hub = ResourceHub(
      metrics: metrics, logger: logger, configurations: { [self] in configurationSelection },
      resolver: { [self] kind, object in resolved(kind, object) })
    self.hub.set(hub)
    return hub
  }

  /// What the operator keeps of a pod: namespace, name, the app-id label and the config annotation.
  @Sendable static func podFacts(_ pod: Pod) -> Pod {
    var metadata: JSONObject = [:]
    for key in ["name", "namespace", "resourceVersion"] { metadata[key] = pod.metadata.json[key] }
    if let appID = pod.metadata.labels?["dapr.io/app-id"] { metadata["labels"] = ["dapr.io/app-id": .string(appID)] }
    if let config = pod.metadata.annotations?["dapr.io/config"] {
      metadata["annotations"] = ["dapr.io/config": .string(config)]
    }
    return Pod(json: ["metadata": .object(metadata)])
  }

  /// Which Configurations each app's stream carries, from the pod cache.
  public var configurationSelection: ConfigurationSelection {
    ConfigurationSelection(
      pods: pods.store.values.map {
        ConfigurationSelection.Pod(
          namespace: $0.metadata.namespace ?? "", appID: $0.metadata.labels?["dapr.io/app-id"] ?? "",
          configuration: $0.metadata.annotations?["dapr.io/config"])
      })
  }

  // === Reading ===

  /// The objects of `kind` in `namespace`, sorted by name.
  public func objects(_ kind: ResourceKind, namespace: String) -> [JSONValue] {
    let all: [JSONValue]
    switch kind {
    case .component: all = components.store.values.map { .object($0.json) }
    case .configuration: all = configurations.store.values.map { .object($0.json) }
    case .subscription: all = subscriptions.store.values.map { .object($0.json) }
    case .resiliency: all = resiliencies.store.values.map { .object($0.json) }
    case .httpEndpoint: all = httpEndpoints.store.values.map { .object($0.json) }
    case .mcpServer: all = mcpServers.store.values.map { .object($0.json) }
    case .workflowAccessPolicy: all = workflowAccessPolicies.store.values.map { .object($0.json) }
    }
    return all.filter { $0["metadata"]?["namespace"]?.stringValue == namespace }
      .sorted { ($0["metadata"]?["name"]?.stringValue ?? "") < ($1["metadata"]?["name"]?.stringValue ?? "") }
  }

  /// The object with its secrets filled in, or nil (logged and counted) when a Secret it needs is missing. This is
  /// where the operator does better than Dapr: one broken resource no longer fails the whole list.
  public func resolved(_ kind: ResourceKind, _ object: JSONValue) -> JSONValue? {
    do {
      return try resolving(kind, object)
    } catch {
      metrics.secretFailures.increment()
      logger.error("Leaving out a resource its sidecars cannot use yet: \(error)")
      recordMissingSecret(object, error)
      return nil
    }
  }

  /// `object` with the secrets it refers to filled in, or why that is impossible.
  public func resolving(_ kind: ResourceKind, _ object: JSONValue) throws(SecretResolution.MissingSecret) -> JSONValue {
    if !secretNamespaces.isEmpty, let namespace = object["metadata"]?["namespace"]?.stringValue,
      !secretNamespaces.contains(namespace), Self.refersToAnySecret(object)
    {
      throw SecretResolution.MissingSecret(
        resource: SecretResolution.label(of: object), secret: namespace,
        problem:
          "the operator may read Secrets only in \(secretNamespaces.sorted().joined(separator: ", ")) "
          + "(--secret-namespaces, the chart's dapr_rbac.secretReader.namespaces), not in \(namespace)")
    }
    let lookup: SecretResolution.SecretLookup = { namespace, name in
      guard let secret = self.secret(namespace: namespace, name: name) else { return nil }
      return (secret.json["data"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
    }
    switch kind {
    case .component: return try SecretResolution.component(object, lookup: lookup)
    case .httpEndpoint: return try SecretResolution.httpEndpoint(object, lookup: lookup)
    case .configuration: return try SecretResolution.configuration(object, lookup: lookup)
    case .mcpServer: return try SecretResolution.mcpServer(object, lookup: lookup)
    case .subscription, .resiliency, .workflowAccessPolicy: return object
    }
  }

  /// A Secret from the informer that holds its namespace.
  func secret(namespace: String, name: String) -> Secret? {
    for informer in secretInformers where informer.namespace == nil || informer.namespace == namespace {
      return informer.get(namespace: namespace, name: name)
    }
    return nil
  }

  /// Whether the object has a `secretKeyRef` naming a Secret.
  static func refersToAnySecret(_ value: JSONValue) -> Bool {
    switch value {
    case .object(let object):
      if let name = object["secretKeyRef"]?["name"]?.stringValue, !name.isEmpty { return true }
      return object.values.contains { refersToAnySecret($0) }
    case .array(let array):
      return array.contains { refersToAnySecret($0) }
    default:
      return false
    }
  }

  /// A Warning Event on the resource, so `kubectl describe component` says why sidecars do not get it; once per
  /// resource and Secret every ten minutes, not on every list.
  func recordMissingSecret(_ object: JSONValue, _ error: SecretResolution.MissingSecret) {
    let uid = object["metadata"]?["uid"]?.stringValue ?? ""
    events.warn(
      about: object, key: "\(uid)/\(error.secret)", reason: "SecretNotFound",
      message: "\(error.description); sidecars do not receive this resource until it exists")
  }

  // === Running ===

  /// Whether the CRD of an optional kind was missing at start.
  public func isAbsent(_ kind: ResourceKind) -> Bool { absentKinds.withLock { $0.contains(kind) } }

  /// Finds which optional kinds' CRDs are missing: a list of one object answers 404 for a resource the API server
  /// does not serve.
  func findAbsentKinds() async throws {
    func probe<Object: KubernetesObject>(_ type: Object.Type, _ kind: ResourceKind) async throws {
      do {
        _ = try await client.list(type, options: ListOptions(limit: 1))
      } catch let error where error.code == .notFound {
        absentKinds.withLock { _ = $0.insert(kind) }
        logger.warning(
          "The \(Object.resource.plural).\(Object.resource.group) CRD is not installed: sidecars get no \(Object.resource.kind)s until it is (apply crds/ and restart the operator)"
        )
      } catch {
        // Anything else (the API server not reachable yet): the informer will retry as for every other kind.
        try Task.checkCancellation()
      }
    }
    try await probe(DaprMCPServer.self, .mcpServer)
    try await probe(DaprWorkflowAccessPolicy.self, .workflowAccessPolicy)
  }

  public func run() async throws {
    try await findAbsentKinds()
    // Subscribed before the informers start, so that no change between a list and a subscription is lost.
    let componentEvents = components.events()
    let configurationEvents = configurations.events()
    let subscriptionEvents = subscriptions.events()
    let resiliencyEvents = resiliencies.events()
    let httpEndpointEvents = httpEndpoints.events()
    let mcpServerEvents = mcpServers.events()
    let policyEvents = workflowAccessPolicies.events()
    let secretEvents = secretInformers.map { $0.events() }
    var informers: [any Service] = [components, configurations, subscriptions, resiliencies, httpEndpoints, pods]
    informers += secretInformers as [any Service]
    var synced: [@Sendable () async -> Void] = [
      components.waitUntilSynced, configurations.waitUntilSynced, subscriptions.waitUntilSynced,
      resiliencies.waitUntilSynced, httpEndpoints.waitUntilSynced,
    ]
    synced += secretInformers.map { $0.waitUntilSynced }
    if !isAbsent(.mcpServer) {
      informers.append(mcpServers)
      synced.append(mcpServers.waitUntilSynced)
    }
    if !isAbsent(.workflowAccessPolicy) {
      informers.append(workflowAccessPolicies)
      synced.append(workflowAccessPolicies.waitUntilSynced)
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
      for informer in informers {
        group.addTask { try await informer.run() }
      }
      group.addTask { [self, synced] in
        for wait in synced { await wait() }
        // Not the pod cache: until it has synced every app gets all of its namespace's Configurations.
        readiness.markReady(Self.readinessTarget)
      }
      group.addTask { [self] in await dispatch(componentEvents, as: .component) }
      group.addTask { [self] in await dispatch(configurationEvents, as: .configuration) }
      group.addTask { [self] in await dispatch(subscriptionEvents, as: .subscription) }
      group.addTask { [self] in await dispatch(resiliencyEvents, as: .resiliency) }
      group.addTask { [self] in await dispatch(httpEndpointEvents, as: .httpEndpoint) }
      group.addTask { [self] in await dispatch(mcpServerEvents, as: .mcpServer) }
      group.addTask { [self] in await dispatch(policyEvents, as: .workflowAccessPolicy) }
      for events in secretEvents { group.addTask { [self] in await dispatchSecrets(events) } }
      group.addTask { [events] in await events.run() }
      try await group.waitForAll()
    }
  }

  func dispatch<Object: KubernetesObject>(_ events: AsyncStream<InformerEvent<Object>>, as kind: ResourceKind) async {
    // Objects of the initial list (the events before `.synced`) are not sent: streams start empty and sidecars
    // List first, as in Dapr.
    var listed = false
    for await event in events {
      if case .synced = event { listed = true }
      guard let hub = hub.current, listed else { continue }
      switch event {
      case .added(let object):
        hub.publish(kind, old: nil, new: ResourceSnapshot(object: .object(object.json)))
      case .updated(let old, let new):
        hub.publish(
          kind, old: ResourceSnapshot(object: .object(old.json)), new: ResourceSnapshot(object: .object(new.json)))
      case .deleted(let object):
        hub.publish(kind, old: ResourceSnapshot(object: .object(object.json)), new: nil)
      case .synced:
        continue
      }
    }
  }

  /// A changed Secret sends UPDATED for the Components, HTTPEndpoints, MCPServers and Configurations that use it, within the
  /// informer's delay, rather than on the sidecar's next re-list as in Dapr.
  func dispatchSecrets(_ events: AsyncStream<InformerEvent<Secret>>) async {
    var listed = false
    for await event in events {
      if case .synced = event { listed = true }
      guard let hub = hub.current, listed else { continue }
      let secret: Secret
      switch event {
      case .added(let object), .updated(_, let object), .deleted(let object): secret = object
      case .synced: continue
      }
      let namespace = secret.metadata.namespace ?? ""
      let name = secret.metadata.name ?? ""
      for kind in [ResourceKind.component, .httpEndpoint, .mcpServer, .configuration] {
        let users = objects(kind, namespace: namespace).filter { Self.refers($0, to: name) }
        if !users.isEmpty { hub.republish(kind, users.map(ResourceSnapshot.init(object:))) }
      }
    }
  }

  /// Whether any `secretKeyRef` in the object names `secret`.
  static func refers(_ value: JSONValue, to secret: String) -> Bool {
    switch value {
    case .object(let object):
      if object["secretKeyRef"]?["name"]?.stringValue == secret { return true }
      return object.values.contains { refers($0, to: secret) }
    case .array(let array):
      return array.contains { refers($0, to: secret) }
    default:
      return false
    }
  }
}
