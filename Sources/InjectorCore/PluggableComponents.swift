import Foundation
import KubernetesCore

/// What the injector needs to know about one Component for `dapr.io/inject-pluggable-components`: its name, its
/// scopes and its `dapr.io/component-container` annotation (a container, as JSON).
public struct PluggableComponent: Hashable, Sendable {
  public static let containerAnnotation = "dapr.io/component-container"

  public var name: String
  public var scopes: [String]
  public var container: String

  public init(name: String, scopes: [String] = [], container: String) {
    self.name = name
    self.scopes = scopes
    self.container = container
  }

  /// The facts of a Component object, or nil when it carries no container annotation.
  public init?(_ component: DaprComponent) {
    guard let container = component.metadata.annotations?[Self.containerAnnotation], !container.isEmpty else {
      return nil
    }
    self.init(name: component.metadata.name ?? "", scopes: component.scopes ?? [], container: container)
  }
}

/// The pluggable-component part of a plan (Dapr's "component ops"): the shared socket volume, its mount and
/// `DAPR_COMPONENT_SOCKETS_FOLDER` on the component containers the pod already has (`dapr.io/pluggable-components`),
/// and the containers added from Component resources (`dapr.io/inject-pluggable-components`).
struct PluggableComponentsPlan {
  static let socketVolume = "dapr-components-unix-domain-socket"
  static let folderVariable = "DAPR_COMPONENT_SOCKETS_FOLDER"

  /// Indices of the pod's containers named in `dapr.io/pluggable-components`.
  let existing: [Int]
  /// Containers to add, from the Components scoped to the app.
  let injected: [JSONObject]
  /// Where the socket volume is mounted (daprd, component containers).
  let folder: String
  private(set) var warnings: [AnnotationWarning] = []

  init(
    containers: [JSONValue], annotations: SidecarAnnotations, appID: String, components: [PluggableComponent],
    folder: String
  ) {
    let names = Self.names(annotations)
    existing = containers.indices.filter { names.contains(containers[$0]["name"]?.stringValue ?? "") }
    self.folder = folder
    var injected: [JSONObject] = []
    var warnings: [AnnotationWarning] = []
    if annotations.bool("inject-pluggable-components") {
      (injected, warnings) = Self.injectable(appID: appID, components: components)
    }
    self.injected = injected
    self.warnings = warnings
  }

  /// The names listed in `dapr.io/pluggable-components`.
  static func names(_ annotations: SidecarAnnotations) -> Set<String> {
    Set(
      (annotations.string("pluggable-components") ?? "").split(separator: ",").map {
        String($0).trimmingWhitespace
      })
  }

  /// True when the pod has or gets component containers: only then do daprd and they share the socket volume.
  var isEmpty: Bool { existing.isEmpty && injected.isEmpty }

  /// Whether these mounts already use the socket volume or the sockets folder (a second mount would be refused).
  func mountsSocket(_ mounts: [JSONValue]) -> Bool {
    mounts.contains { $0["name"]?.stringValue == Self.socketVolume || $0["mountPath"]?.stringValue == folder }
  }

  var mount: JSONValue { ["name": .string(Self.socketVolume), "mountPath": .string(folder)] }
  var variable: JSONValue { ["name": .string(Self.folderVariable), "value": .string(folder)] }

  /// The containers of the Components scoped to `appID` (no scopes: every app) that carry a container annotation,
  /// sorted by component name, the first per image; unnamed containers take the component's name. An annotation
  /// that is not a JSON object with an image is left out with a warning naming the component.
  static func injectable(appID: String, components: [PluggableComponent]) -> ([JSONObject], [AnnotationWarning]) {
    var containers: [JSONObject] = []
    var warnings: [AnnotationWarning] = []
    var images: Set<String> = []
    for component in components.sorted(by: { $0.name < $1.name }) {
      guard component.scopes.isEmpty || component.scopes.contains(appID) else { continue }
      guard case .object(var container)? = try? JSONCoding.parse(Data(component.container.utf8)),
        let image = container["image"]?.stringValue, !image.isEmpty
      else {
        warnings.append(
          AnnotationWarning(
            .malformed,
            "annotation \(PluggableComponent.containerAnnotation) of Component \(component.name) is not a container "
              + "with an image; the component is not injected"))
        continue
      }
      guard images.insert(image).inserted else { continue }
      if (container["name"]?.stringValue ?? "").isEmpty { container["name"] = .string(component.name) }
      containers.append(container)
    }
    return (containers, warnings)
  }

  /// The operations, after everything else in the plan: the socket volume (an array when `/spec/volumes` does not
  /// exist yet; Dapr's `add /spec/volumes` here replaced the volumes added earlier), the variable and mount on the
  /// existing component containers, then each injected container with an emptyDir for each volume it mounts that
  /// the pod lacks (each added once, unlike Dapr).
  func operations(containers: [JSONValue], podVolumes: Set<String>, volumesExist: Bool) -> [PatchOperation] {
    guard !isEmpty else { return [] }
    var operations: [PatchOperation] = []
    var volumes = podVolumes
    if !volumes.contains(Self.socketVolume) {
      let volume: JSONValue = ["name": .string(Self.socketVolume), "emptyDir": [:]]
      operations.append(volumesExist ? .add("/spec/volumes/-", volume) : .add("/spec/volumes", [volume]))
      volumes.insert(Self.socketVolume)
    }
    for index in existing {
      let container = containers[index]
      let env = container["env"]?.arrayValue
      if !(env ?? []).contains(where: { $0["name"]?.stringValue == Self.folderVariable }) {
        operations.append(
          env == nil
            ? .add("/spec/containers/\(index)/env", [variable]) : .add("/spec/containers/\(index)/env/-", variable))
      }
      let mounts = container["volumeMounts"]?.arrayValue
      if !mountsSocket(mounts ?? []) {
        operations.append(
          mounts == nil
            ? .add("/spec/containers/\(index)/volumeMounts", [mount])
            : .add("/spec/containers/\(index)/volumeMounts/-", mount))
      }
    }
    for var container in injected {
      var env = container["env"]?.arrayValue ?? []
      if !env.contains(where: { $0["name"]?.stringValue == Self.folderVariable }) { env.append(variable) }
      container["env"] = .array(env)
      var mounts = container["volumeMounts"]?.arrayValue ?? []
      for name in mounts.compactMap({ $0["name"]?.stringValue }) where volumes.insert(name).inserted {
        operations.append(.add("/spec/volumes/-", ["name": .string(name), "emptyDir": [:]]))
      }
      if !mountsSocket(mounts) {
        mounts.append(mount)
      }
      container["volumeMounts"] = .array(mounts)
      operations.append(.add("/spec/containers/-", .object(container)))
    }
    return operations
  }
}
