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
  /// A reconciler on `store`.
  static func reconciler(_ store: FakeObjectStore, clock: ManualClock = ManualClock()) throws -> ServiceReconciler {
    ServiceReconciler(
      client: store, registry: MetricsRegistry(includeProcessMetrics: false), clock: clock,
      logger: Logger(label: "service"))
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

  /// Runs the reconciler (its informers, work queue and writes) on `store` while `body` looks at it.
  static func running(
    _ reconciler: ServiceReconciler, _ body: () async throws -> Void
  ) async throws {
    let task = Task { try await reconciler.run() }
    defer { task.cancel() }
    try await body()
  }

  static func calls(_ entry: String, in store: FakeObjectStore) -> Int { store.log.count { $0 == entry } }

  @Test(.timeLimit(.minutes(1)))
  func aFailedWriteComesBackAfterTheQueuesBackoffOnTheClockUntilTheServiceIsRight() async throws {
    let store = FakeObjectStore()
    let clock = ManualClock()
    store.seed(Deployment(json: Self.deployment().objectValue ?? [:]))
    store.fail(.create, with: .conflict)
    store.fail(.create, with: .internalError)
    let create = "create services shop/checkout-dapr"
    try await Self.running(try Self.reconciler(store, clock: clock)) {
      // A 409, then a 500: each attempt waits out the workload's backoff on the clock (100 ms, then 200 ms, each
      // plus up to 20%), not less.
      for (attempt, backoff) in [(1, Duration.milliseconds(100)), (2, .milliseconds(200))] {
        await store.waitUntil { Self.calls(create, in: store) == attempt }
        await clock.sleepers(atLeast: 1)
        clock.advance(by: backoff - .milliseconds(1))
        #expect(clock.sleeperCount == 1, "attempt \(attempt + 1) came before the backoff")
        #expect(store.stored(KubernetesService.self, namespace: "shop", name: "checkout-dapr") == nil)
        clock.advance(by: backoff / 5 + .milliseconds(1))
      }
      await store.waitUntil { store.stored(KubernetesService.self, namespace: "shop", name: "checkout-dapr") != nil }
      #expect(Self.calls(create, in: store) == 3)
    }
  }

  @Test(.timeLimit(.minutes(1)))
  func theRunningReconcilerPutsBackADeletedServiceAndRemovesItWhenDaprIsSwitchedOff() async throws {
    let store = FakeObjectStore()
    store.seed(Deployment(json: Self.deployment().objectValue ?? [:]))
    let service = { store.stored(KubernetesService.self, namespace: "shop", name: "checkout-dapr") }
    try await Self.running(try Self.reconciler(store)) {
      await store.waitUntil { service() != nil }

      try await store.delete(
        KubernetesService.self, namespace: "shop", name: "checkout-dapr", resourceVersion: nil, propagationPolicy: nil)
      await store.waitUntil { service() != nil }
      #expect(Self.calls("create services shop/checkout-dapr", in: store) == 2)

      var deployment = try #require(store.stored(Deployment.self, namespace: "shop", name: "checkout"))
      deployment.json["spec"] = Self.deployment(enabled: false)["spec"]
      _ = try await store.update(deployment)
      await store.waitUntil { service() == nil }
      #expect(store.log.last == "delete services shop/checkout-dapr")
    }
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
