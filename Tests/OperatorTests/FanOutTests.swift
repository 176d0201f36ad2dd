import Kubernetes
import Operator
import Testing

func resource(
  _ name: String = "redis", namespace: String = "shop", version: String = "1", scopes: [String] = []
) -> ResourceSnapshot {
  var object: JSONObject = [
    "apiVersion": "dapr.io/v1alpha1", "kind": "Component",
    "metadata": ["name": .string(name), "namespace": .string(namespace), "resourceVersion": .string(version)],
    "spec": ["type": "state.redis", "version": "v1", "metadata": []],
  ]
  if !scopes.isEmpty { object["scopes"] = .array(scopes.map { .string($0) }) }
  return ResourceSnapshot(object: .object(object))
}

@Suite struct FanOutTests {
  static let cart = StreamScope(namespace: "shop", appID: "cart")

  @Test(
    "A stream receives what its namespace and scope let it see, as Dapr sends it",
    arguments: [
      // (old, new, expected event, which object: "old"/"new")
      (nil, resource(), ResourceEventType.created, "new"),
      (nil, resource(namespace: "other"), nil, ""),
      (nil, resource(scopes: ["orders"]), nil, ""),
      (nil, resource(scopes: ["orders", "cart"]), .created, "new"),
      (resource(), resource(version: "2"), .updated, "new"),
      (resource(), resource(version: "1"), nil, ""),
      (resource(), resource(version: "2", scopes: ["orders"]), .deleted, "old"),
      (resource(scopes: ["orders"]), resource(version: "2", scopes: ["cart"]), .created, "new"),
      (resource(scopes: ["orders"]), resource(version: "2", scopes: ["payments"]), nil, ""),
      (resource(), nil, .deleted, "old"),
      (resource(scopes: ["orders"]), nil, nil, ""),
      (resource(namespace: "other"), resource(namespace: "other", version: "2"), nil, ""),
    ] as [(ResourceSnapshot?, ResourceSnapshot?, ResourceEventType?, String)])
  func fanOut(old: ResourceSnapshot?, new: ResourceSnapshot?, expected: ResourceEventType?, carried: String) {
    let event = ResourceFanOut.event(old: old, new: new, for: Self.cart)
    #expect(event?.type == expected)
    if let event {
      #expect(event.object == (carried == "old" ? old : new))
    }
  }
}

@Suite struct ConfigurationSelectionTests {
  static let pods = [
    ConfigurationSelection.Pod(namespace: "shop", appID: "cart", configuration: "tracing"),
    ConfigurationSelection.Pod(namespace: "shop", appID: "cart", configuration: "tracing-canary"),
    ConfigurationSelection.Pod(namespace: "shop", appID: "orders", configuration: nil),
    ConfigurationSelection.Pod(namespace: "billing", appID: "cart", configuration: "billing-tracing"),
  ]

  @Test(
    "An app's Configuration stream carries what its pods name; an app with no pod known gets them all",
    arguments: [
      ("shop", "cart", "tracing", true),
      ("shop", "cart", "tracing-canary", true),
      ("shop", "cart", "billing-tracing", false),
      ("shop", "orders", "tracing", false),
      ("billing", "cart", "billing-tracing", true),
      ("billing", "cart", "tracing", false),
      ("shop", "payments", "tracing", true),
    ])
  func carries(namespace: String, appID: String, configuration: String, expected: Bool) {
    let selection = ConfigurationSelection(pods: Self.pods)
    #expect(selection.carries(configuration, to: StreamScope(namespace: namespace, appID: appID)) == expected)
  }
}
