// Core (v1) kinds, as typed views over their JSON. Only the fields the control plane reads or writes are
// modelled; everything else is kept as is (see ``JSONObjectView``).

/// `v1/Namespace`.
public struct Namespace: KubernetesObject {
  public static let resource = ResourceDescriptor(
    group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }
}

/// `v1/Pod`.
public struct Pod: KubernetesObject {
  public static let resource = ResourceDescriptor(
    group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var spec: PodSpec {
    get { self["spec"] ?? PodSpec() }
    set { self["spec"] = newValue }
  }
  public var status: PodStatus? {
    get { self["status"] }
    set { self["status"] = newValue }
  }
}

/// A pod's observed state.
public struct PodStatus: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var phase: String? { self["phase"] }
  public var podIP: String? { self["podIP"] }
}

/// The metadata and spec of the pods a workload creates.
public struct PodTemplateSpec: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var metadata: ObjectMeta {
    get { self["metadata"] ?? ObjectMeta() }
    set { self["metadata"] = newValue }
  }
  public var spec: PodSpec {
    get { self["spec"] ?? PodSpec() }
    set { self["spec"] = newValue }
  }
}

/// What runs in a pod.
public struct PodSpec: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var containers: [Container] {
    get { self["containers"] ?? [] }
    set { self["containers"] = newValue }
  }
  public var initContainers: [Container]? {
    get { self["initContainers"] }
    set { self["initContainers"] = newValue }
  }
  public var volumes: [Volume]? {
    get { self["volumes"] }
    set { self["volumes"] = newValue }
  }
  public var serviceAccountName: String? {
    get { self["serviceAccountName"] }
    set { self["serviceAccountName"] = newValue }
  }
  public var tolerations: [Toleration]? {
    get { self["tolerations"] }
    set { self["tolerations"] = newValue }
  }
  public var nodeName: String? {
    get { self["nodeName"] }
    set { self["nodeName"] = newValue }
  }
}

/// A container.
public struct Container: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public init(name: String, image: String) {
    self.init()
    self.name = name
    self.image = image
  }

  public var name: String? {
    get { self["name"] }
    set { self["name"] = newValue }
  }
  public var image: String? {
    get { self["image"] }
    set { self["image"] = newValue }
  }
  public var command: [String]? {
    get { self["command"] }
    set { self["command"] = newValue }
  }
  public var args: [String]? {
    get { self["args"] }
    set { self["args"] = newValue }
  }
  public var env: [EnvVar]? {
    get { self["env"] }
    set { self["env"] = newValue }
  }
  public var ports: [ContainerPort]? {
    get { self["ports"] }
    set { self["ports"] = newValue }
  }
  public var volumeMounts: [VolumeMount]? {
    get { self["volumeMounts"] }
    set { self["volumeMounts"] = newValue }
  }
  public var restartPolicy: String? {
    get { self["restartPolicy"] }
    set { self["restartPolicy"] = newValue }
  }
}

/// An environment variable of a container.
public struct EnvVar: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public init(name: String, value: String) {
    self.init()
    self.name = name
    self.value = value
  }

  public var name: String? {
    get { self["name"] }
    set { self["name"] = newValue }
  }
  public var value: String? {
    get { self["value"] }
    set { self["value"] = newValue }
  }
  /// `secretKeyRef`, `fieldRef`, ... kept as JSON.
  public var valueFrom: JSONValue? {
    get { self["valueFrom"] }
    set { self["valueFrom"] = newValue }
  }
}

/// A port a container listens on.
public struct ContainerPort: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var name: String? {
    get { self["name"] }
    set { self["name"] = newValue }
  }
  public var containerPort: Int? {
    get { self["containerPort"] }
    set { self["containerPort"] = newValue }
  }
}

/// Where a volume is mounted in a container.
public struct VolumeMount: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var name: String? {
    get { self["name"] }
    set { self["name"] = newValue }
  }
  public var mountPath: String? {
    get { self["mountPath"] }
    set { self["mountPath"] = newValue }
  }
  public var readOnly: Bool? {
    get { self["readOnly"] }
    set { self["readOnly"] = newValue }
  }
}

/// A pod volume; its source (`emptyDir`, `projected`, `secret`, ...) is kept as JSON.
public struct Volume: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var name: String? {
    get { self["name"] }
    set { self["name"] = newValue }
  }
}

/// A pod toleration.
public struct Toleration: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var key: String? { self["key"] }
  public var `operator`: String? { self["operator"] }
  public var value: String? { self["value"] }
  public var effect: String? { self["effect"] }
}

/// `v1/Service` (named so that it does not clash with ServiceLifecycle's `Service`).
public struct KubernetesService: KubernetesObject {
  public static let resource = ResourceDescriptor(
    group: "", version: "v1", plural: "services", kind: "Service", namespaced: true)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var spec: ServiceSpec {
    get { self["spec"] ?? ServiceSpec() }
    set { self["spec"] = newValue }
  }
}

/// What a Service exposes.
public struct ServiceSpec: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var selector: [String: String]? {
    get { self["selector"] }
    set { self["selector"] = newValue }
  }
  public var ports: [ServicePort]? {
    get { self["ports"] }
    set { self["ports"] = newValue }
  }
  public var clusterIP: String? {
    get { self["clusterIP"] }
    set { self["clusterIP"] = newValue }
  }
  public var type: String? {
    get { self["type"] }
    set { self["type"] = newValue }
  }
}

/// A port of a Service.
public struct ServicePort: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public init(name: String, port: Int, targetPort: Int, protocol: String = "TCP") {
    self.init()
    self.name = name
    self.port = port
    self.targetPort = .int(Int64(targetPort))
    self.protocol = `protocol`
  }

  public var name: String? {
    get { self["name"] }
    set { self["name"] = newValue }
  }
  public var port: Int? {
    get { self["port"] }
    set { self["port"] = newValue }
  }
  /// A number or a named container port.
  public var targetPort: JSONValue? {
    get { self["targetPort"] }
    set { self["targetPort"] = newValue }
  }
  public var `protocol`: String? {
    get { self["protocol"] }
    set { self["protocol"] = newValue }
  }
  public var appProtocol: String? {
    get { self["appProtocol"] }
    set { self["appProtocol"] = newValue }
  }
}

/// `v1/Secret`. `data` values are base64 in JSON; use ``decodedData`` to read the bytes.
public struct Secret: KubernetesObject {
  public static let resource = ResourceDescriptor(
    group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  /// The base64-encoded values, as the API serves them.
  public var data: [String: String]? {
    get { self["data"] }
    set { self["data"] = newValue }
  }
  /// Plain values; write-only on the server side (merged into `data`).
  public var stringData: [String: String]? {
    get { self["stringData"] }
    set { self["stringData"] = newValue }
  }
  public var type: String? {
    get { self["type"] }
    set { self["type"] = newValue }
  }
}

/// `v1/ConfigMap`.
public struct ConfigMap: KubernetesObject {
  public static let resource = ResourceDescriptor(
    group: "", version: "v1", plural: "configmaps", kind: "ConfigMap", namespaced: true)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var data: [String: String]? {
    get { self["data"] }
    set { self["data"] = newValue }
  }
  public var binaryData: [String: String]? {
    get { self["binaryData"] }
    set { self["binaryData"] = newValue }
  }
}

/// `v1/ServiceAccount`.
public struct ServiceAccount: KubernetesObject {
  public static let resource = ResourceDescriptor(
    group: "", version: "v1", plural: "serviceaccounts", kind: "ServiceAccount", namespaced: true)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }
}

/// `v1/Event` (core events, which every API server version serves).
public struct Event: KubernetesObject {
  public static let resource = ResourceDescriptor(
    group: "", version: "v1", plural: "events", kind: "Event", namespaced: true)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var involvedObject: ObjectReference {
    get { self["involvedObject"] ?? ObjectReference() }
    set { self["involvedObject"] = newValue }
  }
  public var reason: String? {
    get { self["reason"] }
    set { self["reason"] = newValue }
  }
  public var message: String? {
    get { self["message"] }
    set { self["message"] = newValue }
  }
  /// `Normal` or `Warning`.
  public var type: String? {
    get { self["type"] }
    set { self["type"] = newValue }
  }
  public var count: Int? {
    get { self["count"] }
    set { self["count"] = newValue }
  }
  public var firstTimestamp: String? {
    get { self["firstTimestamp"] }
    set { self["firstTimestamp"] = newValue }
  }
  public var lastTimestamp: String? {
    get { self["lastTimestamp"] }
    set { self["lastTimestamp"] = newValue }
  }
  /// `{component, host}` of the reporter.
  public var source: JSONObject? {
    get { self["source"] }
    set { self["source"] = newValue }
  }
}

/// A reference to an object, as events use it.
public struct ObjectReference: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  /// A reference to `object`.
  public init<Object: KubernetesObject>(to object: Object) {
    self.init()
    apiVersion = Object.resource.apiVersion
    kind = Object.resource.kind
    name = object.metadata.name
    namespace = object.metadata.namespace
    uid = object.metadata.uid
    resourceVersion = object.metadata.resourceVersion
  }

  public var apiVersion: String? {
    get { self["apiVersion"] }
    set { self["apiVersion"] = newValue }
  }
  public var kind: String? {
    get { self["kind"] }
    set { self["kind"] = newValue }
  }
  public var name: String? {
    get { self["name"] }
    set { self["name"] = newValue }
  }
  public var namespace: String? {
    get { self["namespace"] }
    set { self["namespace"] = newValue }
  }
  public var uid: String? {
    get { self["uid"] }
    set { self["uid"] = newValue }
  }
  public var resourceVersion: String? {
    get { self["resourceVersion"] }
    set { self["resourceVersion"] = newValue }
  }
}
