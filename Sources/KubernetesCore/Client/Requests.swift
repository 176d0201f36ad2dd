/// Filters and paging of a list.
public struct ListOptions: Sendable, Hashable {
  public var labelSelector: String?
  public var fieldSelector: String?
  /// Page size; `nil`: everything at once.
  public var limit: Int?
  public var continueToken: String?
  /// `"0"` lets the API server answer from its cache.
  public var resourceVersion: String?

  public init(
    labelSelector: String? = nil, fieldSelector: String? = nil, limit: Int? = nil, continueToken: String? = nil,
    resourceVersion: String? = nil
  ) {
    self.labelSelector = labelSelector
    self.fieldSelector = fieldSelector
    self.limit = limit
    self.continueToken = continueToken
    self.resourceVersion = resourceVersion
  }

  package var query: [(String, String)] {
    var query: [(String, String)] = []
    if let labelSelector { query.append(("labelSelector", labelSelector)) }
    if let fieldSelector { query.append(("fieldSelector", fieldSelector)) }
    if let limit { query.append(("limit", String(limit))) }
    if let continueToken { query.append(("continue", continueToken)) }
    if let resourceVersion { query.append(("resourceVersion", resourceVersion)) }
    return query
  }
}

/// The four ways to patch an object.
public enum Patch: Sendable {
  /// RFC 6902 operations.
  case json([JSONPatchOperation])
  /// RFC 7386 merge patch.
  case merge(JSONValue)
  /// Kubernetes' strategic merge patch (built-in kinds only).
  case strategicMerge(JSONValue)
  /// Server-side apply of a whole (partial) object; pass `fieldManager`.
  case apply(JSONValue)

  package var contentType: String {
    switch self {
    case .json: "application/json-patch+json"
    case .merge: "application/merge-patch+json"
    case .strategicMerge: "application/strategic-merge-patch+json"
    case .apply: "application/apply-patch+yaml"
    }
  }
}

/// One RFC 6902 operation.
public struct JSONPatchOperation: Codable, Hashable, Sendable {
  public var op: String
  public var path: String
  public var value: JSONValue?
  public var from: String?

  public init(op: String, path: String, value: JSONValue? = nil, from: String? = nil) {
    self.op = op
    self.path = path
    self.value = value
    self.from = from
  }

  public static func add(_ path: String, _ value: JSONValue) -> Self { Self(op: "add", path: path, value: value) }
  public static func replace(_ path: String, _ value: JSONValue) -> Self {
    Self(op: "replace", path: path, value: value)
  }
  public static func remove(_ path: String) -> Self { Self(op: "remove", path: path) }
  public static func test(_ path: String, _ value: JSONValue) -> Self { Self(op: "test", path: path, value: value) }

  /// Escapes one path segment (`~` as `~0`, `/` as `~1`).
  public static func escape(_ segment: String) -> String {
    guard segment.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else { return segment }
    var escaped: [UInt8] = []
    escaped.reserveCapacity(segment.utf8.count + 4)
    for byte in segment.utf8 {
      switch byte {
      case UInt8(ascii: "~"): escaped.append(contentsOf: "~0".utf8)
      case UInt8(ascii: "/"): escaped.append(contentsOf: "~1".utf8)
      default: escaped.append(byte)
      }
    }
    return String(decoding: escaped, as: UTF8.self)
  }
}
