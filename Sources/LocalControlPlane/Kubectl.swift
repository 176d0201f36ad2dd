import Foundation
import Kubernetes

/// kubectl, the real Kubernetes client, as tests use it.
public enum Kubectl {
  /// `kubectl` with `arguments` against the cluster of `kubeconfig`; returns stdout, throws with what it printed.
  @discardableResult
  public static func run(_ arguments: [String], kubeconfig: String, input: String? = nil) throws -> String {
    try ExternalTool("kubectl", ["--kubeconfig", kubeconfig] + arguments).succeeding(input: input)
  }

  /// `pod` with `operations` applied by kubectl's own JSON Patch code (`kubectl patch --local`), exactly as the API
  /// server applies a webhook's patch.
  public static func patchLocally(_ pod: JSONValue, _ operations: some Encodable) throws -> JSONValue {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kubectl-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let podFile = directory.appendingPathComponent("pod.json")
    try JSONCoding.encode(pod).write(to: podFile)
    let patch = String(decoding: try JSONCoding.encode(operations), as: UTF8.self)
    let output = try ExternalTool(
      "kubectl", ["patch", "--local", "-f", podFile.path, "--type=json", "-p", patch, "-o", "json"]
    ).succeeding()
    return try JSONCoding.parse(Data(output.utf8))
  }
}
