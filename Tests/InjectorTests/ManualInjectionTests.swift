import Injector
import Kubernetes
import Testing

@Suite struct ManualInjectionTests {
  static let manifest = """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: checkout
      namespace: shop
    spec:
      selector:
        matchLabels: {app: checkout}
      template:
        metadata:
          labels: {app: checkout}
          annotations:
            dapr.io/enabled: "true"
            dapr.io/app-port: "8080"
        spec:
          containers:
          - name: app
            image: shop/checkout:1
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: checkout}
    spec:
      ports: [{port: 80}]
    ---
    apiVersion: batch/v1
    kind: CronJob
    metadata: {name: nightly}
    spec:
      schedule: "0 3 * * *"
      jobTemplate:
        spec:
          template:
            metadata:
              annotations: {dapr.io/enabled: "true", dapr.io/app-id: nightly}
            spec:
              restartPolicy: Never
              containers: [{name: job, image: shop/job:1}]
    """

  @Test func podTemplatesGetTheSidecarOtherKindsPassThroughAndInjectingTwiceChangesNothing() throws {
    let injection = ManualInjection(planner: PatchPlanner(settings: InjectorSettings(), trustAnchors: "pem"))
    let documents = try YAMLDocuments.parse(Self.manifest)
    let once = try documents.map { try injection.inject($0) }
    #expect(once.map(\.appID) == ["checkout", nil, "nightly"])
    let template = try #require(once[0].document["spec"]?["template"])
    let containers = template["spec"]?["containers"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
    #expect(containers == ["app", "daprd"])
    #expect(template["metadata"]?["labels"]?["dapr.io/app-id"]?.stringValue == "checkout")
    #expect(template["metadata"]?["name"] == nil, "the template keeps no name")
    #expect(once[1].document == documents[1])
    let job = once[2].document["spec"]?["jobTemplate"]?["spec"]?["template"]?["spec"]?["containers"]?.arrayValue
    #expect(job?.count == 2)

    let twice = try once.map { try injection.inject($0.document) }
    #expect(twice.map(\.document) == once.map(\.document))
    #expect(twice.allSatisfy { $0.appID == nil })
  }
}
