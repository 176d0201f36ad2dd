import Kubernetes

/// The Pod Security Standards' "restricted" profile (Kubernetes' policy version latest), checked field by field on
/// a pod spec, plus the read-only root filesystem this project asks of every container on top. Each violation names
/// the field and the container.
enum RestrictedProfile {
  static let allowedVolumeTypes: Set<String> = [
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret",
  ]

  /// The violations of `spec` (a pod spec), with `containers` limited to those named (nil: all).
  static func violations(podSpec spec: JSONValue, only names: Set<String>? = nil) -> [String] {
    var found: [String] = []
    for field in ["hostNetwork", "hostPID", "hostIPC"] where spec[field]?.boolValue == true {
      found.append("spec.\(field) is true")
    }
    for volume in spec["volumes"]?.arrayValue ?? [] {
      let types = Set((volume.objectValue ?? [:]).keys).subtracting(["name"])
      if !types.isSubset(of: allowedVolumeTypes) {
        found.append("volume \(volume["name"]?.stringValue ?? "?") is of type \(types.sorted())")
      }
    }
    let pod = spec["securityContext"]
    if let sysctls = pod?["sysctls"]?.arrayValue, !sysctls.isEmpty { found.append("spec.securityContext.sysctls set") }
    if pod?["runAsUser"]?.intValue == 0 { found.append("spec.securityContext.runAsUser is 0") }
    let podSeccomp = pod?["seccompProfile"]?["type"]?.stringValue
    let groups = [("containers", spec["containers"]), ("initContainers", spec["initContainers"])]
    for (group, list) in groups {
      for container in list?.arrayValue ?? [] {
        let name = container["name"]?.stringValue ?? "?"
        if let names, !names.contains(name) { continue }
        let where_ = "\(group)[\(name)].securityContext"
        let context = container["securityContext"]
        if context?["privileged"]?.boolValue == true { found.append("\(where_).privileged is true") }
        if context?["allowPrivilegeEscalation"]?.boolValue != false {
          found.append("\(where_).allowPrivilegeEscalation is not false")
        }
        let drops = context?["capabilities"]?["drop"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if !drops.contains("ALL") { found.append("\(where_).capabilities.drop lacks ALL") }
        let adds = context?["capabilities"]?["add"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if !adds.allSatisfy({ $0 == "NET_BIND_SERVICE" }) { found.append("\(where_).capabilities.add has \(adds)") }
        let runAsNonRoot = context?["runAsNonRoot"]?.boolValue ?? pod?["runAsNonRoot"]?.boolValue
        if runAsNonRoot != true { found.append("\(where_).runAsNonRoot is not true (nor the pod's)") }
        if context?["runAsUser"]?.intValue == 0 { found.append("\(where_).runAsUser is 0") }
        let seccomp = context?["seccompProfile"]?["type"]?.stringValue ?? podSeccomp
        if seccomp != "RuntimeDefault" && seccomp != "Localhost" {
          found.append("\(where_).seccompProfile.type is \(seccomp ?? "unset") (nor the pod's)")
        }
        if context?["readOnlyRootFilesystem"]?.boolValue != true {
          found.append("\(where_).readOnlyRootFilesystem is not true")
        }
        for port in container["ports"]?.arrayValue ?? [] where port["hostPort"] != nil {
          found.append("\(group)[\(name)] uses a hostPort")
        }
      }
    }
    return found
  }
}
