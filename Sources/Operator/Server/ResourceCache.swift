import ControlPlaneKit
import Foundation
import Kubernetes
import Logging
import ServiceLifecycle
import Synchronization

/// The operator's view of the cluster: one informer per Dapr kind, read by the List and Get calls (no API-server
/// call per request), beside the parts with one concern each that it runs together:
/// - ``SecretResolver``: the Secret informers, secrets filled into resources, Warning Events for missing ones;
/// - ``AppConfigurations``: the injected pods, for which Configurations each app's stream carries;
/// - ``ChangeFanOut``: informer events sent to the update streams through the hub.
public final class ResourceCache: Service, Sendable {
  public static let readinessTarget = "operator-caches"

  let components: Informer<DaprComponent>
  let configurations: Informer<DaprConfiguration>
  let subscriptions: Informer<DaprSubscription>
  let resiliencies: Informer<DaprResiliency>
  let httpEndpoints: Informer<DaprHTTPEndpoint>
  let mcpServers: Informer<DaprMCPServer>
  let workflowAccessPolicies: Informer<DaprWorkflowAccessPolicy>
  let secrets: SecretResolver
  let appConfigurations: AppConfigurations
  let readiness: ReadinessTargets
  let logger: Logger
  /// Set once, before the streams open.
  let hub = LatestValue<ResourceHub?>(nil)
  let client: any ObjectWatching & ObjectWriting
  /// The optional kinds whose CRDs are not installed (found at start; served as empty).
  private let absentKinds = Mutex<Set<ResourceKind>>([])

  /// A cache reading through `client` (the API server, or a fake in tests), backing off and rate-limiting its
  /// Events on `clock`.
  public init(
    client: any ObjectWatching & ObjectWriting, metrics: OperatorMetrics, readiness: ReadinessTargets, logger: Logger,
    secretNamespaces: Set<String> = [], clock: any Clock<Duration> = ContinuousClock()
  ) {
    self.client = client
    components = Informer(client: client, clock: clock, logger: logger)
    configurations = Informer(client: client, clock: clock, logger: logger)
    subscriptions = Informer(client: client, clock: clock, logger: logger)
    resiliencies = Informer(client: client, clock: clock, logger: logger)
    httpEndpoints = Informer(client: client, clock: clock, logger: logger)
    mcpServers = Informer(client: client, clock: clock, logger: logger)
    workflowAccessPolicies = Informer(client: client, clock: clock, logger: logger)
    secrets = SecretResolver(
      client: client, namespaces: secretNamespaces, clock: clock, metrics: metrics, logger: logger)
    appConfigurations = AppConfigurations(client: client, clock: clock, logger: logger)
    self.readiness = readiness
    self.logger = logger
  }

  /// The hub that fans this cache's changes out, with secrets resolved and Configurations sent only to the apps
  /// that name them.
  public func makeHub(metrics: OperatorMetrics, logger: Logger) -> ResourceHub {
    let hub = ResourceHub(
      metrics: metrics, logger: logger, configurations: { [appConfigurations] in appConfigurations.selection },
      resolver: { [secrets] kind, object in secrets.resolved(kind, object) })
    self.hub.set(hub)
    return hub
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

  /// The object with its secrets filled in, or nil when a Secret it needs is missing (see ``SecretResolver``).
  public func resolved(_ kind: ResourceKind, _ object: JSONValue) -> JSONValue? { secrets.resolved(kind, object) }

  /// `object` with the secrets it refers to filled in, or why that is impossible.
  public func resolving(_ kind: ResourceKind, _ object: JSONValue) throws(SecretResolution.MissingSecret) -> JSONValue {
    try secrets.resolving(kind, object)
  }

  // === Running ===

  /// Whether the CRD of an optional kind was missing at start.
  public func isAbsent(_ kind: ResourceKind) -> Bool { absentKinds.withLock { $0.contains(kind) } }

  /// Finds which optional kinds' CRDs are missing: a list of one object answers 404 for a resource the API server
  /// does not serve.
  func findAbsentKinds() async throws {
    func probe<Object: KubernetesObject>(_ type: Object.Type, _ kind: ResourceKind) async throws {
      do {
        _ = try await client.list(type, namespace: nil, options: ListOptions(limit: 1))
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
    let fanOut = ChangeFanOut(hub: hub, objects: { [self] in objects($0, namespace: $1) })
    // Subscribed before the informers start, so that no change between a list and a subscription is lost.
    var sends: [@Sendable () async -> Void] = [
      { [events = components.events()] in await fanOut.send(events, as: .component) },
      { [events = configurations.events()] in await fanOut.send(events, as: .configuration) },
      { [events = subscriptions.events()] in await fanOut.send(events, as: .subscription) },
      { [events = resiliencies.events()] in await fanOut.send(events, as: .resiliency) },
      { [events = httpEndpoints.events()] in await fanOut.send(events, as: .httpEndpoint) },
      { [events = mcpServers.events()] in await fanOut.send(events, as: .mcpServer) },
      { [events = workflowAccessPolicies.events()] in await fanOut.send(events, as: .workflowAccessPolicy) },
    ]
    for informer in secrets.informers {
      sends.append { [events = informer.events()] in await fanOut.sendUsers(of: events) }
    }
    var informers: [any Service] = [
      components, configurations, subscriptions, resiliencies, httpEndpoints, appConfigurations.pods,
    ]
    informers += secrets.informers as [any Service]
    var synced: [@Sendable () async -> Void] = [
      components.waitUntilSynced, configurations.waitUntilSynced, subscriptions.waitUntilSynced,
      resiliencies.waitUntilSynced, httpEndpoints.waitUntilSynced,
    ]
    synced += secrets.informers.map { $0.waitUntilSynced }
    if !isAbsent(.mcpServer) {
      informers.append(mcpServers)
      synced.append(mcpServers.waitUntilSynced)
    }
    if !isAbsent(.workflowAccessPolicy) {
      informers.append(workflowAccessPolicies)
      synced.append(workflowAccessPolicies.waitUntilSynced)
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { [self, synced] in
        for wait in synced { await wait() }
        // Not the pod cache: until it has synced every app gets all of its namespace's Configurations.
        readiness.markReady(Self.readinessTarget)
      }
      for send in sends { group.addTask { await send() } }
      group.addTask { [events = secrets.events] in await events.run() }
      // The informers end at a graceful stop. The fan-out and the Event recorder then have nothing left to do, and
      // some would wait for ever: an absent kind's informer never runs to end its stream, and the recorder's queue
      // is never finished. So they are cancelled rather than waited for.
      try await withThrowingTaskGroup(of: Void.self) { running in
        for informer in informers {
          running.addTask { try await informer.run() }
        }
        try await running.waitForAll()
      }
      group.cancelAll()
    }
  }
}
