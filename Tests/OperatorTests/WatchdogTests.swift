import Kubernetes
import Operator
import Testing

@Suite struct WatchdogTests {
  static func pod(
    _ name: String, enabled: String? = "true", containers: [String] = ["app"], initContainers: [String] = [],
    labels: [String: String] = [:], deleting: Bool = false
  ) -> Pod {
    var pod = Pod(name: name, namespace: "shop")
    if let enabled { pod.metadata.annotations = ["dapr.io/enabled": enabled] }
    if !labels.isEmpty { pod.metadata.labels = labels }
    if deleting { pod.metadata.json["deletionTimestamp"] = "2026-11-23T00:00:00Z" }
    pod.json["spec"] = [
      "containers": .array(containers.map { ["name": .string($0)] }),
      "initContainers": .array(initContainers.map { ["name": .string($0)] }),
    ]
    return pod
  }

  @Test(
    "The watchdog deletes enabled pods without daprd and labels those with it only when allowed",
    arguments: [
      (pod("plain"), false, [WatchdogAction.delete(namespace: "shop", name: "plain")]),
      (pod("upper", enabled: "TRUE"), false, [.delete(namespace: "shop", name: "upper")]),
      // The injector's rule: `yes` was never injected, so deleting it would loop forever.
      (pod("yes", enabled: "yes"), false, []),
      (pod("off", enabled: "false"), false, []),
      (pod("none", enabled: nil), false, []),
      (pod("injected", containers: ["app", "daprd"]), false, []),
      (pod("injected", containers: ["app", "daprd"]), true, [.label(namespace: "shop", name: "injected")]),
      // A native sidecar is a sidecar (Dapr's watchdog deleted these).
      (pod("native", initContainers: ["daprd"]), false, []),
      (pod("native", initContainers: ["daprd"]), true, [.label(namespace: "shop", name: "native")]),
      (pod("patched", containers: ["daprd"], labels: ["dapr.io/watchdog-patched": "true"]), true, []),
      (pod("leaving", deleting: true), false, []),
    ] as [(Pod, Bool, [WatchdogAction])])
  func actions(pod: Pod, canPatchLabels: Bool, expected: [WatchdogAction]) {
    #expect(WatchdogPlanner.actions(for: [pod], canPatchLabels: canPatchLabels) == expected)
  }

  @Test(
    "--watch-interval is 0, once, or at least a second, and anything else is refused naming the flag",
    arguments: [
      ("0", WatchdogSchedule.off), ("", .off), ("once", .once), ("ONCE", .once), ("1s", .every(.seconds(1))),
      ("1m30s", .every(.seconds(90))),
    ])
  func schedules(text: String, expected: WatchdogSchedule) throws {
    #expect(try WatchdogSchedule(parsing: text) == expected)
  }

  @Test(arguments: ["500ms", "soon", "10", "-1s"])
  func badSchedulesAreRefusedWithTheFlagNamed(text: String) {
    #expect {
      try WatchdogSchedule(parsing: text)
    } throws: { ($0 as? WatchdogScheduleError)?.message.contains("--watch-interval") == true }
  }

  @Test func deletionsAreSpacedEvenlyAndTheFirstIsImmediate() {
    let start = ContinuousClock.now
    var pacing = RestartPacing(perMinute: 20)
    #expect(pacing.next(now: start) == start)
    #expect(pacing.next(now: start) == start + .seconds(3))
    #expect(pacing.next(now: start + .seconds(1)) == start + .seconds(6))
    // After a quiet spell the next one is at once again.
    #expect(pacing.next(now: start + .seconds(60)) == start + .seconds(60))
    var unlimited = RestartPacing(perMinute: 0)
    #expect(unlimited.next(now: start) == start && unlimited.next(now: start) == start)
  }

  @Test func theInjectorIsReadyWithOneReadyReplica() {
    var deployment = Deployment(name: "dapr-sidecar-injector", namespace: "dapr-system")
    #expect(!WatchdogPlanner.injectorIsReady([deployment]))
    deployment.json["status"] = ["replicas": 1, "readyReplicas": 0]
    #expect(!WatchdogPlanner.injectorIsReady([deployment]))
    deployment.json["status"] = ["replicas": 1, "readyReplicas": 1]
    #expect(WatchdogPlanner.injectorIsReady([deployment]))
    #expect(!WatchdogPlanner.injectorIsReady([]))
  }
}
