import Foundation
#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Who may have sidecars injected: the controllers that create pods for users (ReplicaSets, Jobs, ...), the
/// service accounts named in `ALLOWED_SERVICE_ACCOUNTS` (`namespace:name`, each part a glob with `*`, `?` and
/// `[...]`, as in Dapr 1.18), the UIDs of the exactly named accounts, and the `system:masters` group.
public struct ServiceAccountAllowList: Hashable, Sendable {
  /// Dapr's built-in controllers.
  public static let builtIn = [
    "kube-system:replicaset-controller", "kube-system:replication-controller", "kube-system:deployment-controller",
    "kube-system:cronjob-controller", "kube-system:job-controller", "kube-system:statefulset-controller",
    "kube-system:daemon-set-controller", "openshift-operator-lifecycle-manager:olm-operator-serviceaccount",
    "tekton-pipelines:tekton-pipelines-controller", "mirrord:mirrord-operator",
  ]

  public struct Pattern: Hashable, Sendable {
    public let namespace: String
    public let name: String
    /// Whether neither part holds a glob character (its UID is then looked up at start-up).
    public var isExact: Bool { !(namespace + name).contains { "*?[".contains($0) } }
  }

  public private(set) var patterns: [Pattern]
  /// UIDs of exactly named service accounts, collected at start-up.
  public var uids: Set<String> = []

  /// The built-in accounts plus `extra` entries (comma-separated `namespace:name` lists, blanks ignored). A
  /// malformed entry (not exactly one `:`, or a bad glob) is an error naming it.
  public init(extra: [String] = []) throws(InjectionError) {
    var patterns: [Pattern] = []
    for entry in Self.builtIn + extra.flatMap({ $0.split(separator: ",").map(String.init) }) {
      let trimmed = entry.trimmingWhitespace
      guard !trimmed.isEmpty else { continue }
      let parts = trimmed.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
      guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
        throw InjectionError("allowed service account '\(trimmed)' must be namespace:name")
      }
      for part in parts where !Self.isValidGlob(part) {
        throw InjectionError("allowed service account '\(trimmed)' has a malformed pattern '\(part)'")
      }
      patterns.append(Pattern(namespace: parts[0], name: parts[1]))
    }
    self.patterns = patterns
  }

  /// Whether a request by `username` (with `uid`, in `groups`) may have its pod injected.
  public func allows(username: String, uid: String, groups: [String]) -> Bool {
    if groups.contains("system:masters") { return true }
    if !uid.isEmpty, uids.contains(uid) { return true }
    let prefix = "system:serviceaccount:"
    guard username.hasPrefix(prefix) else { return false }
    let parts = username.dropFirst(prefix.count).split(separator: ":", maxSplits: 1).map(String.init)
    guard parts.count == 2 else { return false }
    return patterns.contains { Self.matches($0.namespace, parts[0]) && Self.matches($0.name, parts[1]) }
  }

  /// Shell-style matching (`fnmatch` without flags): `*`, `?` and bracket expressions.
  static func matches(_ pattern: String, _ text: String) -> Bool {
    fnmatch(pattern, text, 0) == 0
  }

  /// Brackets must close; that is the one way a glob can be malformed.
  static func isValidGlob(_ pattern: String) -> Bool {
    var index = pattern.startIndex
    while index < pattern.endIndex {
      if pattern[index] == "\\" {
        index = pattern.index(after: index)
        guard index < pattern.endIndex else { return false }
      } else if pattern[index] == "[" {
        var cursor = pattern.index(after: index)
        if cursor < pattern.endIndex, pattern[cursor] == "!" || pattern[cursor] == "^" {
          cursor = pattern.index(after: cursor)
        }
        if cursor < pattern.endIndex, pattern[cursor] == "]" { cursor = pattern.index(after: cursor) }
        guard let close = pattern[cursor...].firstIndex(of: "]") else { return false }
        index = close
      }
      index = pattern.index(after: index)
    }
    return true
  }
}
