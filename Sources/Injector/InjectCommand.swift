import ArgumentParser
import ControlPlaneKit
import Foundation
import Kubernetes
import Yams

/// `injector inject -f FILE`: writes the manifests with the sidecar added, as `istioctl kube-inject` or
/// `linkerd inject` do, using the webhook's planner. Works without a cluster.
public struct InjectCommand: AsyncParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "inject",
    abstract: "Add the daprd sidecar to the Pods and pod templates of a manifest (offline, written to stdout).")

  @Option(name: [.customShort("f"), .customLong("filename")], help: "The manifest (YAML or JSON; - for stdin).")
  var file: String

  @Option(name: .customLong("trust-anchors-file"), help: "The trust anchors (PEM) given to daprd.")
  var trustAnchorsFile: String?

  @Option(
    name: .customLong("kubeconfig"),
    help: "Read the trust anchors from the cluster's dapr-trust-bundle ConfigMap when no file is given.")
  var kubeconfig: String?

  @Option(name: .customLong("namespace"), help: "The control plane's namespace.")
  var namespace = "dapr-system"

  @Option(
    name: .customLong("scheduler-host-address"),
    help: "The scheduler sidecars should use, if one runs (none by default: this control plane ships no scheduler).")
  var schedulerHostAddress: String?

  public init() {}

  public func run() async throws {
    // The webhook's environment variables apply here too (SIDECAR_IMAGE, SIDECAR_DROP_ALL_CAPABILITIES, ...).
    var warnings: [String] = []
    var settings = try InjectorSettings(environment: ProcessInfo.processInfo.environment, warnings: &warnings)
    for warning in warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
    let text: String
    if file == "-" {
      text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
    } else {
      guard let data = FileManager.default.contents(atPath: file) else {
        throw ValidationError("cannot read \(file)")
      }
      text = String(decoding: data, as: UTF8.self)
    }
    settings.controlPlaneNamespace = namespace
    settings.schedulerEnabled = schedulerHostAddress != nil
    settings.customSchedulerAddress = schedulerHostAddress
    let injection = ManualInjection(planner: PatchPlanner(settings: settings, trustAnchors: try await trustAnchors()))
    var output: [String] = []
    for document in try YAMLDocuments.parse(text) {
      let (injected, appID, annotationWarnings) = try injection.inject(document)
      // As kubectl shows the webhook's admission warnings.
      let kind = document["kind"]?.stringValue ?? "document"
      let name = document["metadata"]?["name"]?.stringValue ?? ""
      for warning in annotationWarnings {
        FileHandle.standardError.write(Data("Warning: \(kind)/\(name): \(warning.message)\n".utf8))
      }
      if let appID { FileHandle.standardError.write(Data("injected daprd for app '\(appID)'\n".utf8)) }
      output.append(try Yams.dump(object: Self.foundationValue(injected), sortKeys: true))
    }
    print(output.joined(separator: "---\n"), terminator: "")
  }

  /// The file's anchors; else the cluster's `dapr-trust-bundle`; else none, with a warning.
  func trustAnchors() async throws -> String {
    if let trustAnchorsFile {
      return try TrustBundle(contentsOfFile: trustAnchorsFile).pemEncoded()
    }
    if let configuration = try? KubernetesConfiguration.load(kubeconfigPath: kubeconfig) {
      let client = try KubernetesClient(configuration: configuration)
      defer { Task { await client.shutdown() } }
      if let bundle = try? await client.get(ConfigMap.self, namespace: namespace, name: "dapr-trust-bundle"),
        let pem = bundle.json["data"]?["ca.crt"]?.stringValue
      {
        return pem
      }
    }
    FileHandle.standardError.write(
      Data("warning: no trust anchors (give --trust-anchors-file); sidecars get an empty DAPR_TRUST_ANCHORS\n".utf8))
    return ""
  }

  /// JSON as the plain values Yams writes.
  static func foundationValue(_ value: JSONValue) -> Any {
    switch value {
    case .null: NSNull()
    case .bool(let bool): bool
    case .int(let int): Int(int)
    case .double(let double): double
    case .string(let string): string
    case .array(let array): array.map(foundationValue)
    case .object(let object): object.mapValues(foundationValue)
    }
  }
}
