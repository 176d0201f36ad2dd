import ControlPlaneKit
import Foundation
import Kubernetes

/// What the injector knows about the control plane and how sidecars are to be built, from its environment
/// variables (Dapr's names; see `docs/injector.md`).
public struct InjectorSettings: Hashable, Sendable {
  public var sidecarImage = "ghcr.io/dapr/daprd:latest"
  /// Always, Never or IfNotPresent; anything else becomes IfNotPresent.
  public var sidecarImagePullPolicy = "Always"
  public var controlPlaneNamespace = "dapr-system"
  public var clusterDomain = "cluster.local"
  public var controlPlaneTrustDomain = "cluster.local"
  public var actorsEnabled = true
  public var actorsServiceName = "placement"
  public var actorsServiceAddress = ""
  public var remindersServiceName = ""
  public var remindersServiceAddress = ""
  /// Whether sidecars are pointed at `dapr-scheduler-server-a`. Off by default: this control plane ships no
  /// scheduler (Dapr's chart turns it on with `global.scheduler.enabled`; ours only when that value says one exists).
  public var schedulerEnabled = false
  public var runAsNonRoot = true
  public var runAsUser: Int64?
  public var runAsGroup: Int64?
  public var readOnlyRootFilesystem = true
  public var dropAllCapabilities = false
  /// The daprd container's `seccompProfile.type` when the pod's `dapr.io/sidecar-seccomp-profile-type` does not say
  /// (`SIDECAR_SECCOMP_PROFILE_TYPE`, beyond Dapr; the chart sets `RuntimeDefault` so the sidecar passes the Pod
  /// Security restricted profile). Unset: none, as Dapr.
  public var seccompProfileType: String?
  public var downwardAPIs = false
  public var nativeSidecars = false
  /// Pod tolerations that make the injector set `command: ["/daprd"]` (virtual-kubelet platforms).
  public var ignoreEntrypointTolerations: [JSONValue] = []
  public var componentSocketsFolder = "/tmp/dapr-components-sockets"
  /// Whether sidecars get the projected `dapr-identity-token` volume.
  public var identityToken = true

  public init() {}

  /// From the process environment; unusable values fall back to the defaults with a warning in `warnings`.
  public init(environment: [String: String], warnings: inout [String]) {
    func flag(_ name: String, _ fallback: Bool) -> Bool {
      guard let value = environment[name], !value.isEmpty else { return fallback }
      return ProcessFacts.isTruthy(value)
    }
    if let image = environment["SIDECAR_IMAGE"], !image.isEmpty { sidecarImage = image }
    if let policy = environment["SIDECAR_IMAGE_PULL_POLICY"] {
      sidecarImagePullPolicy = ["Always", "Never", "IfNotPresent"].contains(policy) ? policy : "IfNotPresent"
    }
    if let namespace = environment["NAMESPACE"], !namespace.isEmpty { controlPlaneNamespace = namespace }
    if let domain = environment["KUBE_CLUSTER_DOMAIN"], !domain.isEmpty { clusterDomain = domain }
    if let domain = environment["DAPR_CONTROL_PLANE_TRUST_DOMAIN"], !domain.isEmpty {
      controlPlaneTrustDomain = domain
    }
    actorsEnabled = flag("ACTORS_ENABLED", true)
    if let name = environment["ACTORS_SERVICE_NAME"], !name.isEmpty { actorsServiceName = name }
    actorsServiceAddress = environment["ACTORS_SERVICE_ADDRESS"] ?? ""
    remindersServiceName = environment["REMINDERS_SERVICE_NAME"] ?? ""
    remindersServiceAddress = environment["REMINDERS_SERVICE_ADDRESS"] ?? ""
    runAsNonRoot = flag("SIDECAR_RUN_AS_NON_ROOT", true)
    runAsUser = environment["SIDECAR_RUN_AS_USER"].flatMap { Int64($0) }
    runAsGroup = environment["SIDECAR_RUN_AS_GROUP"].flatMap { Int64($0) }
    readOnlyRootFilesystem = flag("SIDECAR_READ_ONLY_ROOT_FILESYSTEM", true)
    dropAllCapabilities = flag("SIDECAR_DROP_ALL_CAPABILITIES", false)
    if let type = environment["SIDECAR_SECCOMP_PROFILE_TYPE"]?.trimmingWhitespace, !type.isEmpty {
      seccompProfileType = type
    }
    downwardAPIs = flag("ENABLE_K8S_DOWNWARD_APIS", false)
    nativeSidecars = flag("NATIVE_SIDECAR_ENABLED", false)
    if let folder = environment["DAPR_COMPONENT_SOCKETS_FOLDER"], !folder.isEmpty { componentSocketsFolder = folder }
    if let tolerations = environment["IGNORE_ENTRYPOINT_TOLERATIONS"], !tolerations.isEmpty {
      if let parsed = try? JSONCoding.parse(Data(tolerations.utf8)), let list = parsed.arrayValue {
        ignoreEntrypointTolerations = list
      } else {
        warnings.append("IGNORE_ENTRYPOINT_TOLERATIONS is not a JSON array of tolerations; ignoring it")
      }
    }
  }

  // === Control-plane addresses (templates, no DNS lookups) ===

  func serviceAddress(_ service: String, port: Int) -> String {
    "\(service).\(controlPlaneNamespace).svc.\(clusterDomain):\(port)"
  }

  public var operatorAddress: String { serviceAddress("dapr-api", port: 443) }
  public var sentryAddress: String { serviceAddress("dapr-sentry", port: 443) }
  public var placementAddress: String { serviceAddress("dapr-placement-server", port: 50005) }
  public var schedulerAddress: String {
    customSchedulerAddress ?? serviceAddress("dapr-scheduler-server-a", port: 443)
  }
  /// A scheduler elsewhere than Dapr's chart puts it (`injector inject --scheduler-host-address`).
  public var customSchedulerAddress: String?
  /// The audience of the sidecar's identity token: sentry's SPIFFE ID.
  public var sentryAudience: String { "spiffe://\(controlPlaneTrustDomain)/ns/\(controlPlaneNamespace)/dapr-sentry" }
}
