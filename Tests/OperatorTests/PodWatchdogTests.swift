import ControlPlaneTestSupport
import Kubernetes
import Logging
import Testing

@testable import Operator
@testable import OperatorCore

/// The watchdog's passes against the in-memory fake: what it lists, deletes and labels, in milliseconds.
@Suite struct PodWatchdogTests {
  static func pod(
    _ name: String, containers: [String], enabled: String = "true", labels: [String: String]? = nil
  ) -> Pod {
    var pod = Pod(name: name, namespace: "shop")
    pod.metadata.annotations = ["dapr.io/enabled": enabled]
    pod.metadata.labels = labels
    pod.spec.containers = containers.map { Container(name: $0, image: "nginx") }
    return pod
  }

  /// A store holding the injector's Deployment (`readyReplicas` as given) and `pods`.
  static func store(injectorReady: Int, pods: [Pod]) -> FakeObjectStore {
    let store = FakeObjectStore()
    var injector = Deployment(name: "dapr-sidecar-injector", namespace: "dapr-system")
    injector.metadata.labels = ["app": "dapr-sidecar-injector"]
    injector.json["status"] = .object(["readyReplicas": .int(Int64(injectorReady))])
    store.seed(injector)
    for pod in pods { store.seed(pod) }
    return store
  }

  static func watchdog(_ store: FakeObjectStore, canPatchLabels: Bool = true) -> PodWatchdog {
    PodWatchdog(
      client: store, schedule: .once, maxRestartsPerMinute: 0, canPatchLabels: canPatchLabels,
      logger: Logger(label: "dapr.operator.watchdog"))
  }

  static func names(in store: FakeObjectStore) -> [String] {
    store.list(Pod.self).compactMap(\.metadata.name)
  }

  @Test func aPassDeletesPodsWithoutTheSidecarLabelsInjectedOnesAndNeverListsMarkedOnes() async throws {
    let store = Self.store(
      injectorReady: 1,
      pods: [
        Self.pod("orphan", containers: ["app"]),
        Self.pod("injected", containers: ["app", "daprd"]),
        Self.pod("plain", containers: ["app"], enabled: "false"),
        Self.pod("marked", containers: ["app"], labels: ["dapr.io/sidecar-injected": "true"]),
      ])
    var pacing = RestartPacing(perMinute: 0)
    #expect(try await Self.watchdog(store).pass(&pacing))
    #expect(Self.names(in: store) == ["injected", "marked", "plain"])
    let injected = try #require(store.stored(Pod.self, namespace: "shop", name: "injected"))
    #expect(injected.metadata.labels?["dapr.io/watchdog-patched"] == "true")
    #expect(
      store.log == [
        "list deployments ", "list pods ", "patch pods shop/injected", "get pods shop/orphan",
        "delete pods shop/orphan",
      ])
  }

  @Test func aPassWithoutAReadyInjectorDeletesNothingAndReportsThatItCouldNotRun() async throws {
    let store = Self.store(injectorReady: 0, pods: [Self.pod("orphan", containers: ["app"])])
    var pacing = RestartPacing(perMinute: 0)
    #expect(try await Self.watchdog(store).pass(&pacing) == false)
    #expect(Self.names(in: store) == ["orphan"])
    #expect(store.log == ["list deployments "])
  }

  @Test func aFailedDeleteIsLeftForTheNextPassAndTheOthersGoOn() async throws {
    let store = Self.store(
      injectorReady: 1,
      pods: [Self.pod("first", containers: ["app"]), Self.pod("second", containers: ["app"])])
    store.fail(.delete, with: .internalError)
    var pacing = RestartPacing(perMinute: 0)
    #expect(try await Self.watchdog(store, canPatchLabels: false).pass(&pacing))
    #expect(Self.names(in: store) == ["first"])
    #expect(try await Self.watchdog(store, canPatchLabels: false).pass(&pacing))
    #expect(Self.names(in: store).isEmpty)
  }

  @Test func aFailedListIsAPassNotDoneAndChangesNothing() async throws {
    let store = Self.store(injectorReady: 1, pods: [Self.pod("orphan", containers: ["app"])])
    store.fail(.list, with: .serviceUnavailable, times: 2)
    var pacing = RestartPacing(perMinute: 0)
    #expect(try await Self.watchdog(store).pass(&pacing) == false)
    #expect(Self.names(in: store) == ["orphan"])
  }
}
