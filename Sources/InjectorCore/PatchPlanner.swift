import ControlPlaneCore
import Foundation
import KubernetesCore

/// One RFC 6902 operation (the injector only adds).
public struct PatchOperation: Hashable, Sendable, Encodable {
  public let op: String
  public let path: String
  public let value: JSONValue

  public static func add(_ path: String, _ value: JSONValue) -> Self { Self(op: "add", path: path, value: value) }

  /// The operation as JSON.
  public var jsonValue: JSONValue { ["op": .string(op), "path": .string(path), "value": value] }

  /// The operations as a JSON Patch document, written in one pass.
  public static func json(_ operations: [PatchOperation]) -> Data {
    var bytes: [UInt8] = [UInt8(ascii: "[")]
    for (index, operation) in operations.enumerated() {
      if index > 0 { bytes.append(UInt8(ascii: ",")) }
      bytes.append(contentsOf: #"{"op":"#.utf8)
      JSONValue.string(operation.op).write(into: &bytes)
      bytes.append(contentsOf: #","path":"#.utf8)
      JSONValue.string(operation.path).write(into: &bytes)
      bytes.append(contentsOf: #","value":"#.utf8)
      operation.value.write(into: &bytes)
      bytes.append(UInt8(ascii: "}"))
    }
    bytes.append(UInt8(ascii: "]"))
    return Data(bytes)
  }

  /// A JSON Pointer token: `~` becomes `~0` and `/` becomes `~1`.
  public static func escape(_ token: String) -> String { JSONPatchOperation.escape(token) }
}

/// Why a pod cannot be injected; the webhook refuses it with this message.
public struct InjectionError: Error, Hashable, Sendable, CustomStringConvertible {
  public let message: String
  public var description: String { message }
  init(_ message: String) { self.message = message }
}

/// What to do with a pod.
public enum InjectionPlan: Hashable, Sendable {
  /// Leave the pod alone.
  case skip(reason: String)
  /// Apply `operations`; `warnings` name the annotation values that could not be used as written.
  case inject(appID: String, operations: [PatchOperation], warnings: [AnnotationWarning])
}

/// Plans the sidecar for a pod: a pure function of the pod, the injector's settings and the control plane's facts.
public struct PatchPlanner: Sendable {
  public var settings: InjectorSettings
  /// The trust anchors (PEM) given to daprd in `DAPR_TRUST_ANCHORS`.
  public var trustAnchors: String
  /// `spec.mtls.enabled` of the `daprsystem` Configuration (true when absent).
  public var mTLSEnabled: Bool

  public init(settings: InjectorSettings, trustAnchors: String, mTLSEnabled: Bool = true) {
    self.settings = settings
    self.trustAnchors = trustAnchors
    self.mTLSEnabled = mTLSEnabled
  }

  static let sidecarName = "daprd"
  static let httpPort: Int64 = 3500
  static let publicPort: Int64 = 3501
  static let tokenVolume = DaprdIdentityToken.volumeName
  static let tokenMountPath = DaprdIdentityToken.mountPath
  static let socketVolume = "dapr-unix-domain-socket"
  static let socketMountPath = "/var/run/dapr-sockets"
  static let knownProtocols: Set<String> = ["http", "grpc", "https", "grpcs", "h2c"]

  /// The plan for `pod` in `namespace` (the request's namespace when the pod has none); `components` are the
  /// namespace's Components with a container annotation, used when the pod asks for
  /// `dapr.io/inject-pluggable-components`.
  public func plan(
    pod: JSONValue, namespace: String, components: [PluggableComponent] = []
  ) throws(InjectionError) -> InjectionPlan {
    guard let object = pod.objectValue else {
      throw InjectionError("could not unmarshal raw object: not a JSON object")
    }
    let metadata = object["metadata"]?.objectValue ?? [:]
    let spec = object["spec"]?.objectValue ?? [:]
    var annotations = SidecarAnnotations(metadata["annotations"]?.objectValue ?? [:])
    guard DaprEnabled.isEnabled(annotations.string("enabled")) else {
      return .skip(reason: "dapr.io/enabled is not \"true\"")
    }
    let containers = spec["containers"]?.arrayValue ?? []
    let initContainers = spec["initContainers"]?.arrayValue ?? []
    if (containers + initContainers).contains(where: { $0["name"]?.stringValue == Self.sidecarName }) {
      return .skip(reason: "the pod already has a daprd container")
    }
    let appID = try Self.appID(annotations: annotations, podName: metadata["name"]?.stringValue ?? "")
    annotations.checkKeysAndBooleans()
    var sidecar = SidecarBuilder(
      settings: settings, trustAnchors: trustAnchors, mTLSEnabled: mTLSEnabled, appID: appID,
      namespace: (metadata["namespace"]?.stringValue).flatMap { $0.isEmpty ? nil : $0 } ?? namespace,
      pod: object)
    let pluggable = PluggableComponentsPlan(
      containers: containers, annotations: annotations, appID: appID, components: components,
      folder: sidecar.socketsFolder(annotations))
    if !pluggable.isEmpty { sidecar.componentsSocketMount = pluggable.mount }
    let container = sidecar.container(&annotations)
    let native = annotations.string("enable-native-sidecar").map(ProcessFacts.isTruthy) ?? settings.nativeSidecars

    var operations: [PatchOperation] = []
    if containers.isEmpty { operations.append(.add("/spec/containers", [])) }
    if metadata["labels"]?.objectValue == nil { operations.append(.add("/metadata/labels", [:])) }

    // Volumes: one array when the pod has none, else one `/-` per new name.
    let existingVolumes = Set((spec["volumes"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
    let newVolumes = sidecar.volumes(annotations).filter { !existingVolumes.contains($0["name"]?.stringValue ?? "") }
    if spec["volumes"]?.arrayValue == nil {
      if !newVolumes.isEmpty { operations.append(.add("/spec/volumes", .array(newVolumes))) }
    } else {
      operations += newVolumes.map { .add("/spec/volumes/-", $0) }
    }

    if native {
      var sidecarContainer = container
      sidecarContainer["restartPolicy"] = "Always"
      if initContainers.isEmpty { operations.append(.add("/spec/initContainers", [])) }
      operations.append(.add("/spec/initContainers/-", .object(sidecarContainer)))
    } else {
      operations.append(.add("/spec/containers/-", .object(container)))
    }

    let labels = "/metadata/labels/"
    operations.append(.add(labels + PatchOperation.escape("dapr.io/sidecar-injected"), "true"))
    operations.append(.add(labels + PatchOperation.escape("dapr.io/app-id"), .string(appID)))
    operations.append(
      .add(
        labels + PatchOperation.escape("dapr.io/metrics-enabled"),
        .string(annotations.bool("enable-metrics", default: true) ? "true" : "false")))

    operations += sidecar.appContainerOperations(containers: containers, annotations: annotations)
    operations += pluggable.operations(
      containers: containers, podVolumes: existingVolumes.union(newVolumes.compactMap { $0["name"]?.stringValue }),
      volumesExist: spec["volumes"]?.arrayValue != nil || !newVolumes.isEmpty)
    return .inject(
      appID: appID, operations: operations, warnings: annotations.warnings + sidecar.warnings + pluggable.warnings)
  }

  /// The app id: the annotation, else the pod's name; `<id>-dapr` must be a DNS-1123 label.
  static func appID(annotations: SidecarAnnotations, podName: String) throws(InjectionError) -> String {
    let id = annotations.string("app-id").map { $0.isEmpty ? podName : $0 } ?? podName
    guard !id.isEmpty else { throw InjectionError("value for the dapr.io/app-id annotation is empty") }
    let service = "\(id)-dapr"
    let allowed = service.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
    let edges = service.first.map { $0.isLetter || $0.isNumber } == true
    guard allowed, edges, service.utf8.count <= 63 else {
      throw InjectionError(
        "invalid app id(input: \(id), service: \(service)): the service name must be a DNS-1123 label "
          + "(at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit)")
    }
    return id
  }
}
