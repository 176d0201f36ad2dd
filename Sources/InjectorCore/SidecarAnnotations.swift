import ControlPlaneCore
import Foundation
import KubernetesCore

/// How Dapr reads annotation values.
public enum AnnotationValue {
  /// Quotes and spaces stripped, so `""` counts as empty (the placement and scheduler addresses).
  static func unquoted(_ value: String) -> String {
    value.filter { $0 != "\"" && $0 != "'" && $0 != " " }
  }

  /// Words Dapr reads as true (`ProcessFacts.isTruthy`) and the ones that plainly mean false; anything else is read
  /// as false too, with a warning.
  static let falseWords: Set<String> = ["n", "no", "false", "f", "off", "0"]
}

/// A pod's `dapr.io/*` annotations, read with Dapr's rules: a key that is present counts even when empty; a value
/// that cannot be used keeps the default, and says so in `warnings`.
public struct SidecarAnnotations: Sendable {
  public static let prefix = "dapr.io/"
  /// The `dapr.io/` annotations by their names without the prefix: a lookup builds no key.
  let values: [String: String]
  /// Values that could not be used as written, in the order they were read, each once.
  public private(set) var warnings: [AnnotationWarning] = []

  public init(_ annotations: [String: String]) {
    self.init(annotations.lazy.map { (key: $0.key, value: JSONValue.string($0.value)) })
  }

  /// From a pod's `metadata.annotations`; members that are not strings are not annotations and are skipped.
  public init(_ annotations: some Sequence<(key: String, value: JSONValue)>) {
    var values: [String: String] = [:]
    for (key, value) in annotations where key.hasPrefix(Self.prefix) {
      guard case .string(let value) = value else { continue }
      values[String(key.utf8.dropFirst(Self.prefix.utf8.count))!] = value
    }
    self.values = values
  }

  /// The raw value of `dapr.io/<key>`, when the annotation is present.
  public func string(_ key: String) -> String? { values[key] }

  /// A non-empty value, or nil.
  public func nonEmpty(_ key: String) -> String? {
    guard let value = string(key), !value.isEmpty else { return nil }
    return value
  }

  /// A non-empty value; present but empty gives nil and a warning saying `instead` is used. For the values Dapr
  /// would pass on empty, giving daprd an argument it refuses (`--log-level ""`) or the API server a container
  /// without an image.
  public mutating func nonEmpty(_ key: String, insteadUsing instead: String) -> String? {
    guard let value = string(key) else { return nil }
    guard !value.isEmpty else {
      warn(.empty, "\(AnnotationWarning.name(key)) is empty; using \(instead)")
      return nil
    }
    return value
  }

  public func bool(_ key: String, default fallback: Bool = false) -> Bool {
    string(key).map(ProcessFacts.isTruthy) ?? fallback
  }

  mutating func warn(_ reason: AnnotationWarning.Reason, _ message: String) {
    let warning = AnnotationWarning(reason, message)
    if !warnings.contains(warning) { warnings.append(warning) }
  }

  /// The values ports and probe settings can hold. Kubernetes keeps probe values and container ports in 32 bits;
  /// Dapr parses 64 and truncates, so `4294967297` became port 1.
  public enum IntegerRange {
    case appPort, port, nonNegative32, any

    var bounds: ClosedRange<Int> {
      switch self {
      case .appPort: 0...65535
      case .port: 1...65535
      case .nonNegative32: 0...Int(Int32.max)
      case .any: Int.min...Int.max
      }
    }
  }

  /// An integer, exactly as written (an optional sign and decimal digits, as Go's `strconv.ParseInt`): spaces are
  /// not trimmed (Dapr keeps the default for `" 80"`; so does this, saying so). A value that is not an integer, or is
  /// outside `range`, keeps `fallback` with a warning that names the annotation, the value and what is used.
  public mutating func int(_ key: String, default fallback: Int? = nil, range: IntegerRange = .any) -> Int? {
    guard let raw = string(key) else { return fallback }
    let name = AnnotationWarning.name(key)
    let instead = fallback.map { "using the default, \($0)" } ?? "leaving it out"
    guard !raw.isEmpty else {
      warn(.empty, "\(name) is empty; \(instead)")
      return fallback
    }
    guard let value = Int(raw) else {
      let digits = raw.first == "+" || raw.first == "-" ? raw.dropFirst() : Substring(raw)
      if !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) {
        warn(.outOfRange, "\(name): \(AnnotationWarning.quoted(raw)) does not fit in 64 bits; \(instead)")
      } else if raw.trimmingWhitespace != raw, Int(raw.trimmingWhitespace) != nil {
        warn(
          .notAnInteger,
          "\(name): \(AnnotationWarning.quoted(raw)) is not an integer (remove the spaces); \(instead)")
      } else {
        warn(.notAnInteger, "\(name): \(AnnotationWarning.quoted(raw)) is not an integer; \(instead)")
      }
      return fallback
    }
    let bounds = range.bounds
    guard bounds.contains(value) else {
      warn(
        .outOfRange,
        "\(name): \(raw) is out of range (\(bounds.lowerBound) to \(bounds.upperBound)); \(instead)")
      return fallback
    }
    return value
  }

  /// The annotations that take a boolean.
  static let booleanKeys = [
    "app-ssl", "enable-profiling", "log-as-json", "enable-metrics", "enable-debug", "enable-api-logging",
    "disable-builtin-k8s-secret-store", "enable-app-health-check", "inject-pluggable-components",
    "enable-native-sidecar",
  ]

  /// Warnings that need no default: booleans that are neither a true nor a false word (read as false, as Dapr
  /// does), and keys that are not Dapr annotations but within two edits of one. Sorted by key, so the order does not
  /// depend on the pod's map.
  public mutating func checkKeysAndBooleans() {
    for key in values.keys.sorted() {
      if let known = KnownAnnotations.suggestion(for: key) {
        warn(
          .unknownAnnotation,
          "\(AnnotationWarning.name(key)) is not a Dapr annotation and is ignored; did you mean "
            + "\(AnnotationWarning.name(known))?")
      }
    }
    for key in Self.booleanKeys {
      guard let raw = string(key) else { continue }
      let word = raw.trimmingWhitespace.lowercased()
      if word.isEmpty {
        warn(.empty, "\(AnnotationWarning.name(key)) is empty; read as false")
      } else if !ProcessFacts.isTruthy(raw) && !AnnotationValue.falseWords.contains(word) {
        warn(
          .malformed,
          "\(AnnotationWarning.name(key)): \(AnnotationWarning.quoted(raw)) is not true or false; read as false")
      }
    }
  }
}
