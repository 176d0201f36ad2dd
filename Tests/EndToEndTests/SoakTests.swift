import AsyncHTTPClient
import ControlPlaneTestSupport
import Foundation
import Kubernetes
import Testing

/// A bounded soak, in CI: many simulated sidecars while Components change, pods are replaced, certificates renew
/// every 30 s and placement re-disseminates; afterwards every sidecar's view equals the API server's, no process
/// died, and each service's memory is back near where it was. Run on its own (`swift test --filter SoakTests`):
/// its load is not for sharing with the other suites. `SOAK_SIDECARS` and `SOAK_SECONDS` change its size.
@Suite(.serialized, .timeLimit(.minutes(20))) struct SoakTests {
  static let sidecars = Int(ProcessInfo.processInfo.environment["SOAK_SIDECARS"] ?? "") ?? 500
  static let seconds = Int(ProcessInfo.processInfo.environment["SOAK_SECONDS"] ?? "") ?? 150
  static let namespaces = 10

  @Test func fiveHundredSidecarsThroughMinutesOfChurnEndWithTheAPIsViewAndTheirMemoryBack() async throws {
    let env = try await EndToEndEnvironment.shared(
      sets: ["global.mtls.workloadCertTTL=1m", "global.mtls.allowedClockSkew=10s"], relistInterval: "60s")
    let perNamespace = max(1, Self.sidecars / Self.namespaces)
    var spaces: [String] = []
    for index in 0..<Self.namespaces {
      let ns = try await env.namespace("soak-\(index)")
      spaces.append(ns)
      // Two namespaces in ten host actors, so that pod churn there re-disseminates placement's tables.
      let actors = index < 2 ? ["Cart"] : []
      try Kubectl.run(
        ["apply", "-f", "-"], kubeconfig: env.kubeconfig,
        input: EndToEndEnvironment.component("statestore", namespace: ns) + "---\n"
          + EndToEndEnvironment.deployment("app", namespace: ns, replicas: perNamespace, actorTypes: actors))
    }
    let started = ContinuousClock.now
    var pods: [Pod] = []
    for ns in spaces { pods += try await env.injectedPods(namespace: ns, app: "app", count: perNamespace) }
    try await env.waitUntilHealthy(pods, within: .seconds(600))
    let ready = ContinuousClock.now - started
    // A short warm-up of the same churn first, so that "before" is a service that has run every path once (its
    // code paged in, its caches at size), then settled: its heap trim runs every 5 s.
    _ = try await Self.churn(env, spaces: spaces, for: .seconds(min(20, Self.seconds)))
    try await Task.sleep(for: .seconds(15))
    let before = try await env.residentMemory()
    let anonymousBefore = env.anonymousMemory()
    let eventsBefore = try await env.simulatorMetric("dapr_sidecar_simulator_operator_events_total")
    let roundsBefore =
      try await env.metric("dapr_placement_dissemination_duration_seconds_count", of: "placement")
      + env.metric("dapr_placement_dissemination_duration_seconds_count", of: "placement-1")
    let renewalsBefore = try await env.simulatorMetric("dapr_sidecar_simulator_svid_renewals_total")

    // --- churn ---------------------------------------------------------------------------------------------------
    let (changes, replaced) = try await Self.churn(env, spaces: spaces, for: .seconds(Self.seconds))

    // --- afterwards ----------------------------------------------------------------------------------------------
    pods = []
    for ns in spaces { pods += try await env.injectedPods(namespace: ns, app: "app", count: perNamespace) }
    try await env.waitUntilHealthy(pods, within: .seconds(300))
    // Every sidecar holds exactly the API's Components (same resourceVersion): no stream stuck.
    for ns in spaces {
      let component = try await env.admin.get(DaprComponent.self, namespace: ns, name: "statestore")
      let version = component.metadata.resourceVersion ?? ""
      for pod in pods where pod.metadata.namespace == ns {
        let url = env.sidecarURL(namespace: ns, pod: pod.metadata.name!, "v1.0-sim/resources/component")
        try await eventually(
          "the sidecar of \(ns)/\(pod.metadata.name!) holds version \(version)", within: .seconds(60)
        ) {
          let objects = try await env.get(url).body.arrayValue ?? []
          return objects.count == 1 && objects.first?["metadata"]?["resourceVersion"]?.stringValue == version
        }
      }
    }
    try await Task.sleep(for: .seconds(15))
    let after = try await env.residentMemory()
    let anonymousAfter = env.anonymousMemory()
    let events = try await env.simulatorMetric("dapr_sidecar_simulator_operator_events_total") - eventsBefore
    let rounds =
      try await env.metric("dapr_placement_dissemination_duration_seconds_count", of: "placement")
      + env.metric("dapr_placement_dissemination_duration_seconds_count", of: "placement-1") - roundsBefore
    let renewals = try await env.simulatorMetric("dapr_sidecar_simulator_svid_renewals_total") - renewalsBefore
    let failures = try await env.simulatorMetric("dapr_sidecar_simulator_svid_renewal_failures_total")
    let p99 = try await env.simulatorHistogramQuantile("dapr_sidecar_simulator_component_delivery_seconds", 0.99)
    var report = """
      soak: \(pods.count) simulated sidecars in \(spaces.count) namespaces, ready in \(ready)
        churn for \(Self.seconds) s: \(changes) Component changes, \(replaced) pods replaced
        operator events delivered: \(Int(events)), p99 change-to-sidecar delivery \(String(format: "%.3f", p99)) s
        placement rounds: \(Int(rounds)); certificate renewals: \(Int(renewals)) (\(Int(failures)) failed)
        resident memory before -> after churn, MiB (of which anonymous: heap and stacks):
      """
    var grown: [String] = []
    for role in before.keys.sorted() {
      let (was, now) = (before[role]!, after[role] ?? 0)
      let anonymous = (anonymousBefore[role] ?? 0, anonymousAfter[role] ?? 0)
      report += String(
        format: "\n    %@: %.1f -> %.1f (%.1f -> %.1f)", role, was / 1_048_576, now / 1_048_576,
        anonymous.0 / 1_048_576, anonymous.1 / 1_048_576)
      if now > was * 1.10 { grown.append(role) }
    }
    print(report)
    try report.write(
      to: LocalKubernetes.repositoryRoot.appendingPathComponent(".cache/soak-report.txt"), atomically: true,
      encoding: .utf8)
    #expect(env.allRunning(), "a process of the control plane died during the soak")
    #expect(grown.isEmpty, "resident memory grew by more than 10%: \(grown)")
    #expect(events >= Double(changes), "\(events) events for \(changes) changes")
    #expect(renewals > 0)
  }

  /// Changes a Component every 200 ms, round robin over the namespaces, and replaces a pod every tenth change,
  /// for `duration`; returns the numbers of changes and of replaced pods.
  static func churn(
    _ env: EndToEndEnvironment, spaces: [String], for duration: Duration
  ) async throws
    -> (changes: Int, replaced: Int)
  {
    let deadline = ContinuousClock.now + duration
    var changes = 0
    var replaced = 0
    while ContinuousClock.now < deadline {
      let ns = spaces[changes % spaces.count]
      try Kubectl.run(
        ["apply", "-f", "-"], kubeconfig: env.kubeconfig,
        input: EndToEndEnvironment.component(
          "statestore", namespace: ns, host: "redis-\(UUID().uuidString.prefix(8)):6379"))
      changes += 1
      if changes % 10 == 0 {
        // A pod replaced: the injector injects its successor, a new sidecar signs in, placement re-disseminates.
        let victimSpace = spaces[(changes / 10) % spaces.count]
        let victims = try await env.admin.list(
          Pod.self, namespace: victimSpace, options: ListOptions(labelSelector: "app=app")
        ).items
        if let victim = victims.randomElement()?.metadata.name {
          try Kubectl.run(["delete", "pod", victim, "-n", victimSpace, "--wait=false"], kubeconfig: env.kubeconfig)
          replaced += 1
        }
      }
      try await Task.sleep(for: .milliseconds(200))
    }
    return (changes, replaced)
  }
}
