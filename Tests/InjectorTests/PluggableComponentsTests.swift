import Foundation
import Injector
import Kubernetes
import Synchronization
import Testing

@Suite struct PluggableComponentsTests {
  static let inject = enabled.merging(["dapr.io/inject-pluggable-components": "true"]) { $1 }

  static func plan(
    _ pod: JSONValue, components: [PluggableComponent]
  ) throws -> (operations: [PatchOperation], warnings: [String]) {
    let plan = try PatchPlanner(settings: InjectorSettings(), trustAnchors: "", mTLSEnabled: true)
      .plan(pod: pod, namespace: "shop", components: components)
    guard case .inject(_, let operations, let warnings) = plan else {
      throw UnexpectedPlan(description: "expected an injection, got \(plan)")
    }
    return (operations, warnings.map(\.message))
  }

  static func injectedNames(_ operations: [PatchOperation]) -> [String] {
    operations.filter { $0.path == "/spec/containers/-" }.compactMap { $0.value["name"]?.stringValue }
      .filter { $0 != "daprd" }
  }

  @Test(
    "Components are injected when scoped to the app, once per image, in name order",
    arguments: [
      ([PluggableComponent(name: "b", container: #"{"name":"cb","image":"x"}"#)], ["cb"]),
      ([PluggableComponent(name: "b", scopes: ["other"], container: #"{"name":"cb","image":"x"}"#)], []),
      ([PluggableComponent(name: "b", scopes: ["other", "myapp"], container: #"{"name":"cb","image":"x"}"#)], ["cb"]),
      (
        [
          PluggableComponent(name: "z", container: #"{"name":"cz","image":"same"}"#),
          PluggableComponent(name: "a", container: #"{"name":"ca","image":"same"}"#),
        ], ["ca"]
      ),
      ([PluggableComponent(name: "unnamed", container: #"{"image":"x"}"#)], ["unnamed"]),
    ])
  func injectsScopedComponentContainers(components: [PluggableComponent], expected: [String]) throws {
    let (operations, _) = try Self.plan(makePod(annotations: Self.inject), components: components)
    #expect(Self.injectedNames(operations) == expected)
  }

  @Test func withoutTheAnnotationNoComponentIsInjectedAndDaprdHasNoSocketFolder() throws {
    let components = [PluggableComponent(name: "b", container: #"{"name":"cb","image":"x"}"#)]
    let (operations, _) = try Self.plan(makePod(annotations: enabled), components: components)
    #expect(Self.injectedNames(operations).isEmpty)
    let env = try sidecar(operations)["env"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
    #expect(!env.contains("DAPR_COMPONENT_SOCKETS_FOLDER"))
    #expect(!operations.contains { $0.value["name"]?.stringValue == "dapr-components-unix-domain-socket" })
  }

  @Test(
    "A container annotation that is not a container with an image is left out with a warning naming the Component",
    arguments: [#"{"name":"x""#, #"["image"]"#, #"{"name":"x"}"#])
  func badContainerAnnotationsAreNamed(container: String) throws {
    let (operations, warnings) = try Self.plan(
      makePod(annotations: Self.inject), components: [PluggableComponent(name: "broken", container: container)])
    #expect(Self.injectedNames(operations).isEmpty)
    #expect(warnings.contains { $0.contains("Component broken") && $0.contains("dapr.io/component-container") })
  }

  @Test func theSocketVolumeIsAppendedAfterTheTokenVolumeInsteadOfReplacingIt() throws {
    // The pod has no volumes: the first op creates the array with the token volume; Dapr's component op then
    // replaced it with an array of the socket volume alone.
    let components = [PluggableComponent(name: "b", container: #"{"name":"cb","image":"x"}"#)]
    let pod = makePod(annotations: Self.inject)
    let (operations, _) = try Self.plan(pod, components: components)
    let volumeOps = operations.filter { $0.path.hasPrefix("/spec/volumes") }
    #expect(volumeOps.map(\.path) == ["/spec/volumes", "/spec/volumes/-"])
    let result = try KubectlPatchTests.applied(pod, operations)
    #expect(
      result["spec"]?["volumes"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
        == ["dapr-identity-token", "dapr-components-unix-domain-socket"])
  }

  @Test func twoInjectedContainersMountingTheSameVolumeGetOneEmptyDir() throws {
    let mount = #""volumeMounts":[{"name":"tmp","mountPath":"/tmp"}]"#
    let components = [
      PluggableComponent(name: "a", container: #"{"name":"ca","image":"x",\#(mount)}"#),
      PluggableComponent(name: "b", container: #"{"name":"cb","image":"y",\#(mount)}"#),
    ]
    let (operations, _) = try Self.plan(makePod(annotations: Self.inject), components: components)
    let tmpVolumes = operations.filter { $0.path == "/spec/volumes/-" && $0.value["name"]?.stringValue == "tmp" }
    #expect(tmpVolumes.count == 1)
    for name in ["ca", "cb"] {
      let container = try #require(operations.first { $0.value["name"]?.stringValue == name }?.value)
      #expect(
        container["volumeMounts"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
          == ["tmp", "dapr-components-unix-domain-socket"])
      #expect(container["env"]?.arrayValue?.last?["value"]?.stringValue == "/tmp/dapr-components-sockets")
    }
  }

  @Test func theHandlerAsksForTheNamespacesComponentsOnlyWhenThePodWantsThem() throws {
    let asked = Mutex<[String]>([])
    let handler = AdmissionReviewHandler(
      planner: PatchPlanner(settings: InjectorSettings(), trustAnchors: ""),
      allowList: try ServiceAccountAllowList(extra: []),
      pluggableComponents: { namespace in
        asked.withLock { $0.append(namespace) }
        return [PluggableComponent(name: "b", container: #"{"name":"cb","image":"x"}"#)]
      })
    for annotations in [enabled, Self.inject] {
      let review: JSONValue = [
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": [
          "uid": "u", "namespace": "shop", "kind": ["group": "", "version": "v1", "kind": "Pod"],
          "userInfo": ["username": "system:serviceaccount:kube-system:replicaset-controller"],
          "object": makePod(annotations: annotations),
        ],
      ]
      let answer = handler.handle(body: try JSONCoding.encode(review), contentType: "application/json")
      guard case .injected = answer.outcome else { throw UnexpectedPlan(description: "\(answer.outcome)") }
    }
    #expect(asked.withLock { $0 } == ["shop"])
  }

  @Test func aPodAskingForComponentsBeforeTheCacheHasLoadedIsRefusedSayingWhy() throws {
    let handler = AdmissionReviewHandler(
      planner: PatchPlanner(settings: InjectorSettings(), trustAnchors: ""),
      allowList: try ServiceAccountAllowList(), pluggableComponents: { _ in nil })
    let review: JSONValue = [
      "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
      "request": [
        "uid": "u", "namespace": "shop", "kind": ["group": "", "version": "v1", "kind": "Pod"],
        "userInfo": ["username": "system:serviceaccount:kube-system:replicaset-controller"],
        "object": makePod(annotations: Self.inject),
      ],
    ]
    let answer = handler.handle(body: try JSONCoding.encode(review), contentType: "application/json")
    let response = try JSONCoding.parse(answer.body)["response"]
    #expect(response?["allowed"] == false)
    #expect(
      response?["status"]?["message"]?.stringValue?.hasPrefix(
        "dapr.io/inject-pluggable-components: the injector has not loaded the Components of namespace shop yet") == true
    )
  }

  @Test func anInjectedContainerThatAlreadyMountsTheSocketsFolderIsNotMountedTwice() throws {
    let container =
      #"{"name":"cb","image":"x","volumeMounts":[{"name":"own","mountPath":"/tmp/dapr-components-sockets"}]}"#
    let (operations, _) = try Self.plan(
      makePod(annotations: Self.inject), components: [PluggableComponent(name: "b", container: container)])
    let injected = try #require(operations.first { $0.value["name"]?.stringValue == "cb" }?.value)
    #expect(injected["volumeMounts"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["own"])
  }
}
