import AsyncHTTPClient
import Foundation
import Kubernetes
import LocalControlPlane

/// The demo the runner shows: an annotated Deployment, a Component and a Subscription, and what the simulated
/// sidecars of its pods see.
enum Demo {
  static func deployment(namespace: String, replicas: Int) -> String {
    """
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: hello, namespace: \(namespace)}
    spec:
      replicas: \(replicas)
      selector: {matchLabels: {app: hello}}
      template:
        metadata:
          labels: {app: hello}
          annotations:
            dapr.io/enabled: "true"
            dapr.io/app-id: hello
            dapr.io/app-port: "8080"
            # Stands in for the app's /dapr/config: the actor types it hosts.
            sidecar-simulator.dapr.io/actor-types: Greeter
        spec:
          containers: [{name: hello, image: hello:1, ports: [{containerPort: 8080}]}]
    """
  }

  static func resources(namespace: String) -> String {
    """
    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata: {name: statestore, namespace: \(namespace)}
    spec:
      type: state.redis
      version: v1
      metadata: [{name: redisHost, value: "redis:6379"}]
    ---
    apiVersion: dapr.io/v2alpha1
    kind: Subscription
    metadata: {name: greetings, namespace: \(namespace)}
    spec:
      pubsubname: pubsub
      topic: greetings
      routes: {default: /greetings}
    """
  }

  static let oneLineComponent =
    #"{"apiVersion":"dapr.io/v1alpha1","kind":"Component","metadata":{"name":"pubsub","namespace":"demo"},"spec":{"type":"pubsub.redis","version":"v1","metadata":[{"name":"redisHost","value":"redis:6379"}]}}"#

  static func hasDaprd(_ pod: Pod) -> Bool {
    (pod.json["spec"]?["containers"]?.arrayValue ?? []).contains { $0["name"]?.stringValue == "daprd" }
  }

  /// The Deployment's pods, once there are `count`.
  static func injectedPods(namespace: String, count: Int, admin: KubernetesClient) async throws -> [Pod] {
    var pods: [Pod] = []
    try await eventually("the demo's \(count) pods exist", within: .seconds(60)) {
      pods = try await admin.list(Pod.self, namespace: namespace, options: ListOptions(labelSelector: "app=hello"))
        .items
      return pods.count >= count
    }
    return pods
  }

  /// Waits until every injected pod's simulated sidecar is healthy and lists the demo's Component; returns lines
  /// saying what each sees.
  static func waitForSidecars(port: Int, pods: [Pod], simulator: ChildProcess) async throws -> [String] {
    var lines: [String] = []
    for pod in pods {
      let base = "http://127.0.0.1:\(port)/sidecars/\(pod.metadata.namespace ?? "")/\(pod.metadata.name ?? "")"
      var details: JSONValue = .null
      var metadata: JSONValue = .null
      try await eventually(
        "the simulated sidecar of \(pod.metadata.name ?? "") is healthy and has the demo's Component; the simulator printed:\n\(simulator.capturedOutput.suffix(3000))",
        within: .seconds(120)
      ) {
        let health = try await HTTPClient.shared.execute(
          HTTPClientRequest(url: base + "/v1.0/healthz"), timeout: .seconds(2))
        guard health.status == .noContent else { return false }
        metadata = try await get(base + "/v1.0/metadata")
        details = try await get(base + "/v1.0-sim/details")
        return metadata["components"]?.arrayValue?.isEmpty == false
          && metadata["subscriptions"]?.arrayValue?.isEmpty == false
      }
      let components = (metadata["components"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
      let subscriptions = (metadata["subscriptions"]?.arrayValue ?? []).compactMap { $0["topic"]?.stringValue }
      let host = try? await get(base + "/v1.0-sim/actors/Greeter/greeter-1")
      lines.append(
        "sidecar of \(pod.metadata.name ?? ""): \(details["identity"]?["spiffeID"]?.stringValue ?? "?"); components \(components); subscriptions \(subscriptions); actor Greeter/greeter-1 on \(host?["host"]?.stringValue ?? "?")"
      )
    }
    return lines
  }

  static func get(_ url: String) async throws -> JSONValue {
    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
    return try JSONCoding.parse(Data(buffer: try await response.body.collect(upTo: 4 << 20)))
  }

  /// The Prometheus job of a binary, as the chart's monitors name it.
  static func job(_ binary: String) -> String {
    switch binary {
    case "operator": "dapr-operator"
    case "injector": "dapr-sidecar-injector"
    case "sentry": "dapr-sentry"
    default: "dapr-placement-server"
    }
  }

  static func listening(_ binary: String, _ endpoints: LocalInstallation.Endpoints) -> String {
    switch binary {
    case "sentry": "\(endpoints.address):\(endpoints.sentry) (gRPC)"
    case "operator":
      "\(endpoints.address):\(endpoints.operatorAPI) (gRPC), \(endpoints.operatorWebhookAddress ?? endpoints.address):\(endpoints.operatorWebhook) (conversion)"
    case "injector": "\(endpoints.injectorAddress ?? endpoints.address):\(endpoints.injector) (HTTPS /mutate)"
    default: "\(endpoints.address):\(endpoints.placement) (gRPC)"
    }
  }
}
