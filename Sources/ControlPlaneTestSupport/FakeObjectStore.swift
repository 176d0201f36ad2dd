import ControlPlaneKit
import Foundation
import Kubernetes
import Synchronization

/// An in-memory stand-in for the API server (``ObjectReading``, ``ObjectListing``, ``ObjectWatching``,
/// ``ObjectWriting``), for fast controller and informer tests:
/// - objects by resource path, with a resource version bumped on every write and checked as a precondition (a stale
///   one is a 409 conflict), and `alreadyExists` and `notFound` as the API server answers them;
/// - lists in pages (`limit` and `continue`) and watches that replay the writes after their version, then follow
///   new ones; a version older than the kept history (``compact()``) is a 410, as after etcd's compaction;
/// - watches ended (``endWatches()``, the server's timeout) or broken (``breakWatches(with:)``) when a test says;
/// - failures injected per verb.
/// Every call is logged (`"create services shop/checkout-dapr"`), failed ones too, so a test can tell what was tried.
public final class FakeObjectStore: ObjectWriting, ObjectReading, ObjectListing, ObjectWatching {
  public enum Verb: String, Sendable { case get, list, watch, create, update, patch, delete }

  /// One write, as a watch reports it.
  struct Change: Sendable {
    enum Kind: Sendable { case added, modified, deleted }
    let version: Int
    let kind: Kind
    /// The collection path without a namespace.
    let collection: String
    let object: JSONObject
  }

  /// An open watch: what it selects, and where its events go.
  struct Watcher: Sendable {
    let collection: String
    let namespace: String?
    let terms: [SelectorTerm]
    let continuation: AsyncThrowingStream<Change, any Error>.Continuation

    func selects(_ collection: String, _ object: JSONObject) -> Bool {
      let metadata = object["metadata"]?.objectValue ?? [:]
      let labels = (metadata["labels"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
      return collection == self.collection
        && (namespace == nil || metadata["namespace"]?.stringValue == namespace)
        && terms.allSatisfy { $0.matches(labels) }
    }
  }

  private struct State {
    var objects: [String: JSONObject] = [:]
    /// Each stored key's kind (its collection path without a namespace).
    var kinds: [String: String] = [:]
    var version = 1
    var failures: [Verb: [KubernetesError.Code]] = [:]
    var log: [String] = []
    /// Every write since the last compaction, in version order.
    var history: [Change] = []
    /// Watches from a version below this are answered 410.
    var oldestWatchable = 0
    var watchers: [Int: Watcher] = [:]
    var nextWatcher = 0

    /// Keeps the write in the history and tells the watches that select it (under the lock, so in version order).
    mutating func record(_ kind: Change.Kind, key: String, _ object: JSONObject) {
      guard let collection = kinds[key] else { return }
      let change = Change(version: version, kind: kind, collection: collection, object: object)
      history.append(change)
      for watcher in watchers.values where watcher.selects(collection, object) { watcher.continuation.yield(change) }
    }
  }

  private let state = Mutex(State())
  /// How many calls have been made: bumped after each, so that a test can wait for a controller's writes.
  public let calls = LatestValue(0)

  public init() {}

  /// Returns once `condition` holds, looking again after each call the store answers.
  public func waitUntil(_ condition: () -> Bool) async {
    for await _ in calls.updates(includingCurrent: true) where condition() { return }
  }

  /// Puts `object` in place as if created, with a resource version and a uid; returns it as stored.
  @discardableResult
  public func seed<Object: KubernetesObject>(_ object: Object) -> Object {
    state.withLock { state in
      var stored = object
      state.version += 1
      stored.metadata.resourceVersion = "\(state.version)"
      if stored.metadata.uid == nil { stored.metadata.uid = UUID().uuidString.lowercased() }
      let key = Self.key(Object.self, stored.metadata.namespace, stored.metadata.name ?? "")
      state.objects[key] = stored.json
      state.kinds[key] = Object.resource.collectionPath(namespace: nil)
      state.record(.added, key: key, stored.json)
      return stored
    }
  }

  /// The next `times` calls of `verb` fail with `code` (a 409, a 500, ...), whatever they ask.
  public func fail(_ verb: Verb, with code: KubernetesError.Code, times: Int = 1) {
    state.withLock { $0.failures[verb, default: []] += Array(repeating: code, count: times) }
  }

  /// The stored object, if any (no call logged, no failure injected: the test's own look).
  public func stored<Object: KubernetesObject>(_ type: Object.Type, namespace: String?, name: String) -> Object? {
    state.withLock { $0.objects[Self.key(type, namespace, name)] }.map(Object.init(json:))
  }

  /// Every stored object of a kind, sorted by namespace and name.
  public func list<Object: KubernetesObject>(_ type: Object.Type) -> [Object] {
    state.withLock { Self.objects(of: type, in: $0) }
  }

  /// Every stored object of a kind in `state`, sorted by namespace and name.
  private static func objects<Object: KubernetesObject>(of type: Object.Type, in state: State) -> [Object] {
    let prefix = Object.resource.collectionPath(namespace: nil)
    return state.objects.filter { state.kinds[$0.key] == prefix }.sorted { $0.key < $1.key }.map {
      Object(json: $0.value)
    }
  }

  /// The calls made so far, in order.
  public var log: [String] { state.withLock { $0.log } }

  // MARK: ObjectReading, ObjectListing, ObjectWriting

  /// Every stored object of the kind in `namespace` (all namespaces when nil) whose labels match the label
  /// selector of `options` (equality and existence terms: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-separated).
  public func listAll<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String?, options: ListOptions
  ) async throws(KubernetesError) -> KubernetesList<Object> {
    var options = options
    options.limit = nil
    options.continueToken = nil
    return try await list(type, namespace: namespace, options: options)
  }

  /// One page: `limit` objects from the `continue` token on (the offset of the page), in namespace and name order.
  public func list<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String?, options: ListOptions
  ) async throws(KubernetesError) -> KubernetesList<Object> {
    let terms = try Self.parseSelector(options.labelSelector ?? "", fieldSelector: options.fieldSelector)
    let start = try Self.count(options.continueToken, "continue token")
    return try access(.list, type, namespace, "") { state throws(KubernetesError) in
      let items = Self.objects(of: type, in: state).filter { object in
        (namespace == nil || object.metadata.namespace == namespace)
          && terms.allSatisfy { $0.matches(object.metadata.labels ?? [:]) }
      }
      let end = options.limit.map { min(items.count, start + max(1, $0)) } ?? items.count
      var metadata = ListMeta()
      metadata.resourceVersion = "\(state.version)"
      if end < items.count { metadata.continue = "\(end)" }
      return KubernetesList(items: Array(items[min(start, end)..<end]), metadata: metadata)
    }
  }

  /// The writes after `options.resourceVersion` (the current objects as ADDED when it is nil or `"0"`), then every
  /// new one, until ``endWatches()`` or ``breakWatches(with:)``.
  public func watch<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String?, options: WatchOptions
  ) async throws(KubernetesError) -> WatchEvents<Object> {
    let terms = try Self.parseSelector(options.labelSelector ?? "", fieldSelector: options.fieldSelector)
    let from = try Self.count(options.resourceVersion, "resource version")
    let (changes, continuation) = AsyncThrowingStream.makeStream(of: Change.self)
    let watcher = Watcher(
      collection: Object.resource.collectionPath(namespace: nil), namespace: namespace, terms: terms,
      continuation: continuation)
    let id = try access(.watch, type, namespace, "") { state throws(KubernetesError) -> Int in
      if from == 0 {
        for object in Self.objects(of: type, in: state) where watcher.selects(watcher.collection, object.json) {
          continuation.yield(Change(version: from, kind: .added, collection: watcher.collection, object: object.json))
        }
      } else {
        guard from >= state.oldestWatchable else {
          throw KubernetesError(
            code: .gone, httpStatus: 410,
            message: "too old resource version: \(from) (\(state.oldestWatchable))")
        }
        for change in state.history where change.version > from && watcher.selects(change.collection, change.object) {
          continuation.yield(change)
        }
      }
      state.nextWatcher += 1
      state.watchers[state.nextWatcher] = watcher
      return state.nextWatcher
    }
    continuation.onTermination = { [weak self] _ in _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) } }
    return WatchEvents(
      changes.map { change -> WatchEvent<Object> in
        switch change.kind {
        case .added: .added(Object(json: change.object))
        case .modified: .modified(Object(json: change.object))
        case .deleted: .deleted(Object(json: change.object))
        }
      })
  }

  /// A continue token or resource version of this fake: a whole number (0 when absent), or a 400 naming it.
  private static func count(_ text: String?, _ what: String) throws(KubernetesError) -> Int {
    guard let value = Int(text ?? "0"), value >= 0 else {
      throw KubernetesError(code: .badRequest, httpStatus: 400, message: "invalid \(what) \(text ?? "")")
    }
    return value
  }

  /// How many watches are open.
  public var watchCount: Int { state.withLock { $0.watchers.count } }

  /// Ends every open watch, as the API server does at a watch's timeout.
  public func endWatches() {
    for watcher in takeWatchers() { watcher.continuation.finish() }
  }

  /// Breaks every open watch with `code` (a dropped connection, a 500, a 410 sent in the stream).
  public func breakWatches(with code: KubernetesError.Code) {
    for watcher in takeWatchers() {
      watcher.continuation.finish(throwing: KubernetesError(code: code, message: "injected \(code) in a watch"))
    }
  }

  /// Forgets the history of writes: a watch from any version before now is then answered 410, as after etcd's
  /// compaction.
  public func compact() {
    state.withLock { state in
      state.history.removeAll()
      state.oldestWatchable = state.version
    }
  }

  /// The open watches, removed; finished by the caller outside the lock (finishing runs `onTermination`, which takes
  /// it).
  private func takeWatchers() -> [Watcher] {
    state.withLock { state in
      defer { state.watchers.removeAll() }
      return Array(state.watchers.values)
    }
  }

  public func get<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String?, name: String
  ) async throws(KubernetesError) -> Object {
    let key = Self.key(type, namespace, name)
    return try access(.get, type, namespace, name) { state throws(KubernetesError) in
      guard let existing = state.objects[key] else {
        throw KubernetesError(code: .notFound, httpStatus: 404, message: "\(key) not found")
      }
      return Object(json: existing)
    }
  }

  public func create<Object: KubernetesObject>(_ object: Object) async throws(KubernetesError) -> Object {
    let name = object.metadata.name ?? ""
    let key = Self.key(Object.self, object.metadata.namespace, name)
    return try write(.create, Object.self, object.metadata.namespace, name) { state throws(KubernetesError) in
      guard state.objects[key] == nil else {
        throw KubernetesError(code: .alreadyExists, httpStatus: 409, message: "\(key) already exists")
      }
      var stored = object
      stored.metadata.resourceVersion = "\(state.version)"
      if stored.metadata.uid == nil { stored.metadata.uid = UUID().uuidString.lowercased() }
      state.objects[key] = stored.json
      state.kinds[key] = Object.resource.collectionPath(namespace: nil)
      state.record(.added, key: key, stored.json)
      return stored
    }
  }

  public func update<Object: KubernetesObject>(_ object: Object) async throws(KubernetesError) -> Object {
    let name = object.metadata.name ?? ""
    let key = Self.key(Object.self, object.metadata.namespace, name)
    return try write(.update, Object.self, object.metadata.namespace, name) { state throws(KubernetesError) in
      guard let existing = state.objects[key] else {
        throw KubernetesError(code: .notFound, httpStatus: 404, message: "\(key) not found")
      }
      try Self.checkVersion(object.metadata.resourceVersion, of: existing, key)
      var stored = object
      stored.metadata.resourceVersion = "\(state.version)"
      state.objects[key] = stored.json
      state.record(.modified, key: key, stored.json)
      return stored
    }
  }

  public func patch<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String?, name: String, _ patch: Patch, fieldManager: String?, force: Bool
  ) async throws(KubernetesError) -> Object {
    let key = Self.key(type, namespace, name)
    return try write(.patch, type, namespace, name) { state throws(KubernetesError) in
      guard let existing = state.objects[key] else {
        throw KubernetesError(code: .notFound, httpStatus: 404, message: "\(key) not found")
      }
      let result: JSONValue
      switch patch {
      case .merge(let body):
        try Self.checkVersion(body["metadata"]?["resourceVersion"]?.stringValue, of: existing, key)
        result = Self.mergePatch(.object(existing), body)
      case .json(let operations):
        result = try Self.applyJSONPatch(.object(existing), operations)
      case .strategicMerge, .apply:
        throw KubernetesError(
          code: .badRequest, httpStatus: 400, message: "the fake applies merge and JSON patches only")
      }
      guard case .object(let merged) = result else {
        throw KubernetesError(code: .badRequest, httpStatus: 400, message: "a patch must leave an object")
      }
      var patched = Object(json: merged)
      patched.metadata.resourceVersion = "\(state.version)"
      state.objects[key] = patched.json
      state.record(.modified, key: key, patched.json)
      return patched
    }
  }

  public func delete<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String?, name: String, resourceVersion: String?, propagationPolicy: String?
  ) async throws(KubernetesError) {
    let key = Self.key(type, namespace, name)
    _ = try write(.delete, type, namespace, name) { state throws(KubernetesError) -> Bool in
      guard let existing = state.objects[key] else {
        throw KubernetesError(code: .notFound, httpStatus: 404, message: "\(key) not found")
      }
      try Self.checkVersion(resourceVersion, of: existing, key)
      var deleted = Object(json: existing)
      deleted.metadata.resourceVersion = "\(state.version)"
      state.record(.deleted, key: key, deleted.json)
      state.objects[key] = nil
      state.kinds[key] = nil
      return true
    }
  }

  // MARK: Internals

  private func write<Object, Result>(
    _ verb: Verb, _ type: Object.Type, _ namespace: String?, _ name: String,
    _ body: (inout State) throws(KubernetesError) -> Result
  ) throws(KubernetesError) -> Result where Object: KubernetesObject {
    try access(verb, type, namespace, name) { state throws(KubernetesError) in
      state.version += 1
      return try body(&state)
    }
  }

  /// Logs the call, fails it when a failure was injected for `verb`, and runs `body` on the state otherwise.
  private func access<Object, Result>(
    _ verb: Verb, _ type: Object.Type, _ namespace: String?, _ name: String,
    _ body: (inout State) throws(KubernetesError) -> Result
  ) throws(KubernetesError) -> Result where Object: KubernetesObject {
    defer { calls.set(calls.current + 1) }
    return try state.withLock { state throws(KubernetesError) -> Result in
      state.log.append("\(verb.rawValue) \(Object.resource.plural) \(namespace.map { "\($0)/" } ?? "")\(name)")
      if let code = state.failures[verb]?.first {
        state.failures[verb]?.removeFirst()
        throw KubernetesError(code: code, message: "injected \(code) for \(verb.rawValue)")
      }
      return try body(&state)
    }
  }

  private static func checkVersion(_ expected: String?, of existing: JSONObject, _ key: String) throws(KubernetesError)
  {
    guard let expected, !expected.isEmpty else { return }
    let current = existing["metadata"]?["resourceVersion"]?.stringValue
    guard current == expected else {
      throw KubernetesError(
        code: .conflict, httpStatus: 409,
        message:
          "Operation cannot be fulfilled on \(key): the object has been modified (\(expected) != \(current ?? "-"))")
    }
  }

  /// RFC 6902 `add`, `replace`, `remove` and `test`, with RFC 6901 pointers; a path that does not exist is a 422,
  /// as the API server answers.
  static func applyJSONPatch(
    _ document: JSONValue, _ operations: [JSONPatchOperation]
  ) throws(KubernetesError) -> JSONValue {
    var document = document
    for operation in operations {
      let tokens = operation.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        .map { $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~") }
      switch operation.op {
      case "add", "replace", "remove":
        let value = operation.value
        if operation.op != "remove", value == nil { throw invalidPatch("\(operation.op) without a value") }
        document = try patched(document, tokens[...], operation.op, value)
      case "test":
        guard pointee(document, tokens[...]) == operation.value else {
          throw invalidPatch("the test of \(operation.path) failed")
        }
      default:
        throw invalidPatch("unsupported operation \(operation.op)")
      }
    }
    return document
  }

  private static func invalidPatch(_ message: String) -> KubernetesError {
    KubernetesError(code: .invalid, httpStatus: 422, message: "the server rejected our request: \(message)")
  }

  private static func pointee(_ node: JSONValue, _ tokens: ArraySlice<String>) -> JSONValue? {
    guard let token = tokens.first else { return node }
    switch node {
    case .object(let object): return object[token].flatMap { pointee($0, tokens.dropFirst()) }
    case .array(let array):
      guard let index = Int(token), array.indices.contains(index) else { return nil }
      return pointee(array[index], tokens.dropFirst())
    default: return nil
    }
  }

  private static func patched(
    _ node: JSONValue, _ tokens: ArraySlice<String>, _ op: String, _ value: JSONValue?
  ) throws(KubernetesError) -> JSONValue {
    guard let token = tokens.first else { return value ?? .null }
    let last = tokens.count == 1
    switch node {
    case .object(var object):
      if last {
        if op != "add", object[token] == nil { throw invalidPatch("\(op): no member \(token)") }
        object[token] = op == "remove" ? nil : value
      } else {
        guard let child = object[token] else { throw invalidPatch("\(op): no member \(token)") }
        object[token] = try patched(child, tokens.dropFirst(), op, value)
      }
      return .object(object)
    case .array(var array):
      if last, op == "add" {
        guard let index = token == "-" ? array.count : Int(token), (0...array.count).contains(index), let value else {
          throw invalidPatch("add: no index \(token)")
        }
        array.insert(value, at: index)
        return .array(array)
      }
      guard let index = Int(token), array.indices.contains(index) else {
        throw invalidPatch("\(op): no index \(token)")
      }
      if !last {
        array[index] = try patched(array[index], tokens.dropFirst(), op, value)
      } else if op == "remove" {
        array.remove(at: index)
      } else if let value {
        array[index] = value
      }
      return .array(array)
    default:
      throw invalidPatch("\(op): \(token) is inside a scalar")
    }
  }

  /// One term of an equality-based label selector.
  enum SelectorTerm: Equatable, Sendable {
    case equals(String, String)
    case notEquals(String, String)
    case exists(String)
    case absent(String)

    func matches(_ labels: [String: String]) -> Bool {
      switch self {
      case .equals(let key, let value): labels[key] == value
      case .notEquals(let key, let value): labels[key] != value
      case .exists(let key): labels[key] != nil
      case .absent(let key): labels[key] == nil
      }
    }
  }

  static func parseSelector(_ selector: String, fieldSelector: String? = nil) throws(KubernetesError) -> [SelectorTerm]
  {
    if let fieldSelector, !fieldSelector.isEmpty {
      throw KubernetesError(
        code: .badRequest, httpStatus: 400, message: "the fake reads label selectors only, not \(fieldSelector)")
    }
    var terms: [SelectorTerm] = []
    for raw in selector.split(separator: ",") {
      let term = raw.trimmingCharacters(in: .whitespaces)
      if term.contains(" in ") || term.contains(" notin ") || term.contains("(") {
        throw KubernetesError(
          code: .badRequest, httpStatus: 400, message: "the fake reads equality selectors only, not \(term)")
      }
      if let range = term.range(of: "!=") {
        terms.append(.notEquals(String(term[..<range.lowerBound]), String(term[range.upperBound...])))
      } else if let range = term.range(of: "==") ?? term.range(of: "=") {
        terms.append(.equals(String(term[..<range.lowerBound]), String(term[range.upperBound...])))
      } else if term.hasPrefix("!") {
        terms.append(.absent(String(term.dropFirst())))
      } else if !term.isEmpty {
        terms.append(.exists(term))
      }
    }
    return terms
  }

  /// RFC 7386: objects merge key by key, `null` removes, anything else replaces.
  static func mergePatch(_ target: JSONValue, _ patch: JSONValue) -> JSONValue {
    guard case .object(let changes) = patch else { return patch }
    var result = target.objectValue ?? [:]
    for (key, value) in changes {
      if case .null = value {
        result[key] = nil
      } else {
        result[key] = mergePatch(result[key] ?? .null, value)
      }
    }
    return .object(result)
  }

  static func key<Object: KubernetesObject>(_ type: Object.Type, _ namespace: String?, _ name: String) -> String {
    Object.resource.objectPath(namespace: namespace, name: name)
  }
}
