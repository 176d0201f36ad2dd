import Foundation
import Kubernetes

/// What `helm install dapr charts/dapr` creates, rendered by real Helm (`scripts/chart/render.py`, which runs
/// Helm's Go SDK through the project's Python tools), as objects: the CRDs first, then the rest in Helm's install
/// order. The local runner applies it to the local API server; the tests apply it and check it.
public struct RenderedInstall: Sendable {
  public let namespace: String
  public let objects: [JSONValue]

  public init(namespace: String, objects: [JSONValue]) {
    self.namespace = namespace
    self.objects = objects
  }

  /// Renders the chart into `namespace` with `--set` expressions `sets`, CRDs included.
  public static func render(namespace: String = "dapr-system", sets: [String] = []) throws -> RenderedInstall {
    let json = try ExternalTool.projectPython(
      ["scripts/chart/render.py", "--output", "json", "--include-crds", "--namespace", namespace]
        + sets.flatMap { ["--set", $0] }
    ).succeeding()
    return RenderedInstall(namespace: namespace, objects: try JSONCoding.parse(Data(json.utf8)).arrayValue ?? [])
  }

  public var customResourceDefinitions: [JSONValue] { objects.filter { $0.kind == "CustomResourceDefinition" } }

  /// Everything but the CRDs, in install order.
  public var resources: [JSONValue] { objects.filter { $0.kind != "CustomResourceDefinition" } }

  public func objects(kind: String) -> [JSONValue] { objects.filter { $0.kind == kind } }

  public func object(kind: String, name: String) -> JSONValue? {
    objects.first { $0.kind == kind && $0["metadata"]?["name"]?.stringValue == name }
  }

  /// The Deployment or StatefulSet whose container runs `binary` (`operator`, `injector`, `sentry`, `placement`).
  public func workload(running binary: String) -> JSONValue? {
    (objects(kind: "Deployment") + objects(kind: "StatefulSet")).first { workload in
      Self.container(of: workload)?["command"]?.arrayValue?.first?.stringValue == "/\(binary)"
    }
  }

  /// A workload's first container.
  public static func container(of workload: JSONValue) -> JSONValue? {
    workload["spec"]?["template"]?["spec"]?["containers"]?.arrayValue?.first
  }

  /// The service account a workload's pods run under.
  public static func serviceAccount(of workload: JSONValue) -> String? {
    workload["spec"]?["template"]?["spec"]?["serviceAccountName"]?.stringValue
  }

  /// The data of the install's ConfigMaps in its namespace, by name (what `configMapKeyRef`s resolve to).
  public var configMapData: [String: [String: String]] {
    var maps: [String: [String: String]] = [:]
    for map in objects(kind: "ConfigMap") where map["metadata"]?["namespace"]?.stringValue == namespace {
      maps[map["metadata"]?["name"]?.stringValue ?? ""] = (map["data"]?.objectValue ?? [:]).compactMapValues(
        \.stringValue)
    }
    return maps
  }

  /// The multi-document YAML of `objects`, for `kubectl apply -f -`.
  public static func yaml(_ objects: [JSONValue]) throws -> String {
    // JSON is YAML: one JSON document per object, separated as YAML documents.
    try objects.map { "---\n" + String(decoding: try JSONCoding.encode($0), as: UTF8.self) + "\n" }.joined()
  }
}

extension JSONValue {
  /// `kind` of an object.
  public var kind: String? { self["kind"]?.stringValue }
}
