import Foundation
import Kubernetes
import Synchronization

/// An in-memory stand-in for the API server's write side (``ObjectWriting``), for fast controller tests: objects
/// by resource path, a resource version bumped on every write and checked as a precondition (a stale one is a 409
/// conflict), `alreadyExists` and `notFound` as the API server answers them, and failures injected per verb. Every
/// call is logged (`"create services shop/checkout-dapr"`), failed ones too, so a test can tell what was tried.
public final class FakeObjectStore: ObjectWriting {
  public enum Verb: String, Sendable { case create, update, patch, delete }

  private struct State {
    var objects: [String: JSONObject] = [:]
    /// Each stored key's kind (its collection path without a namespace).
    var kinds: [String: String] = [:]
    var version = 1
    var failures: [Verb: [KubernetesError.Code]] = [:]
    var log: [String] = []
  }

  private let state = Mutex(State())

  public init() {}

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
      return stored
    }
  }

  /// The next `times` calls of `verb` fail with `code` (a 409, a 500, ...), whatever they ask.
  public func fail(_ verb: Verb, with code: KubernetesError.Code, times: Int = 1) {
    state.withLock { $0.failures[verb, default: []] += Array(repeating: code, count: times) }
  }

  /// The stored object, if any.
  public func get<Object: KubernetesObject>(_ type: Object.Type, namespace: String?, name: String) -> Object? {
    state.withLock { $0.objects[Self.key(type, namespace, name)] }.map(Object.init(json:))
  }

  /// Every stored object of a kind, sorted by namespace and name.
  public func list<Object: KubernetesObject>(_ type: Object.Type) -> [Object] {
    let prefix = Object.resource.collectionPath(namespace: nil)
    return state.withLock { state in
      state.objects.filter { state.kinds[$0.key] == prefix }.sorted { $0.key < $1.key }.map { Object(json: $0.value) }
    }
  }

  /// The calls made so far, in order.
  public var log: [String] { state.withLock { $0.log } }

  // MARK: ObjectWriting

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
      guard case .merge(let body) = patch else {
        throw KubernetesError(code: .badRequest, httpStatus: 400, message: "the fake applies merge patches only")
      }
      try Self.checkVersion(body["metadata"]?["resourceVersion"]?.stringValue, of: existing, key)
      guard case .object(let merged) = Self.mergePatch(.object(existing), body) else {
        throw KubernetesError(code: .badRequest, httpStatus: 400, message: "a merge patch must be an object")
      }
      var patched = Object(json: merged)
      patched.metadata.resourceVersion = "\(state.version)"
      state.objects[key] = patched.json
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
    try state.withLock { state throws(KubernetesError) -> Result in
      state.log.append("\(verb.rawValue) \(Object.resource.plural) \(namespace.map { "\($0)/" } ?? "")\(name)")
      if let code = state.failures[verb]?.first {
        state.failures[verb]?.removeFirst()
        throw KubernetesError(code: code, message: "injected \(code) for \(verb.rawValue)")
      }
      state.version += 1
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
