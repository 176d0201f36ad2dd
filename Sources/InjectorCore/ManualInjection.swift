import KubernetesCore

/// `injector inject`: the same planner, applied offline to manifests (Pods and the pod templates of Deployments,
/// StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs). Other kinds pass through unchanged; a pod that
/// already has `daprd` is left as it is, so injecting twice changes nothing.
public struct ManualInjection: Sendable {
  public let planner: PatchPlanner

  public init(planner: PatchPlanner) { self.planner = planner }

  /// Where each kind keeps its pod, as JSON Pointer tokens.
  static let podPaths: [String: [String]] = [
    "Pod": [], "Deployment": ["spec", "template"], "StatefulSet": ["spec", "template"],
    "DaemonSet": ["spec", "template"], "ReplicaSet": ["spec", "template"], "Job": ["spec", "template"],
    "CronJob": ["spec", "jobTemplate", "spec", "template"],
  ]

  /// The document with its pod injected, the app id when it was, and the annotation values that could not be used
  /// as written (what the webhook returns as admission warnings).
  public func inject(
    _ document: JSONValue
  ) throws(InjectionError) -> (
    document: JSONValue, appID: String?, warnings: [AnnotationWarning]
  ) {
    guard let kind = document["kind"]?.stringValue, let path = Self.podPaths[kind],
      let pod = Self.value(at: path, in: document)
    else { return (document, nil, []) }
    let namespace = document["metadata"]?["namespace"]?.stringValue ?? "default"
    // A template has no name of its own; the owner's name stands in for the app id, as the pod name would.
    var named = pod
    if case .object(var object) = named, object["metadata"]?["name"] == nil {
      var metadata = object["metadata"]?.objectValue ?? [:]
      metadata["name"] = document["metadata"]?["name"] ?? ""
      object["metadata"] = .object(metadata)
      named = .object(object)
    }
    guard case .inject(let appID, let operations, let warnings) = try planner.plan(pod: named, namespace: namespace)
    else {
      return (document, nil, AdmissionReviewHandler.notEnabledWarnings(pod["metadata"]?["annotations"]))
    }
    let injected = try JSONPatchApplier.apply(operations, to: pod)
    return (try Self.replacing(path, in: document, with: injected), appID, warnings)
  }

  static func value(at path: [String], in document: JSONValue) -> JSONValue? {
    path.reduce(Optional(document)) { current, key in current?[key] }
  }

  static func replacing(
    _ path: [String], in document: JSONValue, with value: JSONValue
  ) throws(InjectionError)
    -> JSONValue
  {
    guard let first = path.first else { return value }
    guard case .object(var object) = document, let child = object[first] else {
      throw InjectionError("the manifest has no \(first)")
    }
    object[first] = try replacing(Array(path.dropFirst()), in: child, with: value)
    return .object(object)
  }
}

/// Applies RFC 6902 `add` operations (the only kind the planner makes) to a JSON value.
public enum JSONPatchApplier {
  public static func apply(_ operations: [PatchOperation], to document: JSONValue) throws(InjectionError) -> JSONValue {
    var document = document
    for operation in operations {
      guard operation.op == "add" else { throw InjectionError("unsupported JSON Patch operation \(operation.op)") }
      let tokens = operation.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map {
        $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
      }
      document = try add(operation.value, at: ArraySlice(tokens), in: document, path: operation.path)
    }
    return document
  }

  static func add(
    _ value: JSONValue, at tokens: ArraySlice<String>, in target: JSONValue, path: String
  )
    throws(InjectionError) -> JSONValue
  {
    guard let token = tokens.first else { return value }
    let last = tokens.count == 1
    switch target {
    case .object(var object):
      if last {
        object[token] = value
      } else {
        guard let child = object[token] else { throw InjectionError("\(path): \(token) does not exist") }
        object[token] = try add(value, at: tokens.dropFirst(), in: child, path: path)
      }
      return .object(object)
    case .array(var array):
      let index = token == "-" ? array.count : Int(token) ?? -1
      guard (0...array.count).contains(index) else { throw InjectionError("\(path): no index \(token)") }
      if last {
        array.insert(value, at: index)
      } else {
        guard index < array.count else { throw InjectionError("\(path): no index \(token)") }
        array[index] = try add(value, at: tokens.dropFirst(), in: array[index], path: path)
      }
      return .array(array)
    default:
      throw InjectionError("\(path): cannot add inside a scalar")
    }
  }
}
