import ControlPlaneCore
import Foundation
import KubernetesCore

/// The `<app-id>-dapr` Service a Dapr-enabled Deployment or StatefulSet gets, as a value, and whether an existing
/// Service has drifted from it.
public enum ServicePlanner {
  /// What the Service reconciler keeps of a workload in its caches: its kind, name, namespace, uid and version, its
  /// selector and its pod template's annotations. Everything ``desired(for:)`` reads, and nothing else: containers,
  /// volumes and status stay out, so the operator's memory follows the number of workloads, not their size (Dapr's
  /// operator kept whole Deployments and grew with the cluster, dapr#5693).
  @Sendable public static func workloadFacts<Workload: KubernetesObject>(_ workload: Workload) -> Workload {
    var metadata: JSONObject = [:]
    for key in ["name", "namespace", "uid", "resourceVersion"] { metadata[key] = workload.json["metadata"]?[key] }
    var facts: JSONObject = ["metadata": .object(metadata)]
    for key in ["apiVersion", "kind"] { facts[key] = workload.json[key] }
    var spec: JSONObject = [:]
    spec["selector"] = workload.json["spec"]?["selector"]
    if let annotations = workload.json["spec"]?["template"]?["metadata"]?["annotations"] {
      spec["template"] = ["metadata": ["annotations": annotations]]
    }
    facts["spec"] = .object(spec)
    return Workload(json: facts)
  }

  /// The app id and the Service for `workload`, or nil when its pod template is not Dapr-enabled or names no app id.
  /// As in Dapr, the app id must be annotated: without it each pod's app id is its own name, which no Service named
  /// after the workload would match.
  public static func desired(for workload: JSONValue) -> (appID: String, service: JSONValue)? {
    let template = workload["spec"]?["template"]
    let annotations = (template?["metadata"]?["annotations"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
    guard DaprEnabled.isEnabled(annotations: annotations) else { return nil }
    let name = workload["metadata"]?["name"]?.stringValue ?? ""
    guard let appID = annotations["dapr.io/app-id"], !appID.isEmpty, let kind = workload["kind"]?.stringValue,
      let uid = workload["metadata"]?["uid"]
    else {
      return nil
    }
    func port(_ key: String, _ fallback: Int64) -> Int64 { annotations[key].flatMap { Int64($0) } ?? fallback }

    var serviceAnnotations: JSONObject = ["dapr.io/app-id": .string(appID)]
    if annotations["dapr.io/enable-metrics"].map(ProcessFacts.isTruthy) ?? true {
      serviceAnnotations["prometheus.io/probe"] = "true"
      serviceAnnotations["prometheus.io/scrape"] = "true"
      serviceAnnotations["prometheus.io/port"] = .string(String(port("dapr.io/metrics-port", 9090)))
      serviceAnnotations["prometheus.io/path"] = "/"
    }
    for (key, value) in extraAnnotations(annotations["dapr.io/sidecar-svc-annotations"] ?? "") {
      serviceAnnotations[key] = .string(value)
    }
    let ports: [JSONValue] = [
      servicePort("dapr-http", 80, 3500),
      servicePort("dapr-grpc", 50001, port("dapr.io/grpc-port", 50001)),
      servicePort("dapr-internal", 50002, port("dapr.io/internal-grpc-port", 50002)),
      servicePort("dapr-metrics", 9090, port("dapr.io/metrics-port", 9090)),
    ]
    let service: JSONValue = [
      "apiVersion": "v1", "kind": "Service",
      "metadata": [
        "name": .string("\(appID)-dapr"),
        "namespace": workload["metadata"]?["namespace"] ?? "default",
        "labels": ["dapr.io/enabled": "true"],
        "annotations": .object(serviceAnnotations),
        "ownerReferences": [
          [
            "apiVersion": workload["apiVersion"] ?? "apps/v1", "kind": .string(kind), "name": .string(name), "uid": uid,
            "controller": true, "blockOwnerDeletion": true,
          ]
        ],
      ],
      "spec": [
        "selector": workload["spec"]?["selector"]?["matchLabels"] ?? [:],
        "clusterIP": "None",
        "ports": .array(ports),
      ],
    ]
    return (appID, service)
  }

  static func servicePort(_ name: String, _ port: Int64, _ target: Int64) -> JSONValue {
    ["name": .string(name), "port": .int(port), "targetPort": .int(target), "protocol": "TCP"]
  }

  /// `dapr.io/sidecar-svc-annotations`: `key=value` pairs separated by commas.
  static func extraAnnotations(_ text: String) -> [(String, String)] {
    text.split(separator: ",").compactMap { pair in
      let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingWhitespace }
      guard parts.count == 2, !parts[0].isEmpty else { return nil }
      return (parts[0], parts[1])
    }
  }

  /// The existing Service updated to `desired` on the fields the operator owns, or nil when nothing drifted. Fields
  /// the API server fills in (the cluster IPs, `resourceVersion`, other labels and annotations) are kept.
  public static func reconciled(existing: JSONValue, desired: JSONValue) -> JSONValue? {
    guard case .object(var service) = existing, case .object(var metadata) = existing["metadata"] ?? [:],
      case .object(var spec) = existing["spec"] ?? [:]
    else { return desired }
    var changed = false
    for field in ["labels", "annotations"] {
      var current = metadata[field]?.objectValue ?? [:]
      for (key, value) in desired["metadata"]?[field]?.objectValue ?? [:] where current[key] != value {
        current[key] = value
        changed = true
      }
      metadata[field] = .object(current)
    }
    if metadata["ownerReferences"] != desired["metadata"]?["ownerReferences"] {
      metadata["ownerReferences"] = desired["metadata"]?["ownerReferences"]
      changed = true
    }
    if spec["selector"] != desired["spec"]?["selector"] {
      spec["selector"] = desired["spec"]?["selector"]
      changed = true
    }
    if comparablePorts(spec["ports"]) != comparablePorts(desired["spec"]?["ports"]) {
      spec["ports"] = desired["spec"]?["ports"]
      changed = true
    }
    guard changed else { return nil }
    service["metadata"] = .object(metadata)
    service["spec"] = .object(spec)
    return .object(service)
  }

  /// Ports as the operator sets them (the API server adds nothing for a headless Service, but ignore order).
  static func comparablePorts(_ ports: JSONValue?) -> [String] {
    (ports?.arrayValue ?? []).map {
      "\($0["name"]?.stringValue ?? ""):\($0["port"]?.intValue ?? 0):\($0["targetPort"]?.intValue ?? 0):\($0["protocol"]?.stringValue ?? "TCP")"
    }.sorted()
  }
}
