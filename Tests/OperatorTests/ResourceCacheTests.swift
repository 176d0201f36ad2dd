import ControlPlaneKit
import ControlPlaneTestSupport
import Kubernetes
import Logging
import ServiceLifecycle
import Testing

@testable import Operator
@testable import OperatorCore

/// The operator's cache on the in-memory API server: its informers, the secret resolver, the app configurations and
/// the fan-out to update streams working together, without a socket.
@Suite(.timeLimit(.minutes(1)))
struct ResourceCacheTests {
  let store = FakeObjectStore()
  let registry = MetricsRegistry(includeProcessMetrics: false)
  let metrics: OperatorMetrics

  init() { metrics = OperatorMetrics(registry: registry) }
  let scope = StreamScope(namespace: "shop", appID: "checkout")

  static func secret(_ name: String, password: String) -> Secret {
    Secret(json: [
      "apiVersion": "v1", "kind": "Secret", "metadata": ["name": .string(name), "namespace": "shop"],
      "data": ["password": .string(password)],
    ])
  }

  static func component(_ name: String, secret: String? = nil) -> DaprComponent {
    var item: JSONObject = ["name": "redisPassword", "value": "none"]
    if let secret { item["secretKeyRef"] = ["name": .string(secret), "key": "password"] }
    return DaprComponent(json: [
      "apiVersion": "dapr.io/v1alpha1", "kind": "Component", "metadata": ["name": .string(name), "namespace": "shop"],
      "spec": ["type": "state.redis", "version": "v1", "metadata": [.object(item)]],
    ])
  }

  static func configuration(_ name: String) -> DaprConfiguration {
    DaprConfiguration(json: [
      "apiVersion": "dapr.io/v1alpha1", "kind": "Configuration",
      "metadata": ["name": .string(name), "namespace": "shop"], "spec": [:],
    ])
  }

  /// Runs a cache on the fake until it has synced, opens a stream of `kind` for `scope`, and hands both to `body`.
  func running(
    _ kind: ResourceKind,
    _ body: (ResourceCache, inout AsyncStream<ResourceHub.Outbound>.Iterator) async throws -> Void
  ) async throws {
    let readiness = ReadinessTargets([ResourceCache.readinessTarget])
    let cache = ResourceCache(client: store, metrics: metrics, readiness: readiness, logger: Logger(label: "test"))
    let hub = cache.makeHub(metrics: metrics, logger: Logger(label: "test"))
    let task = Task { try await cache.run() }
    defer { task.cancel() }
    await cache.components.waitUntilSynced()
    await cache.configurations.waitUntilSynced()
    await cache.appConfigurations.pods.waitUntilSynced()
    for informer in cache.secrets.informers { await informer.waitUntilSynced() }
    let (_, events) = hub.open(kind, scope: scope)
    var iterator = events.makeAsyncIterator()
    try await body(cache, &iterator)
  }

  /// The next event's type and the value of the object's first metadata item (Components) or its name.
  func next(_ events: inout AsyncStream<ResourceHub.Outbound>.Iterator) async throws -> (ResourceEventType, String) {
    guard case .event(let type, let data, _) = try #require(await events.next()) else { throw CancellationError() }
    let object = try JSONCoding.parse(data)
    let item = object["spec"]?["metadata"]?.arrayValue?.first
    let value = item?["value"]?.stringValue ?? object["metadata"]?["name"]?.stringValue
    return (type, value ?? "")
  }

  @Test func aGracefulStopEndsTheCacheWithItsFanOutAndEventRecorderWithoutCancellation() async throws {
    let readiness = ReadinessTargets([ResourceCache.readinessTarget])
    let cache = ResourceCache(client: store, metrics: metrics, readiness: readiness, logger: Logger(label: "test"))
    _ = cache.makeHub(metrics: metrics, logger: Logger(label: "test"))
    // No stop deadline: the group returns only once the cache has ended by itself.
    let group = ServiceGroup(services: [cache], logger: Logger(label: "test"))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
      tasks.addTask { try await group.run() }
      try await eventually("the cache is ready") { readiness.isReady }
      await group.triggerGracefulShutdown()
      try await tasks.waitForAll()
    }
  }

  @Test func aChangedSecretSendsItsComponentsAgainWithTheNewValue() async throws {
    store.seed(Self.secret("redis", password: "b25l"))
    store.seed(Self.component("cache", secret: "redis"))
    store.seed(Self.component("plain"))
    try await running(.component) { cache, events in
      #expect(cache.objects(.component, namespace: "shop").count == 2)
      var changed = try #require(store.stored(Secret.self, namespace: "shop", name: "redis"))
      changed.json["data"] = ["password": "dHdv"]
      _ = try await store.update(changed)

      let (type, value) = try await next(&events)
      #expect(type == .updated)
      #expect(value == "dHdv")
    }
  }

  @Test func aComponentWhoseSecretIsMissingIsHeldBackWithOneWarningUntilTheSecretArrives() async throws {
    try await running(.component) { cache, events in
      _ = try await store.create(Self.component("cache", secret: "redis"))
      await store.waitUntil { !store.list(Event.self).isEmpty }
      let exposition = String(decoding: registry.exposition(), as: UTF8.self)
      #expect(exposition.contains("dapr_operator_secret_resolution_failures_total 1\n"))
      let warning = try #require(store.list(Event.self).first)
      #expect(warning.reason == "SecretNotFound" && warning.involvedObject.name == "cache")

      _ = try await store.create(Self.component("plain"))
      #expect(try await next(&events) == (.created, "none"))

      _ = try await store.create(Self.secret("redis", password: "c2VjcmV0"))
      #expect(try await next(&events) == (.updated, "c2VjcmV0"))
      #expect(store.list(Event.self).count == 1)
    }
  }

  @Test func aConfigurationGoesOnlyToTheAppsWhosePodsNameIt() async throws {
    store.seed(
      Pod(json: [
        "metadata": [
          "name": "checkout-1", "namespace": "shop",
          "labels": ["dapr.io/sidecar-injected": "true", "dapr.io/app-id": "checkout"],
          "annotations": ["dapr.io/config": "tracing"],
        ]
      ]))
    try await running(.configuration) { cache, events in
      #expect(cache.appConfigurations.selection.carries("tracing", to: scope))
      _ = try await store.create(Self.configuration("metrics-only"))
      _ = try await store.create(Self.configuration("tracing"))

      #expect(try await next(&events) == (.created, "tracing"))
    }
  }
}
