import Kubernetes

/// How one container of the chart runs here as a process: the binary its `command` names, its `args` with
/// Kubernetes' `$(VAR)` references expanded, and its `env` resolved as the kubelet would for a pod on this machine,
/// then the overrides a loopback install needs (ports, addresses, files that Kubernetes would have mounted). The
/// container's own flags come first, so that what the chart passes is what the binary parses; an override of the
/// same flag comes later, and the binaries' parsers keep the last value of a flag.
public struct LaunchPlan: Hashable, Sendable {
  /// `operator`, `injector`, `sentry` or `placement`.
  public var binary: String
  public var arguments: [String]
  public var environment: [String: String]

  /// A value the plan cannot give a process outside Kubernetes, named.
  public struct Unsupported: Error, CustomStringConvertible, Hashable {
    public let description: String
  }

  /// The plan for `container` (a pod template's container) of pod `podName` in `namespace`. `configMaps` holds the
  /// data of the ConfigMaps (by name, in `namespace`) its `configMapKeyRef`s may name.
  public static func make(
    container: JSONValue, podName: String, namespace: String, serviceAccount: String,
    configMaps: [String: [String: String]] = [:], extraArguments: [String] = [],
    environmentOverrides: [String: String] = [:]
  ) throws(Unsupported) -> LaunchPlan {
    guard let command = container["command"]?.arrayValue?.compactMap(\.stringValue), let first = command.first,
      command.count == 1, first.hasPrefix("/")
    else {
      throw Unsupported(
        description: "the container's command is not one of the image's binaries: \(container["command"] ?? .null)")
    }
    var environment: [String: String] = [:]
    for variable in container["env"]?.arrayValue ?? [] {
      guard let name = variable["name"]?.stringValue else { continue }
      if let value = variable["value"]?.stringValue {
        environment[name] = expand(value, environment)
      } else if let path = variable["valueFrom"]?["fieldRef"]?["fieldPath"]?.stringValue {
        switch path {
        case "metadata.namespace": environment[name] = namespace
        case "metadata.name": environment[name] = podName
        case "spec.serviceAccountName": environment[name] = serviceAccount
        case "status.podIP", "status.hostIP": environment[name] = "127.0.0.1"
        default: throw Unsupported(description: "env \(name) refers to field \(path)")
        }
      } else if let reference = variable["valueFrom"]?["configMapKeyRef"] {
        let map = reference["name"]?.stringValue ?? ""
        let key = reference["key"]?.stringValue ?? ""
        if let value = configMaps[map]?[key] {
          environment[name] = value
        } else if reference["optional"]?.boolValue != true {
          throw Unsupported(description: "env \(name) comes from ConfigMap \(map) key \(key), which does not exist")
        }
      } else if variable["valueFrom"] != nil {
        throw Unsupported(
          description: "env \(name) comes from \(variable["valueFrom"]!), which only a kubelet resolves")
      } else {
        environment[name] = ""
      }
    }
    let arguments = (container["args"]?.arrayValue?.compactMap(\.stringValue) ?? []).map { expand($0, environment) }
    environment.merge(environmentOverrides) { _, override in override }
    return LaunchPlan(
      binary: String(first.dropFirst()), arguments: arguments + extraArguments, environment: environment)
  }

  /// Kubernetes' `$(VAR)` expansion: a defined variable is replaced, `$$` is a literal `$`, anything else stays.
  static func expand(_ text: String, _ environment: [String: String]) -> String {
    guard text.contains("$") else { return text }
    var result = ""
    var rest = Substring(text)
    while let dollar = rest.firstIndex(of: "$") {
      result += rest[..<dollar]
      let after = rest[rest.index(after: dollar)...]
      if after.hasPrefix("$") {
        result += "$"
        rest = after.dropFirst()
      } else if after.hasPrefix("("), let close = after.firstIndex(of: ")"),
        let value = environment[String(after[after.index(after: after.startIndex)..<close])]
      {
        result += value
        rest = after[after.index(after: close)...]
      } else {
        result += "$"
        rest = after
      }
    }
    return result + rest
  }
}
