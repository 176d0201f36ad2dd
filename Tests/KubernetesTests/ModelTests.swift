import Foundation
import Kubernetes
import Testing

@Suite struct ModelTests {
  static let podJSON = #"""
    {"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default","resourceVersion":"42",
     "labels":{"app":"web"},"managedFields":[{"manager":"kubectl","operation":"Update"}]},
     "spec":{"containers":[{"name":"app","image":"nginx","resources":{"limits":{"cpu":"1"}},
       "env":[{"name":"A","value":"1"},{"name":"P","valueFrom":{"fieldRef":{"fieldPath":"status.podIP"}}}]}],
       "priority":7,"enableServiceLinks":false,"overhead":null},
     "status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False"}]}}
    """#

  @Test func unknownFieldsSurviveAReadModifyWriteRoundTrip() throws {
    var pod = try JSONCoding.decode(Pod.self, from: Data(Self.podJSON.utf8))
    pod.metadata.labels?["tier"] = "front"
    pod.spec.containers[0].env?.append(EnvVar(name: "B", value: "2"))
    let written = try JSONCoding.decode(JSONValue.self, from: try JSONCoding.encode(pod))
    let original = try JSONCoding.decode(JSONValue.self, from: Data(Self.podJSON.utf8))

    #expect(written["metadata"]?["managedFields"] == original["metadata"]?["managedFields"])
    #expect(written["spec"]?["priority"] == .int(7))
    #expect(written["spec"]?["enableServiceLinks"] == .bool(false))
    #expect(written["spec"]?["overhead"] == .null)
    #expect(written["status"] == original["status"])
    let container = try #require(written["spec"]?["containers"]?.arrayValue?.first)
    #expect(container["resources"] == original["spec"]?["containers"]?.arrayValue?.first?["resources"])
    #expect(container["env"]?.arrayValue?.count == 3)
    #expect(container["env"]?.arrayValue?[1]["valueFrom"]?["fieldRef"]?["fieldPath"] == "status.podIP")
    #expect(written["metadata"]?["labels"] == ["app": "web", "tier": "front"])
  }

  @Test func settingAPropertyToNilRemovesTheKey() throws {
    var pod = try JSONCoding.decode(Pod.self, from: Data(Self.podJSON.utf8))
    pod.metadata.labels = nil
    #expect(pod.metadata.json["labels"] == nil)
    #expect(pod.metadata.name == "web")
  }

  @Test func newObjectsCarryTheirAPIVersionAndKind() {
    let lease = Lease(name: "operator.dapr.io", namespace: "dapr-system")
    #expect(lease.apiVersion == "coordination.k8s.io/v1")
    #expect(lease.kind == "Lease")
    #expect(lease.key == "dapr-system/operator.dapr.io")
    let namespace = Namespace(name: "team-a", namespace: "ignored")
    #expect(namespace.metadata.namespace == nil)
  }

  @Test(
    "Objects live at the right paths",
    arguments: [
      (Pod.resource, "default", "/api/v1/namespaces/default/pods"),
      (Pod.resource, nil, "/api/v1/pods"),
      (Lease.resource, "dapr-system", "/apis/coordination.k8s.io/v1/namespaces/dapr-system/leases"),
      (DaprComponent.resource, "x", "/apis/dapr.io/v1alpha1/namespaces/x/components"),
      (Namespace.resource, "ignored", "/api/v1/namespaces"),
      (TokenReview.resource, nil, "/apis/authentication.k8s.io/v1/tokenreviews"),
    ] as [(ResourceDescriptor, String?, String)])
  func paths(resource: ResourceDescriptor, namespace: String?, path: String) {
    #expect(resource.collectionPath(namespace: namespace) == path)
  }

  @Test func listsWithNullItemsDecodeAsEmptyAndItemsGetTheirKind() throws {
    let empty = try JSONCoding.decode(
      KubernetesList<ConfigMap>.self, from: Data(#"{"items":null,"metadata":{"resourceVersion":"9"}}"#.utf8))
    #expect(empty.items.isEmpty)
    #expect(empty.metadata.resourceVersion == "9")
    let one = try JSONCoding.decode(
      KubernetesList<ConfigMap>.self, from: Data(#"{"items":[{"metadata":{"name":"a"}}],"metadata":{}}"#.utf8))
    #expect(one.items.first?.kind == "ConfigMap")
    #expect(one.items.first?.apiVersion == "v1")
  }

  @Test func daprScopesDecideWhoSeesAnObject() throws {
    var component = DaprComponent(name: "statestore", namespace: "default")
    #expect(component.isInScope(of: "anyone"))
    component.scopes = ["checkout", "cart"]
    #expect(component.isInScope(of: "cart"))
    #expect(!component.isInScope(of: "orders"))
    component.scopes = []
    #expect(component.isInScope(of: "orders"))
  }

  @Test func jsonPatchPathsEscapeSlashesAndTildes() {
    #expect(JSONPatchOperation.escape("dapr.io/app-id") == "dapr.io~1app-id")
    #expect(JSONPatchOperation.escape("a~b") == "a~0b")
    #expect(JSONPatchOperation.escape("~/~1é") == "~0~1~01é")
    #expect(JSONPatchOperation.escape("plain") == "plain")
  }
}

@Suite struct YAMLTests {
  @Test func plainScalarsAreTypedAndQuotedOnesStayStrings() throws {
    let documents = try YAMLDocuments.parse(
      """
      a: true
      b: "true"
      c: 42
      d: "42"
      e: 1.5
      f: null
      g: 2024-01-01T00:00:00Z
      h: [x, 'y']
      ---
      # an empty document is skipped
      ---
      second: document
      """)
    #expect(documents.count == 2)
    #expect(
      documents[0] == [
        "a": true, "b": "true", "c": 42, "d": "42", "e": 1.5, "f": nil, "g": "2024-01-01T00:00:00Z", "h": ["x", "y"],
      ])
    #expect(documents[1] == ["second": "document"])
  }

  @Test func brokenYAMLIsReported() {
    #expect(throws: KubernetesError.self) { _ = try YAMLDocuments.parse("a: [unclosed") }
  }
}
