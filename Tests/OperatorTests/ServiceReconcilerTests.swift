import ControlPlaneKit
import ControlPlaneTestSupport
import Foundation
import Kubernetes
import Logging
import Testing

@testable import Operator
@testable import OperatorCore

/// The Service reconciler against the in-memory fake: no API server, no informers, milliseconds per test.
@Suite struct ServiceReconcilerTests {
  /// A reconciler whose writes go to `store` (its client is never called: it points nowhere).
  static func reconciler(_ store: FakeObjectStore) throws -> ServiceReconciler {
    ServiceReconciler(
      client: try KubernetesClient(configuration: KubernetesConfiguration(server: "http://127.0.0.1:9")),
      registry: MetricsRegistry(includeProcessMetrics: false), writer: store, logger: Logger(label: "service"))
  }

  /// What the informer would show: the fake's Services.
  static func view(_ store: FakeObjectStore) -> ServiceView {
    ServiceView(
      get: { store.stored(KubernetesService.self, namespace: $0, name: $1) },
      inNamespace: { namespace in store.list(KubernetesService.self).filter { $0.metadata.namespace == namespace } })
  }

  static func deployment(enabled: Bool = true, appID: String = "checkout") -> JSONValue {
    [
      "apiVersion": "apps/v1", "kind": "Deployment",
      "metadata": ["name": "checkout", "namespace": "shop", "uid": "3f1c0c2e-0000-4000-8000-000000000001"],
      "spec": [
        "selector": ["matchLabels": ["app": "checkout"]],
        "template": [
          "metadata": [
            "labels": ["app": "checkout"],
            "annotations": ["dapr.io/enabled": enabled ? "true" : "false", "dapr.io/app-id": .string(appID)],
          ]
        ],
      ],
    ]
  }

  @Test func aDaprDeploymentGetsItsServiceAndASecondReconcileChangesNothing() async throws {
    let store = FakeObjectStore()
    let reconciler = try Self.reconciler(store)
    try await reconciler.reconcile(Self.deployment(), services: Self.view(store))
    let service = try #require(store.stored(KubernetesService.self, namespace: "shop", name: "checkout-dapr"))
    #expect(service.json["spec"]?["selector"] == ["app": "checkout"])
    #expect(
      service.json["metadata"]?["ownerReferences"]?.arrayValue?.first?["uid"]
        == "3f1c0c2e-0000-4000-8000-000000000001")
    try await reconciler.reconcile(Self.deployment(), services: Self.view(store))
    #expect(store.log == ["create services shop/checkout-dapr"])
  }

  @Test func aHandEditIsReverted() async throws {
    let store = FakeObjectStore()
    let reconciler = try Self.reconciler(store)
    try await reconciler.reconcile(Self.deployment(), services: Self.view(store))
    var edited = try #require(store.stored(KubernetesService.self, namespace: "shop", name: "checkout-dapr"))
    edited.json["spec"] = ["selector": ["app": "someone-else"]]
    _ = try await store.update(edited)
    try await reconciler.reconcile(Self.deployment(), services: Self.view(store))
    let service = try #require(store.stored(KubernetesService.self, namespace: "shop", name: "checkout-dapr"))
    #expect(service.json["spec"]?["selector"] == ["app": "checkout"])
    #expect(store.log.last == "update services shop/checkout-dapr")
  }

  @Test(arguments: [KubernetesError.Code.conflict, .internalError])
  func aFailedWriteIsRetriedByTheQueueUntilTheServiceIsRight(_ failure: KubernetesError.Code) async throws {
    let store = FakeObjectStore()
    let reconciler = try Self.reconciler(store)
    store.fail(.create, with: failure, times: 2)
    let (finished, finish) = AsyncStream.makeStream(of: Void.self)
    let loop = ReconcileLoop<String>(
      queue: WorkQueue(backoff: Backoff(initial: .milliseconds(5), maximum: .milliseconds(20)))
    ) { _ in
      do {
        try await reconciler.reconcile(Self.deployment(), services: Self.view(store))
        finish.yield()
        return .done
      } catch {
        return .failed
      }
    }
    let running = Task { await loop.run() }
    loop.add("shop/checkout")
    for await _ in finished { break }
    running.cancel()
    await running.value
    #expect(store.log == Array(repeating: "create services shop/checkout-dapr", count: 3))
    #expect(store.stored(KubernetesService.self, namespace: "shop", name: "checkout-dapr") != nil)
  }

  @Test func aStaleUpdateIsAConflictAndChangesNothing() async throws {
    let store = FakeObjectStore()
    let reconciler = try Self.reconciler(store)
    try await reconciler.reconcile(Self.deployment(), services: Self.view(store))
    let stale = try #require(store.stored(KubernetesService.self, namespace: "shop", name: "checkout-dapr"))
    var edited = stale
    edited.json["spec"] = ["selector": ["app": "someone-else"]]
    _ = try await store.update(edited)
    // The cache lags behind: it still holds the version before that edit (here with a selector the reconciler wants
    // to fix), so the update carries a stale resourceVersion and is refused with a 409.
    var cached = stale
    cached.json["spec"] = ["selector": ["app": "stale"]]
    let view = ServiceView(get: { [cached] _, _ in cached }, inNamespace: { [cached] _ in [cached] })
    await #expect(throws: KubernetesError.self) {
      try await reconciler.reconcile(Self.deployment(), services: view)
    }
    #expect(
      store.stored(KubernetesService.self, namespace: "shop", name: "checkout-dapr")?.json["spec"]?["selector"]
        == ["app": "someone-else"])
  }

  @Test func theServiceOfAWorkloadNoLongerUsingDaprIsDeletedAndOthersAreKept() async throws {
    let store = FakeObjectStore()
    let reconciler = try Self.reconciler(store)
    try await reconciler.reconcile(Self.deployment(), services: Self.view(store))
    var unrelated = KubernetesService(name: "orders-dapr", namespace: "shop")
    var metadata = unrelated.json["metadata"]?.objectValue ?? [:]
    metadata["ownerReferences"] = [["uid": "someone-else"]]
    unrelated.json["metadata"] = .object(metadata)
    store.seed(unrelated)
    try await reconciler.reconcile(Self.deployment(enabled: false), services: Self.view(store))
    #expect(store.stored(KubernetesService.self, namespace: "shop", name: "checkout-dapr") == nil)
    #expect(store.stored(KubernetesService.self, namespace: "shop", name: "orders-dapr") != nil)
    // Deleted meanwhile by someone else: nothing to do, no error.
    try await reconciler.reconcile(Self.deployment(enabled: false), services: Self.view(store))
  }
}
