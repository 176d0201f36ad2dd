import ControlPlaneTestSupport
import Foundation
import Injector
import Kubernetes
import Testing

/// Every plan is applied with Kubernetes' own JSON Patch code (`kubectl patch --local --type=json`), and the pod
/// that comes out is checked.
@Suite struct KubectlPatchTests {
  static func applied(_ pod: JSONValue, _ operations: [PatchOperation]) throws -> JSONValue {
    try Kubectl.patchLocally(pod, operations)
  }

  @Test(
    "Kubernetes applies every plan and the pod has daprd, its labels, and app variables added beside its own",
    arguments: [
      makePod(annotations: enabled),
      makePod(annotations: enabled, labels: nil, spec: [:]),
      makePod(annotations: enabled.merging(["dapr.io/unix-domain-socket-path": "/tmp/s"]) { $1 }),
      makePod(
        annotations: enabled.merging(["dapr.io/volume-mounts": "data:/data"]) { $1 },
        spec: ["containers": [["name": "app", "image": "a"]], "volumes": [["name": "data", "emptyDir": [:]]]]),
      makePod(annotations: enabled.merging(["dapr.io/enable-native-sidecar": "true"]) { $1 }),
      makePod(annotations: enabled.merging(["dapr.io/env": "A=1,B=x=2", "dapr.io/enable-debug": "true"]) { $1 }),
    ])
  func appliedByKubectl(pod: JSONValue) throws {
    let operations = try planned(pod).operations
    let result = try Self.applied(pod, operations)
    let spec = try #require(result["spec"])
    let all = (spec["containers"]?.arrayValue ?? []) + (spec["initContainers"]?.arrayValue ?? [])
    let daprd = try #require(all.first { $0["name"]?.stringValue == "daprd" })
    #expect(daprd["args"]?.arrayValue?.contains("--app-id") == true)
    #expect(result["metadata"]?["labels"]?["dapr.io/sidecar-injected"]?.stringValue == "true")
    #expect(result["metadata"]?["labels"]?["dapr.io/app-id"]?.stringValue == "myapp")
    #expect(spec["volumes"]?.arrayValue?.contains { $0["name"]?.stringValue == "dapr-identity-token" } == true)
    for container in spec["containers"]?.arrayValue ?? [] where container["name"]?.stringValue != "daprd" {
      let env = container["env"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
      #expect(env.contains("DAPR_HTTP_PORT") && env.contains("DAPR_GRPC_PORT") && env.contains("APP_PROTOCOL"))
      let original = pod["spec"]?["containers"]?.arrayValue?.first { $0["name"] == container["name"] }
      for variable in original?["env"]?.arrayValue ?? [] {
        #expect(container["env"]?.arrayValue?.contains(variable) == true, "\(variable) was changed")
      }
    }
  }
}
