import ControlPlaneCore
import Foundation
import KubernetesCore

/// How often the watchdog runs (`--watch-interval`): never, once at start-up, or every interval of at least a second.
public enum WatchdogSchedule: Hashable, Sendable {
  case off, once
  case every(Duration)

  /// `0` (off), `once`, or a Go duration of at least one second; anything else is refused, naming the flag.
  public init(parsing text: String) throws(WatchdogScheduleError) {
    let trimmed = text.trimmingWhitespace
    switch trimmed.lowercased() {
    case "", "0", "false": self = .off
    case "once": self = .once
    default:
      guard let duration = try? GoDuration(parsing: trimmed) else {
        throw WatchdogScheduleError(
          message: "--watch-interval must be 0, once, or a duration such as 30s or 1m, not \"\(text)\"")
      }
      guard duration.duration >= .seconds(1) else {
        throw WatchdogScheduleError(
          message: "--watch-interval must be at least 1s (or 0 for off, once for a single pass), not \"\(text)\"")
      }
      self = .every(duration.duration)
    }
  }
}

public struct WatchdogScheduleError: Error, Hashable, Sendable, CustomStringConvertible {
  public let message: String
  public var description: String { message }
}

/// What the watchdog does to one pod.
public enum WatchdogAction: Hashable, Sendable {
  /// Delete it: it asked for Dapr but has no sidecar, so its controller recreates it and the injector gets another go.
  case delete(namespace: String, name: String)
  /// Label it `dapr.io/watchdog-patched: "true"` so later passes do not list it (`--watchdog-can-patch-pod-labels`).
  case label(namespace: String, name: String)
}

/// The watchdog's decisions for one pass over the pods, as a pure function: pods enabled for Dapr (the injector's
/// rule, ``DaprEnabled``) without a `daprd` container are deleted; those that have one are labelled when allowed.
/// A native sidecar (`daprd` in `initContainers`) counts as a sidecar: Dapr's watchdog looks only at `containers` and
/// would delete every pod injected as a native sidecar. Pods already being deleted are left alone.
public enum WatchdogPlanner {
  public static let patchedLabel = "dapr.io/watchdog-patched"
  /// Pods the injector or an earlier pass has marked are not listed at all.
  public static let podSelector = "!dapr.io/sidecar-injected,!\(patchedLabel)"

  /// Whether a `dapr-sidecar-injector` Deployment has a ready replica: until then deleted pods would come back
  /// without the sidecar again.
  public static func injectorIsReady(_ deployments: [Deployment]) -> Bool {
    deployments.contains { ($0.json["status"]?["readyReplicas"]?.intValue ?? 0) >= 1 }
  }

  public static func actions(for pods: [Pod], canPatchLabels: Bool) -> [WatchdogAction] {
    pods.compactMap { pod in
      let metadata = pod.metadata
      guard let name = metadata.name, !name.isEmpty, metadata.json["deletionTimestamp"] == nil,
        DaprEnabled.isEnabled(annotations: metadata.annotations)
      else { return nil }
      let namespace = metadata.namespace ?? ""
      let spec = pod.json["spec"]
      let names = ((spec?["containers"]?.arrayValue ?? []) + (spec?["initContainers"]?.arrayValue ?? []))
        .compactMap { $0["name"]?.stringValue }
      if names.contains("daprd") {
        guard canPatchLabels, metadata.labels?[patchedLabel] == nil else { return nil }
        return .label(namespace: namespace, name: name)
      }
      return .delete(namespace: namespace, name: name)
    }
  }
}

/// Spaces pod deletions evenly, at most `perMinute` a minute (Dapr's limiter without slack: the first at once, the
/// next 60/`perMinute` seconds later); zero or less: no limit.
public struct RestartPacing: Sendable {
  let spacing: Duration?
  var last: ContinuousClock.Instant?

  public init(perMinute: Int) {
    spacing = perMinute > 0 ? .seconds(60) / perMinute : nil
  }

  /// When the next deletion may happen, given the time now; records it as taken.
  public mutating func next(now: ContinuousClock.Instant) -> ContinuousClock.Instant {
    guard let spacing else { return now }
    let slot = last.map { max(now, $0 + spacing) } ?? now
    last = slot
    return slot
  }
}
