import ControlPlaneKit
import Foundation
import Kubernetes
import Logging

/// The watchdog (leader only, `--watch-interval`): deletes pods that asked for Dapr but run without the sidecar (they
/// were created while the injector was down), so their controllers recreate them through the injector. It waits for
/// a ready `dapr-sidecar-injector` Deployment first (otherwise the pods would come back without the sidecar again),
/// spaces deletions by `--max-pod-restarts-per-minute`, and never lists pods the injector or an earlier pass marked.
struct PodWatchdog: Sendable {
  typealias Client = ObjectReading & ObjectWriting & ObjectListing
  let client: any Client
  let schedule: WatchdogSchedule
  let maxRestartsPerMinute: Int
  let canPatchLabels: Bool
  /// `--watch-namespace`: only pods of these namespaces (empty: all).
  var namespaces: Set<String> = []
  let logger: Logger
  /// How long to wait for the injector before looking again.
  var injectorRetry: Duration = .seconds(5)
  /// Whether the injector is ready (tests stand in for a kubelet here).
  var injectorReady: @Sendable (any Client) async throws -> Bool = { client in
    var selector = ListOptions()
    selector.labelSelector = "app=dapr-sidecar-injector"
    return WatchdogPlanner.injectorIsReady(
      try await client.listAll(Deployment.self, namespace: nil, options: selector).items)
  }

  func run() async throws {
    guard schedule != .off else { return }
    logger.info("DaprWatchdog worker started")
    defer { logger.info("DaprWatchdog worker stopped") }
    var pacing = RestartPacing(perMinute: maxRestartsPerMinute)
    // The first pass must complete, however long the injector takes to be ready.
    while try await !pass(&pacing) { try await Task.sleep(for: injectorRetry) }
    guard case .every(let interval) = schedule else { return }
    while true {
      try await Task.sleep(for: interval)
      _ = try await pass(&pacing)
    }
  }

  /// One look at the pods; false when it could not be done (no ready injector, or the API server failed).
  func pass(_ pacing: inout RestartPacing) async throws -> Bool {
    var podSelector = ListOptions()
    podSelector.labelSelector = WatchdogPlanner.podSelector
    let pods: [Pod]
    do {
      guard try await injectorReady(client) else {
        logger.warning("Could not find a running dapr-sidecar-injector; will retry later")
        return false
      }
      if namespaces.isEmpty {
        pods = try await client.listAll(Pod.self, namespace: nil, options: podSelector).items
      } else {
        var found: [Pod] = []
        for namespace in namespaces.sorted() {
          found += try await client.listAll(Pod.self, namespace: namespace, options: podSelector).items
        }
        pods = found
      }
    } catch {
      try Task.checkCancellation()
      logger.error("DaprWatchdog cannot list pods: \(error)")
      return false
    }
    logger.info("DaprWatchdog started checking pods")
    for action in WatchdogPlanner.actions(for: pods, canPatchLabels: canPatchLabels) {
      switch action {
      case .delete(let namespace, let name):
        try await Task.sleep(until: pacing.next(now: .now), clock: .continuous)
        do {
          // The list may be minutes old by now: a pod of the same name may have come back with its sidecar.
          let current = try await client.get(Pod.self, namespace: namespace, name: name)
          guard WatchdogPlanner.actions(for: [current], canPatchLabels: false) == [action] else { continue }
          logger.warning("Pod \(namespace)/\(name) does not have the Dapr sidecar and will be deleted")
          try await client.delete(
            Pod.self, namespace: namespace, name: name, resourceVersion: nil, propagationPolicy: nil)
          logger.info("Deleted pod \(namespace)/\(name)")
        } catch let error where error.code == .notFound {
          continue
        } catch {
          logger.error("Failed to delete pod \(namespace)/\(name). Error: \(error)")
        }
      case .label(let namespace, let name):
        do {
          _ = try await client.patch(
            Pod.self, namespace: namespace, name: name,
            .merge(["metadata": ["labels": [WatchdogPlanner.patchedLabel: "true"]]]), fieldManager: nil, force: false)
        } catch {
          logger.error("problems patching pod \(namespace)/\(name), err: \(error)")
        }
      }
    }
    logger.info("DaprWatchdog completed checking pods")
    return true
  }
}
