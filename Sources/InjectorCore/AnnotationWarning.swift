/// An annotation value the injector could not use as written, and what it used instead. The webhook returns these
/// as the AdmissionReview's `warnings` (so `kubectl apply` prints them to whoever wrote the pod), logs them, and
/// counts them by reason; `injector inject` prints them to stderr. Dapr falls back silently.
public struct AnnotationWarning: Hashable, Sendable, CustomStringConvertible {
  public enum Reason: String, Hashable, Sendable, CaseIterable {
    /// An integer annotation whose value is not a decimal integer (letters, spaces, a decimal point).
    case notAnInteger = "not_an_integer"
    /// An integer outside what its field can hold (a port above 65535, a probe value beyond 32 bits).
    case outOfRange = "out_of_range"
    /// Present but empty where empty cannot be used.
    case empty
    /// A list entry or reference that does not have the expected shape (`name:path`, `NAME=value`, `secret:key`).
    case malformed
    /// A `dapr.io/` key that is not a Dapr annotation but is close to one.
    case unknownAnnotation = "unknown_annotation"
    /// A resource annotation that is not a Kubernetes quantity.
    case badQuantity = "bad_quantity"
  }

  public let reason: Reason
  public let message: String
  public var description: String { message }

  public init(_ reason: Reason, _ message: String) {
    self.reason = reason
    self.message = message
  }

  /// `dapr.io/<key>`.
  static func name(_ key: String) -> String { SidecarAnnotations.prefix + key }

  /// A value as a warning shows it: quoted, control characters escaped, and at most 48 characters, so one line of a
  /// warning stays well under the API server's 256-character limit.
  static func quoted(_ value: String) -> String {
    var shown = ""
    for scalar in value.unicodeScalars.prefix(48) {
      switch scalar {
      case "\"": shown += "\\\""
      case "\\": shown += "\\\\"
      case _ where scalar.value < 0x20 || scalar.value == 0x7F:
        shown += "\\u{\(String(scalar.value, radix: 16))}"
      default: shown.unicodeScalars.append(scalar)
      }
    }
    return "\"" + shown + (value.unicodeScalars.count > 48 ? "…" : "") + "\""
  }
}

/// Every annotation Dapr's injector and operator read on a pod, without the `dapr.io/` prefix. A key that is not one
/// of these but within two edits of one is reported as a likely typo.
public enum KnownAnnotations {
  public static let keys: Set<String> = [
    "enabled", "app-id", "app-port", "config", "app-protocol", "app-ssl", "enable-profiling", "log-as-json",
    "log-level", "api-token-secret", "app-token-secret", "app-max-concurrency", "enable-metrics", "metrics-port",
    "enable-debug", "debug-port", "env", "env-from-secret", "grpc-port", "internal-grpc-port", "sidecar-cpu-request",
    "sidecar-memory-request", "sidecar-cpu-limit", "sidecar-memory-limit", "sidecar-listen-addresses",
    "sidecar-liveness-probe-delay-seconds", "sidecar-liveness-probe-timeout-seconds",
    "sidecar-liveness-probe-period-seconds", "sidecar-liveness-probe-threshold",
    "sidecar-readiness-probe-delay-seconds", "sidecar-readiness-probe-timeout-seconds",
    "sidecar-readiness-probe-period-seconds", "sidecar-readiness-probe-threshold", "sidecar-image",
    "sidecar-seccomp-profile-type", "http-max-request-size", "http-read-buffer-size", "max-body-size",
    "read-buffer-size", "graceful-shutdown-seconds", "block-shutdown-duration", "enable-api-logging",
    "unix-domain-socket-path", "volume-mounts", "volume-mounts-rw", "disable-builtin-k8s-secret-store",
    "enable-app-health-check", "app-health-check-path", "app-health-probe-interval", "app-health-probe-timeout",
    "app-health-threshold", "app-binding-options-timeout", "placement-host-address", "actors-disseminate-timeout",
    "scheduler-host-address", "pluggable-components", "pluggable-components-sockets-folder",
    "inject-pluggable-components", "app-channel-address", "sentry-request-jwt-audiences", "disable-init-endpoints",
    "enable-native-sidecar", "sidecar-svc-annotations",
    // Labels the control plane sets, sometimes copied into annotations; not typos.
    "sidecar-injected", "metrics-enabled", "watchdog-patched", "control-plane", "sentry",
  ]

  /// The known key closest to `key` when it is within two edits (ties: the first in sorted order), else nil.
  public static func suggestion(for key: String) -> String? {
    guard !keys.contains(key) else { return nil }
    var best: (key: String, distance: Int)?
    for known in keys.sorted() {
      let distance = editDistance(Array(key.utf8), Array(known.utf8), limit: 2)
      if distance <= 2, distance < (best?.distance ?? .max) { best = (known, distance) }
    }
    return best?.key
  }

  /// Levenshtein distance, giving up (returning `limit + 1`) once every path exceeds `limit`.
  static func editDistance(_ a: [UInt8], _ b: [UInt8], limit: Int) -> Int {
    guard abs(a.count - b.count) <= limit else { return limit + 1 }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...max(a.count, 1) where !a.isEmpty {
      current[0] = i
      var rowMinimum = current[0]
      for j in stride(from: 1, through: b.count, by: 1) {
        let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
        current[j] = min(substitution, previous[j] + 1, current[j - 1] + 1)
        rowMinimum = min(rowMinimum, current[j])
      }
      if rowMinimum > limit { return limit + 1 }
      swap(&previous, &current)
    }
    return a.isEmpty ? b.count : previous[b.count]
  }
}
