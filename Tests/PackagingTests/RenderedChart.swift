import ControlPlaneTestSupport
import Foundation
import Kubernetes
import Testing

/// The chart rendered by real Helm (`scripts/chart/render.py`, helm-python-sdk), as the objects `helm install`
/// would create, with the queries the tests ask of them.
struct RenderedChart: Sendable {
  /// How to render: `--set` expressions, values files (paths relative to the repository), and the Kubernetes
  /// version the chart is told it renders for (`global.kubeVersion`; nil: the SDK's own, 1.36).
  struct Values: Sendable, CustomTestStringConvertible {
    var name: String
    var sets: [String] = []
    var files: [String] = []
    var kubeVersion: String?
    /// `key=path` pairs, as `helm --set-file`.
    var setFiles: [String] = []

    var testDescription: String { name }

    var arguments: [String] {
      var arguments: [String] = []
      for file in files { arguments += ["-f", file] }
      for set in sets { arguments += ["--set", set] }
      for set in setFiles { arguments += ["--set-file", set] }
      if let kubeVersion { arguments += ["--set", "global.kubeVersion=\(kubeVersion)"] }
      return arguments
    }
  }

  let values: Values
  let objects: [JSONValue]
  /// The JSON render.py printed, for the schema check.
  let json: String

  static func render(_ values: Values, includeCRDs: Bool = false) throws -> RenderedChart {
    let json = try ExternalTool.projectPython(
      ["scripts/chart/render.py", "--output", "json"] + (includeCRDs ? ["--include-crds"] : []) + values.arguments
    ).succeeding()
    let objects = try JSONCoding.parse(Data(json.utf8)).arrayValue ?? []
    return RenderedChart(values: values, objects: objects, json: json)
  }

  /// What Helm says when it refuses to render `values` (nil when it renders).
  static func refusal(_ values: Values) throws -> String? {
    let output = try ExternalTool.projectPython(["scripts/chart/render.py", "--output", "json"] + values.arguments)
      .run()
    return output.succeeded ? nil : output.standardError
  }

  // === Queries ===

  func objects(kind: String) -> [JSONValue] { objects.filter { $0["kind"]?.stringValue == kind } }

  func object(kind: String, name: String) -> JSONValue? {
    objects.first { $0["kind"]?.stringValue == kind && $0["metadata"]?["name"]?.stringValue == name }
  }

  /// Deployments and StatefulSets.
  var workloads: [JSONValue] { objects(kind: "Deployment") + objects(kind: "StatefulSet") }

  /// The workload whose containers run `binary` (`/operator`, `/injector`, `/sentry`, `/placement`).
  func workload(running binary: String) -> JSONValue? {
    workloads.first { Self.containers(of: $0).contains { $0["command"]?.arrayValue?.first?.stringValue == binary } }
  }

  static func podSpec(of workload: JSONValue) -> JSONValue? { workload["spec"]?["template"]?["spec"] }

  static func containers(of workload: JSONValue) -> [JSONValue] {
    podSpec(of: workload)?["containers"]?.arrayValue ?? []
  }

  static func strings(_ value: JSONValue?) -> [String] { value?.arrayValue?.compactMap(\.stringValue) ?? [] }

  static func name(_ object: JSONValue) -> String {
    "\(object["kind"]?.stringValue ?? "?")/\(object["metadata"]?["name"]?.stringValue ?? "?")"
  }

  /// A container's environment as name → value (values from references are left out).
  static func environment(of container: JSONValue) -> [String: String] {
    var environment: [String: String] = [:]
    for variable in container["env"]?.arrayValue ?? [] {
      if let name = variable["name"]?.stringValue, let value = variable["value"]?.stringValue {
        environment[name] = value
      }
    }
    return environment
  }
}
