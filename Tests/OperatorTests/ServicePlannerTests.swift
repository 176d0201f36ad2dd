import Kubernetes
import Operator
import Testing

/// A workload whose pod template carries `annotations` and, unless they name one, the app id `checkout`.
func workload(annotations: [String: String], kind: String = "Deployment") -> JSONValue {
  var annotations = annotations
  if annotations["dapr.io/app-id"] == nil { annotations["dapr.io/app-id"] = "checkout" }
  return [
    "apiVersion": "apps/v1", "kind": .string(kind),
    "metadata": ["name": "checkout", "namespace": "shop", "uid": "uid-1"],
    "spec": [
      "selector": ["matchLabels": ["app": "checkout"]],
      "template": [
        "metadata": ["labels": ["app": "checkout"], "annotations": annotations.jsonValue],
        "spec": ["containers": [["name": "app", "image": "a"]]],
      ],
    ],
  ]
}

@Suite struct ServicePlannerTests {
  @Test(arguments: [
    ["dapr.io/enabled": "true", "dapr.io/grpc-port": "6000", "dapr.io/sidecar-svc-annotations": "team=payments"],
    ["dapr.io/enabled": "false"],
    ["dapr.io/enabled": "true", "dapr.io/enable-metrics": "false"],
  ])
  func theFactsTheReconcilerCachesPlanTheSameServiceWithoutThePodSpecOrStatus(annotations: [String: String]) {
    var full = workload(annotations: annotations).objectValue ?? [:]
    full["status"] = ["replicas": 3, "conditions": [["type": "Available", "status": "True"]]]
    full["metadata"] = [
      "name": "checkout", "namespace": "shop", "uid": "uid-1", "resourceVersion": "42",
      "managedFields": [["manager": "kubectl"]], "annotations": ["deployment.kubernetes.io/revision": "7"],
    ]
    let facts = ServicePlanner.workloadFacts(Deployment(json: full)).json

    #expect(ServicePlanner.desired(for: .object(facts))?.service == ServicePlanner.desired(for: .object(full))?.service)
    #expect(facts["metadata"]?["resourceVersion"]?.stringValue == "42")
    #expect(facts["status"] == nil && facts["metadata"]?["managedFields"] == nil)
    #expect(facts["spec"]?["template"]?["spec"] == nil)
    #expect(facts["spec"]?["template"]?["metadata"]?["labels"] == nil)
  }

  @Test func aDaprDeploymentGetsAHeadlessServiceWithDaprsPortsAnnotationsAndOwner() throws {
    let (appID, service) = try #require(
      ServicePlanner.desired(
        for: workload(annotations: [
          "dapr.io/enabled": "true", "dapr.io/app-id": "cart", "dapr.io/grpc-port": "6000",
          "dapr.io/sidecar-svc-annotations": "team=payments, cost-center=42",
        ])))
    #expect(appID == "cart")
    #expect(service["metadata"]?["name"]?.stringValue == "cart-dapr")
    #expect(service["metadata"]?["labels"] == ["dapr.io/enabled": "true"])
    let annotations = service["metadata"]?["annotations"]
    #expect(annotations?["dapr.io/app-id"]?.stringValue == "cart")
    #expect(annotations?["prometheus.io/scrape"]?.stringValue == "true")
    #expect(annotations?["prometheus.io/port"]?.stringValue == "9090")
    #expect(annotations?["team"]?.stringValue == "payments" && annotations?["cost-center"]?.stringValue == "42")
    #expect(service["spec"]?["clusterIP"]?.stringValue == "None")
    #expect(service["spec"]?["selector"] == ["app": "checkout"])
    let ports = service["spec"]?["ports"]?.arrayValue?.map {
      "\($0["name"]!.stringValue!) \($0["port"]!.intValue!)->\($0["targetPort"]!.intValue!)"
    }
    #expect(
      ports == ["dapr-http 80->3500", "dapr-grpc 50001->6000", "dapr-internal 50002->50002", "dapr-metrics 9090->9090"])
    let owner = service["metadata"]?["ownerReferences"]?.arrayValue?.first
    #expect(owner?["kind"]?.stringValue == "Deployment" && owner?["uid"]?.stringValue == "uid-1")
    #expect(owner?["controller"] == true)
  }

  @Test(
    "Workloads without Dapr get no Service, and metrics off means no Prometheus annotations",
    arguments: [
      (["dapr.io/enabled": "false"], false, false),
      ([:], false, false),
      (["dapr.io/enabled": "true", "dapr.io/enable-metrics": "false"], true, false),
      // The injector's rule: `yes` injects nothing, so it gets no Service either (Dapr's reconciler made one).
      (["dapr.io/enabled": "yes"], false, false),
      (["dapr.io/enabled": "TRUE"], true, true),
      // As in Dapr, no annotated app id, no Service: each pod's app id would be its own name.
      (["dapr.io/enabled": "true", "dapr.io/app-id": ""], false, false),
    ] as [([String: String], Bool, Bool)])
  func enabling(annotations: [String: String], hasService: Bool, scraped: Bool) {
    let planned = ServicePlanner.desired(for: workload(annotations: annotations, kind: "StatefulSet"))
    #expect((planned != nil) == hasService)
    #expect((planned?.service["metadata"]?["annotations"]?["prometheus.io/scrape"] != nil) == scraped)
    if hasService { #expect(planned?.appID == "checkout") }
  }

  @Test func aHandEditIsRevertedWhileWhatTheAPIServerAddedIsKept() throws {
    let (_, desired) = try #require(ServicePlanner.desired(for: workload(annotations: ["dapr.io/enabled": "true"])))
    guard case .object(var existing) = desired, case .object(var metadata) = desired["metadata"]!,
      case .object(var spec) = desired["spec"]!
    else { return }
    metadata["resourceVersion"] = "7"
    metadata["labels"] = ["dapr.io/enabled": "true", "added-by-someone": "x"]
    existing["metadata"] = .object(metadata)
    #expect(ServicePlanner.reconciled(existing: .object(existing), desired: desired) == nil, "no drift, no update")

    spec["ports"] = [["name": "dapr-http", "port": 8080, "targetPort": 3500, "protocol": "TCP"]]
    existing["spec"] = .object(spec)
    let fixed = try #require(ServicePlanner.reconciled(existing: .object(existing), desired: desired))
    #expect(fixed["spec"]?["ports"] == desired["spec"]?["ports"])
    #expect(fixed["metadata"]?["resourceVersion"]?.stringValue == "7")
    #expect(fixed["metadata"]?["labels"]?["added-by-someone"]?.stringValue == "x")
  }
}
