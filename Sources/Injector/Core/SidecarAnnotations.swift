import ControlPlaneKit
import Foundation
import Kubernetes

/// How Dapr reads annotation values.
public enum AnnotationValue {
  /// Quotes and spaces stripped, so `""` counts as empty (the placement and scheduler addresses).
  static func unquoted(_ value: String) -> String {
    value.filter { $0 != "\"" && $0 != "'" && $0 != " " }
  }
}

/// A pod's `dapr.io/*` annotations, read with Dapr's rules: a key that is present counts even when empty; a bad
/// integer keeps the default with a warning.
public struct SidecarAnnotations: Sendable {
  public static let prefix = "dapr.io/"
  /// The `dapr.io/` annotations by their names without the prefix: a lookup builds no key.
  let values: [String: String]
  /// Problems that do not stop injection (a bad integer, a bad quantity), named by annotation.
  public private(set) var warnings: [String] = []

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

  public func bool(_ key: String, default fallback: Bool = false) -> Bool {
    string(key).map(ProcessFacts.isTruthy) ?? fallback
  }

  /// An integer; a value that is not one keeps `fallback` and records a warning naming the annotation.
  public mutating func int(_ key: String, default fallback: Int? = nil) -> Int? {
    guard let raw = string(key) else { return fallback }
    guard let value = Int(raw.trimmingWhitespace) else {
      warnings.append("annotation \(Self.prefix)\(key) is not an integer (\"\(raw)\"); using the default")
      return fallback
    }
    return value
  }
}
