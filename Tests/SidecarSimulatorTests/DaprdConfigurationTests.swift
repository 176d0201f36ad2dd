import ControlPlaneTestSupport
import Foundation
import Injector
import Kubernetes
import SidecarSimulator
import Testing

/// The simulator reads what the injector writes: every test here starts from the injector's own patch, applied by
/// kubectl, so that the two cannot drift apart.
@Suite struct DaprdConfigurationTests {
  static let anchors = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

  /// `annotations` on a pod, injected by the injector's planner with `settings`, as the API server stores it.
  static func injectedPod(
    _ annotations: [String: String], settings: InjectorSettings = InjectorSettings(), mTLS: Bool = true
  ) throws -> JSONValue {
    let pod: JSONValue = [
      "apiVersion": "v1", "kind": "Pod",
      "metadata": ["name": "cart-7d9f", "namespace": "shop", "annotations": annotations.jsonValue],
      "spec": ["containers": [["name": "app", "image": "cart:1"]]],
    ]
    let plan = try PatchPlanner(settings: settings, trustAnchors: anchors, mTLSEnabled: mTLS).plan(
      pod: pod, namespace: "shop")
    guard case .inject(_, let operations, _) = plan else {
      throw ExternalTool.Failure(description: "not injected: \(plan)")
    }
    return try Kubectl.patchLocally(pod, operations)
  }

  @Test func theInjectorsDefaultSidecarGivesTheSimulatorEverythingItNeeds() throws {
    let configuration = try DaprdConfiguration(
      pod: try Self.injectedPod(["dapr.io/enabled": "true", "dapr.io/app-id": "cart", "dapr.io/config": "tracing"]))
    #expect(configuration.appID == "cart")
    #expect(configuration.namespace == "shop")
    #expect(configuration.podName == "cart-7d9f")
    #expect(configuration.controlPlaneAddress == "dapr-api.dapr-system.svc.cluster.local:443")
    #expect(configuration.sentryAddress == "dapr-sentry.dapr-system.svc.cluster.local:443")
    #expect(configuration.placementAddresses == ["dapr-placement-server.dapr-system.svc.cluster.local:50005"])
    #expect(configuration.configuration == "tracing")
    #expect(configuration.mTLSEnabled)
    #expect(configuration.trustAnchors == Self.anchors)
    #expect(configuration.tokenAudience == "spiffe://cluster.local/ns/dapr-system/dapr-sentry")
    #expect(configuration.tokenExpirationSeconds == 7200)
    #expect(configuration.operatorID == "spiffe://cluster.local/ns/dapr-system/dapr-operator")
    #expect(configuration.placementID == "spiffe://cluster.local/ns/dapr-system/dapr-placement")
    #expect(configuration.hostName == "cart-7d9f:50002")
    // No scheduler ships here: the injector names none, so the simulator has none.
    #expect(configuration.schedulerAddress == nil)
  }

  @Test(
    "What the pod's annotations change reaches the simulator",
    arguments: [
      (["dapr.io/placement-host-address": "\"\""], "placement", ""),
      (["dapr.io/placement-host-address": "p-0:50005,p-1:50005"], "placement", "p-0:50005 p-1:50005"),
      (["dapr.io/internal-grpc-port": "6002"], "host", "cart-7d9f:6002"),
      (["dapr.io/enable-native-sidecar": "true"], "app", "cart"),
      (["dapr.io/scheduler-host-address": "jobs:50006"], "scheduler", "jobs:50006"),
    ] as [([String: String], String, String)])
  func annotations(annotations: [String: String], field: String, expected: String) throws {
    let pod = try Self.injectedPod(
      ["dapr.io/enabled": "true", "dapr.io/app-id": "cart"].merging(annotations) { $1 })
    let configuration = try DaprdConfiguration(pod: pod)
    let value: String
    switch field {
    case "placement": value = configuration.placementAddresses.joined(separator: " ")
    case "host": value = configuration.hostName
    case "app": value = configuration.appID
    default: value = configuration.schedulerAddress ?? "none"
    }
    #expect(value == expected)
  }

  @Test func anotherControlPlaneNamespaceAndTrustDomainChangeThePinnedIdentities() throws {
    var warnings: [String] = []
    let settings = try InjectorSettings(
      environment: ["NAMESPACE": "cp", "DAPR_CONTROL_PLANE_TRUST_DOMAIN": "example.org"], warnings: &warnings)
    let configuration = try DaprdConfiguration(
      pod: try Self.injectedPod(["dapr.io/enabled": "true", "dapr.io/app-id": "cart"], settings: settings, mTLS: false))
    #expect(configuration.operatorID == "spiffe://example.org/ns/cp/dapr-operator")
    #expect(configuration.tokenAudience == "spiffe://example.org/ns/cp/dapr-sentry")
    #expect(configuration.controlPlaneAddress == "dapr-api.cp.svc.cluster.local:443")
    #expect(!configuration.mTLSEnabled)
  }

  @Test(
    "A pod the simulator cannot play is refused with the reason",
    arguments: [
      (["spec": ["containers": [["name": "app"]]]] as JSONObject, "no daprd container"),
      (["spec": ["containers": [["name": "daprd", "args": ["/daprd", "--mode", "standalone"]]]]], "Kubernetes mode"),
      (
        ["spec": ["containers": [["name": "daprd", "args": ["/daprd", "--mode", "kubernetes", "--app-id", "a"]]]]],
        "--control-plane-address"
      ),
    ] as [(JSONObject, String)])
  func refusal(spec: JSONObject, reason: String) {
    var pod: JSONObject = ["metadata": ["name": "p", "namespace": "shop"]]
    pod.merge(spec) { $1 }
    #expect {
      _ = try DaprdConfiguration(pod: .object(pod))
    } throws: { ($0 as? DaprdConfiguration.Unusable)?.description.contains(reason) == true }
  }
}

@Suite struct AddressBookTests {
  @Test func rulesMapClusterAddressesToLoopbackEndpointsInOrder() throws {
    let book = try AddressBook(rules: [
      "dapr-api.dapr-system.svc.cluster.local:443=127.0.0.1:6500",
      "dapr-placement-server.dapr-system.svc.cluster.local:50005=127.0.0.1:50005,127.0.0.1:50015",
    ])
    #expect(book.resolve("dapr-api.dapr-system.svc.cluster.local:443").map(\.description) == ["127.0.0.1:6500"])
    #expect(
      book.resolve("dapr-placement-server.dapr-system.svc.cluster.local:50005").map(\.description)
        == ["127.0.0.1:50005", "127.0.0.1:50015"])
    #expect(book.resolve("10.0.0.1:80").map(\.description) == ["10.0.0.1:80"])
    #expect(book.resolve("no-port").isEmpty)
  }

  @Test("A malformed rule is refused naming it", arguments: ["a=b", "a:1", "a:1=b:x", "a:1=127.0.0.1:70000"])
  func refusal(rule: String) {
    #expect {
      _ = try AddressBook(rules: [rule])
    } throws: { ($0 as? AddressBook.BadRule)?.description.contains(rule) == true }
  }
}

@Suite struct OperatorViewTests {
  static func object(_ name: String, scopes: [String] = []) -> Data {
    try! JSONCoding.encode(["metadata": ["name": .string(name)], "scopes": scopes.jsonValue] as JSONValue)
  }

  @Test func listsReplaceAKindEventsChangeOneObjectAndScopesDecideWhatTheAppLoads() throws {
    var view = OperatorView()
    try view.replace(.subscription, with: [Self.object("a"), Self.object("b", scopes: ["other"])])
    #expect(view.names(.subscription) == ["a", "b"])
    #expect(view.loaded(.subscription, appID: "cart").count == 1)
    try view.apply(.subscription, type: 1, Self.object("c", scopes: ["cart"]))
    try view.apply(.subscription, type: 3, Self.object("a"))
    #expect(view.names(.subscription) == ["b", "c"])
    #expect(view.events[.subscription] == 2)
    try view.replace(.subscription, with: [Self.object("d")])
    #expect(view.names(.subscription) == ["d"])
    #expect(view.lists[.subscription] == 2)
  }
}
