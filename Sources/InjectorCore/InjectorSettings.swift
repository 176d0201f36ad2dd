import ControlPlaneCore
import Foundation
import KubernetesCore

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
  /// `ACTORS_SERVICE_NAME`: `placement` (the default) gives daprd `--placement-host-address`, any other name
  /// `--actors-service <name>:<address>`.
  public var actorsServiceName = "placement"
  /// `ACTORS_SERVICE_ADDRESS` (`<service>:<port>`, read only when a name is given), else Dapr's placement Service.
  public var actorsService = ControlPlaneService.placement
  /// `REMINDERS_SERVICE_NAME`; empty or `default`: daprd's built-in reminders, no flag.
  public var remindersServiceName = ""
  /// `REMINDERS_SERVICE_ADDRESS`, when a reminders service is named.
  public var remindersService: ControlPlaneService?
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

  /// From the process environment; unusable values fall back to the defaults with a warning in `warnings`, except
  /// the actors and reminders service addresses, which stop the injector as they stop Dapr's (a sidecar pointed at
  /// a service that cannot exist would fail at every start instead).
  public init(environment: [String: String], warnings: inout [String]) throws(InjectorSettingsError) {
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
    if let name = environment["ACTORS_SERVICE_NAME"], !name.isEmpty {
      actorsServiceName = name
      actorsService = try ControlPlaneService(
        parsing: environment["ACTORS_SERVICE_ADDRESS"] ?? "", variable: "ACTORS_SERVICE_ADDRESS",
        naming: "ACTORS_SERVICE_NAME=\(name)")
    }
    let reminders = environment["REMINDERS_SERVICE_NAME"] ?? ""
    if !reminders.isEmpty && reminders != "default" {
      remindersServiceName = reminders
      remindersService = try ControlPlaneService(
        parsing: environment["REMINDERS_SERVICE_ADDRESS"] ?? "", variable: "REMINDERS_SERVICE_ADDRESS",
        naming: "REMINDERS_SERVICE_NAME=\(reminders)")
    }
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
  /// The actors service (placement unless `ACTORS_SERVICE_NAME` says otherwise), in the control plane's namespace.
  public var actorsServiceAddress: String {
    actorsService.address(namespace: controlPlaneNamespace, clusterDomain: clusterDomain)
  }
  public var remindersServiceAddress: String? {
    remindersService?.address(namespace: controlPlaneNamespace, clusterDomain: clusterDomain)
  }
  public var schedulerAddress: String {
    customSchedulerAddress ?? serviceAddress("dapr-scheduler-server-a", port: 443)
  }
  /// A scheduler elsewhere than Dapr's chart puts it (`injector inject --scheduler-host-address`).
  public var customSchedulerAddress: String?
  /// The audience of the sidecar's identity token: sentry's SPIFFE ID.
  public var sentryAudience: String { "spiffe://\(controlPlaneTrustDomain)/ns/\(controlPlaneNamespace)/dapr-sentry" }
}

/// A control-plane Service as the injector's settings name it: `<service>:<port>`.
public struct ControlPlaneService: Hashable, Sendable {
  public var name: String
  public var port: Int

  public static let placement = ControlPlaneService(name: "dapr-placement-server", port: 50005)

  public init(name: String, port: Int) {
    self.name = name
    self.port = port
  }

  /// Dapr's rule: split at the first `:`; the service and the port must be non-empty and the port a positive
  /// integer. `naming` says which setting asked for the address, for the error.
  public init(parsing value: String, variable: String, naming: String) throws(InjectorSettingsError) {
    guard let colon = value.firstIndex(of: ":"), colon != value.startIndex else {
      throw InjectorSettingsError(
        "\(variable) is \"\(value)\", not <service>:<port> (required by \(naming))")
    }
    let port = value[value.index(after: colon)...]
    guard let number = Int(port), number > 0, number <= 65535 else {
      throw InjectorSettingsError(
        "\(variable) is \"\(value)\": the port must be 1 to 65535 (required by \(naming))")
    }
    self.init(name: String(value[..<colon]), port: number)
  }

  /// `<service>.<namespace>.svc.<domain>:<port>`, as Dapr writes it; a service name that already has a dot is kept as
  /// it is (Dapr appends the suffix again, giving a name that resolves nowhere).
  public func address(namespace: String, clusterDomain: String) -> String {
    name.contains(".") ? "\(name):\(port)" : "\(name).\(namespace).svc.\(clusterDomain):\(port)"
  }
}

/// A setting the injector cannot start with.
public struct InjectorSettingsError: Error, Hashable, Sendable, CustomStringConvertible {
  public let message: String
  public var description: String { message }
  init(_ message: String) { self.message = message }
}
