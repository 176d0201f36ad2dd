import Foundation
import Kubernetes

/// Builds the `daprd` container, its volumes and the app containers' changes, with Dapr's flags, env, ports,
/// probes and security context (see `docs/injector.md`).
struct SidecarBuilder {
  let settings: InjectorSettings
  let trustAnchors: String
  let mTLSEnabled: Bool
  let appID: String
  let namespace: String
  let pod: JSONObject
  private(set) var warnings: [String] = []
  /// The shared pluggable-component socket mount, when the pod has or gets component containers.
  var componentsSocketMount: JSONValue?

  init(
    settings: InjectorSettings, trustAnchors: String, mTLSEnabled: Bool, appID: String, namespace: String,
    pod: JSONObject
  ) {
    self.settings = settings
    self.trustAnchors = trustAnchors
    self.mTLSEnabled = mTLSEnabled
    self.appID = appID
    self.namespace = namespace
    self.pod = pod
  }

  var spec: JSONObject { pod["spec"]?.objectValue ?? [:] }

  // === Ports ===

  func grpcPort(_ annotations: inout SidecarAnnotations) -> Int { annotations.int("grpc-port", default: 50001)! }

  /// `APP_PROTOCOL` for app containers: the annotation lower-cased (https/grpcs with app-ssl), nil when unknown.
  func appProtocolEnv(_ annotations: SidecarAnnotations) -> String? {
    var value = (annotations.nonEmpty("app-protocol") ?? "http").lowercased()
    if annotations.bool("app-ssl") {
      if value == "http" { value = "https" } else if value == "grpc" { value = "grpcs" }
    }
    return PatchPlanner.knownProtocols.contains(value) ? value : nil
  }

  // === The container ===

  mutating func container(_ annotations: inout SidecarAnnotations) -> JSONObject {
    let grpc = grpcPort(&annotations)
    let internalGRPC = annotations.int("internal-grpc-port", default: 50002)!
    let metricsPort = annotations.int("metrics-port", default: 9090)!
    let debugEnabled = annotations.bool("enable-debug")
    let debugPort = annotations.int("debug-port", default: 40000)!
    let flags = self.flags(&annotations, grpc: grpc, internalGRPC: internalGRPC, metricsPort: metricsPort)

    var container: JSONObject = [
      "name": .string(PatchPlanner.sidecarName),
      "image": .string(annotations.nonEmpty("sidecar-image") ?? settings.sidecarImage),
      "imagePullPolicy": .string(settings.sidecarImagePullPolicy),
    ]
    container.reserveCapacity(12)  // every member below at once, without regrowing
    if debugEnabled {
      container["args"] = .array(
        ([
          "/dlv", "--listen", ":\(debugPort)", "--accept-multiclient", "--headless=true", "--log", "--api-version=2",
          "exec", "/daprd", "--",
        ] + flags).map { .string($0) })
    } else if ignoresEntrypoint {
      container["command"] = ["/daprd"]
      container["args"] = .array(flags.map { .string($0) })
    } else {
      container["args"] = .array((["/daprd"] + flags).map { .string($0) })
    }
    var ports: [JSONValue] = [
      port("dapr-http", PatchPlanner.httpPort), port("dapr-grpc", Int64(grpc)),
      port("dapr-internal", Int64(internalGRPC)), port("dapr-metrics", Int64(metricsPort)),
    ]
    if debugEnabled { ports.append(port("dapr-debug", Int64(debugPort))) }
    container["ports"] = .array(ports)
    let env = self.env(&annotations)
    container["env"] = .array(env)
    container["securityContext"] = .object(
      securityContext(sslCertDir: env.contains { $0["name"]?.stringValue == "SSL_CERT_DIR" }))
    container["readinessProbe"] = .object(
      probe(
        &annotations, prefix: "sidecar-readiness-probe", defaults: (1, 1, 1, 5),
        handler: ["httpGet": ["path": "/v1.0/healthz", "port": .int(PatchPlanner.publicPort)]]))
    container["livenessProbe"] = .object(
      probe(
        &annotations, prefix: "sidecar-liveness-probe", defaults: (180, 3, 10, 5),
        handler: ["tcpSocket": ["port": .int(PatchPlanner.publicPort)]]))
    let mounts = volumeMounts(annotations)
    if !mounts.isEmpty { container["volumeMounts"] = .array(mounts) }
    if let resources = resources(annotations) { container["resources"] = .object(resources) }
    if let seccomp = annotations.nonEmpty("sidecar-seccomp-profile-type") ?? settings.seccompProfileType,
      case .object(var security) = container["securityContext"]!
    {
      security["seccompProfile"] = ["type": .string(seccomp)]
      container["securityContext"] = .object(security)
    }
    return container
  }

  func port(_ name: String, _ number: Int64) -> JSONValue { ["name": .string(name), "containerPort": .int(number)] }

  /// Whether a pod toleration equals one of IGNORE_ENTRYPOINT_TOLERATIONS.
  var ignoresEntrypoint: Bool {
    let tolerations = spec["tolerations"]?.arrayValue ?? []
    return tolerations.contains { settings.ignoreEntrypointTolerations.contains($0) }
  }

  // === Flags, in Dapr's order ===

  func flags(_ annotations: inout SidecarAnnotations, grpc: Int, internalGRPC: Int, metricsPort: Int) -> [String] {
    var flags = [
      DaprdFlag.httpPort.rawValue, "\(PatchPlanner.httpPort)", DaprdFlag.grpcPort.rawValue, "\(grpc)",
      DaprdFlag.internalGRPCPort.rawValue, "\(internalGRPC)", "--dapr-listen-addresses",
      annotations.nonEmpty("sidecar-listen-addresses") ?? "[::1],127.0.0.1",
      "--dapr-public-port", "\(PatchPlanner.publicPort)", DaprdFlag.appID.rawValue, appID, "--app-protocol",
      annotations.nonEmpty("app-protocol") ?? "http", "--log-level", annotations.nonEmpty("log-level") ?? "info",
      "--dapr-graceful-shutdown-seconds", "\(annotations.int("graceful-shutdown-seconds", default: -1)!)",
      DaprdFlag.mode.rawValue, "kubernetes", DaprdFlag.controlPlaneAddress.rawValue, settings.operatorAddress,
      DaprdFlag.sentryAddress.rawValue, settings.sentryAddress,
    ]
    func value(_ flag: String, _ key: String) {
      if let value = annotations.nonEmpty(key) { flags += [flag, value] }
    }
    if let appPort = annotations.int("app-port"), appPort > 0 { flags += ["--app-port", "\(appPort)"] }
    if annotations.bool("enable-metrics", default: true) {
      flags += ["--enable-metrics", "--metrics-port", "\(metricsPort)"]
    } else {
      flags.append("--enable-metrics=false")
    }
    value(DaprdFlag.config.rawValue, "config")
    value("--app-channel-address", "app-channel-address")
    if let placement = annotations.string("placement-host-address") {
      let address = AnnotationValue.unquoted(placement)
      if !address.isEmpty { flags += [DaprdFlag.placementHostAddress.rawValue, address] }
    } else if settings.actorsEnabled {
      if settings.actorsServiceName == "placement" {
        flags += [DaprdFlag.placementHostAddress.rawValue, settings.placementAddress]
      } else {
        flags += [DaprdFlag.actorsService.rawValue, "\(settings.actorsServiceName):\(settings.actorsServiceAddress)"]
      }
    }
    if !settings.remindersServiceName.isEmpty {
      flags += ["--reminders-service", "\(settings.remindersServiceName):\(settings.remindersServiceAddress)"]
    }
    value("--sentry-request-jwt-audiences", "sentry-request-jwt-audiences")
    if annotations.string("enable-api-logging") != nil {
      flags.append("--enable-api-logging=\(annotations.bool("enable-api-logging"))")
    }
    if annotations.bool("disable-builtin-k8s-secret-store") { flags.append("--disable-builtin-k8s-secret-store") }
    if annotations.bool("enable-app-health-check") {
      flags += [
        "--enable-app-health-check", "--app-health-check-path",
        annotations.nonEmpty("app-health-check-path") ?? "/healthz",
        "--app-health-probe-interval", "\(annotations.int("app-health-probe-interval", default: 5)!)",
        "--app-health-probe-timeout", "\(annotations.int("app-health-probe-timeout", default: 500)!)",
        "--app-health-threshold", "\(annotations.int("app-health-threshold", default: 3)!)",
      ]
    }
    value("--app-binding-options-timeout", "app-binding-options-timeout")
    if annotations.bool("log-as-json") { flags.append("--log-as-json") }
    if annotations.bool("enable-profiling") { flags.append("--enable-profiling") }
    if mTLSEnabled { flags.append(DaprdFlag.enableMTLS.rawValue) }
    if annotations.bool("app-ssl") { flags.append("--app-ssl") }
    if let concurrency = annotations.int("app-max-concurrency") {
      flags += ["--app-max-concurrency", "\(concurrency)"]
    }
    if let size = annotations.int("http-max-request-size") { flags += ["--dapr-http-max-request-size", "\(size)"] }
    value("--max-body-size", "max-body-size")
    if let size = annotations.int("http-read-buffer-size") { flags += ["--dapr-http-read-buffer-size", "\(size)"] }
    value("--read-buffer-size", "read-buffer-size")
    if annotations.nonEmpty("unix-domain-socket-path") != nil {
      flags += ["--unix-domain-socket", PatchPlanner.socketMountPath]
    }
    value("--dapr-block-shutdown-duration", "block-shutdown-duration")
    value(DaprdFlag.actorsDisseminateTimeout.rawValue, "actors-disseminate-timeout")
    if let scheduler = annotations.string("scheduler-host-address") {
      // Present but empty: an empty argument, which turns the scheduler off in daprd.
      flags += [DaprdFlag.schedulerHostAddress.rawValue, AnnotationValue.unquoted(scheduler)]
    } else if settings.schedulerEnabled {
      flags += [DaprdFlag.schedulerHostAddress.rawValue, settings.schedulerAddress]
    }
    if let disable = annotations.string("disable-init-endpoints") { flags += ["--disable-init-endpoints", disable] }
    return flags
  }

  // === Env, in Dapr's order ===

  func env(_ annotations: inout SidecarAnnotations) -> [JSONValue] {
    var env: [JSONValue] = [
      ["name": .string(DaprdEnvironment.namespace), "value": .string(namespace)],
      ["name": .string(DaprdEnvironment.trustAnchors), "value": .string(trustAnchors)],
      ["name": .string(DaprdEnvironment.podName), "valueFrom": ["fieldRef": ["fieldPath": "metadata.name"]]],
      ["name": .string(DaprdEnvironment.controlPlaneNamespace), "value": .string(settings.controlPlaneNamespace)],
      ["name": .string(DaprdEnvironment.controlPlaneTrustDomain), "value": .string(settings.controlPlaneTrustDomain)],
    ]
    if settings.downwardAPIs {
      env.append(["name": .string(DaprdEnvironment.hostIP), "valueFrom": ["fieldRef": ["fieldPath": "status.podIP"]]])
    }
    var keys: [String] = []
    for (name, value) in Self.splitEnv(annotations.string("env") ?? "") {
      env.append(["name": .string(name), "value": .string(value)])
      keys.append(name)
    }
    for (name, reference) in Self.splitEnv(annotations.string("env-from-secret") ?? "") {
      let parts = reference.split(separator: ":", maxSplits: 1).map(String.init)
      let secret = parts.first ?? reference
      let key = parts.count == 2 ? parts[1] : secret
      env.append([
        "name": .string(name), "valueFrom": ["secretKeyRef": ["name": .string(secret), "key": .string(key)]],
      ])
      keys.append(name)
    }
    if !keys.isEmpty { env.append(["name": "DAPR_ENV_KEYS", "value": .string(keys.joined(separator: " "))]) }
    if let mount = componentsSocketMount {
      env.append(["name": .string(PluggableComponentsPlan.folderVariable), "value": mount["mountPath"] ?? ""])
    }
    if let secret = annotations.nonEmpty("api-token-secret") {
      env.append(["name": "DAPR_API_TOKEN", "valueFrom": ["secretKeyRef": ["name": .string(secret), "key": "token"]]])
    }
    if let secret = annotations.nonEmpty("app-token-secret") {
      env.append(["name": "APP_API_TOKEN", "valueFrom": ["secretKeyRef": ["name": .string(secret), "key": "token"]]])
    }
    return env
  }

  func socketsFolder(_ annotations: SidecarAnnotations) -> String {
    annotations.nonEmpty("pluggable-components-sockets-folder") ?? settings.componentSocketsFolder
  }

  /// `K=V,...` split only at a comma followed by `IDENT=`, so values may hold `,` and `=`.
  static func splitEnv(_ text: String) -> [(String, String)] {
    let bytes = Array(text.utf8)
    var entries: [ArraySlice<UInt8>] = []
    var start = 0
    for index in bytes.indices where bytes[index] == UInt8(ascii: ",") && startsAssignment(bytes[(index + 1)...]) {
      entries.append(bytes[start..<index])
      start = index + 1
    }
    entries.append(bytes[start...])
    return entries.compactMap { entry in
      guard let equals = entry.firstIndex(of: UInt8(ascii: "=")) else { return nil }
      let name = String(decoding: entry[..<equals], as: UTF8.self).trimmingWhitespace
      guard !name.isEmpty else { return nil }
      return (name, String(decoding: entry[(equals + 1)...], as: UTF8.self).trimmingWhitespace)
    }
  }

  /// Whether `text` begins (after spaces) with an environment variable name (upper-case letters, digits and `_`,
  /// not starting with a digit) followed by `=`. Lower-case words are taken as part of the previous value, so
  /// `OTEL_RESOURCE_ATTRIBUTES=x=1,y=2` stays one variable.
  static func startsAssignment(_ text: ArraySlice<UInt8>) -> Bool {
    func isNameByte(_ byte: UInt8) -> Bool {
      (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
        || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
        || byte == UInt8(ascii: "_")
    }
    let rest = text.drop { $0 == UInt8(ascii: " ") }
    guard let first = rest.first, isNameByte(first), !(first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else {
      return false
    }
    return rest.drop(while: isNameByte).first == UInt8(ascii: "=")
  }

  // === Security, probes, resources ===

  func securityContext(sslCertDir: Bool) -> JSONObject {
    var context: JSONObject = [
      "allowPrivilegeEscalation": false,
      "runAsNonRoot": .bool(sslCertDir ? false : settings.runAsNonRoot),
      "readOnlyRootFilesystem": .bool(sslCertDir ? false : settings.readOnlyRootFilesystem),
    ]
    if !sslCertDir {
      if let user = settings.runAsUser { context["runAsUser"] = .int(user) }
      if let group = settings.runAsGroup { context["runAsGroup"] = .int(group) }
    } else {
      context["windowsOptions"] = ["runAsUserName": "ContainerAdministrator"]
    }
    if settings.dropAllCapabilities { context["capabilities"] = ["drop": ["ALL"]] }
    return context
  }

  func probe(
    _ annotations: inout SidecarAnnotations, prefix: String, defaults: (Int, Int, Int, Int), handler: JSONObject
  ) -> JSONObject {
    var probe = handler
    probe["initialDelaySeconds"] = .int(Int64(annotations.int("\(prefix)-delay-seconds", default: defaults.0)!))
    probe["timeoutSeconds"] = .int(Int64(annotations.int("\(prefix)-timeout-seconds", default: defaults.1)!))
    probe["periodSeconds"] = .int(Int64(annotations.int("\(prefix)-period-seconds", default: defaults.2)!))
    probe["failureThreshold"] = .int(Int64(annotations.int("\(prefix)-threshold", default: defaults.3)!))
    return probe
  }

  /// Requests and limits from the four annotations; one bad quantity drops them all, as in Dapr.
  mutating func resources(_ annotations: SidecarAnnotations) -> JSONObject? {
    var requests: JSONObject = [:]
    var limits: JSONObject = [:]
    for (key, resource, isLimit) in [
      ("sidecar-cpu-request", "cpu", false), ("sidecar-memory-request", "memory", false),
      ("sidecar-cpu-limit", "cpu", true), ("sidecar-memory-limit", "memory", true),
    ] {
      guard let value = annotations.nonEmpty(key) else { continue }
      guard Self.isQuantity(value) else {
        warnings.append(
          "annotation dapr.io/\(key) is not a Kubernetes quantity (\"\(value)\"); the sidecar gets no resources")
        return nil
      }
      if isLimit { limits[resource] = .string(value) } else { requests[resource] = .string(value) }
    }
    guard !requests.isEmpty || !limits.isEmpty else { return nil }
    var resources: JSONObject = [:]
    if !limits.isEmpty { resources["limits"] = .object(limits) }
    if !requests.isEmpty { resources["requests"] = .object(requests) }
    return resources
  }

  /// A Kubernetes quantity: a decimal number with an optional binary, decimal or exponent suffix.
  static func isQuantity(_ text: String) -> Bool {
    var rest = Substring(text)
    if let sign = rest.first, sign == "+" || sign == "-" { rest = rest.dropFirst() }
    let digits = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
    guard !digits.isEmpty, digits.filter({ $0 == "." }).count <= 1, digits != "." else { return false }
    let suffix = rest.dropFirst(digits.count)
    if ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"].contains(suffix) {
      return true
    }
    guard let e = suffix.first, e == "e" || e == "E" else { return false }
    var exponent = suffix.dropFirst()
    if let sign = exponent.first, sign == "+" || sign == "-" { exponent = exponent.dropFirst() }
    return !exponent.isEmpty && exponent.allSatisfy { $0.isASCII && $0.isNumber }
  }

  // === Volumes and mounts ===

  /// The volumes the sidecar needs, in Dapr's order: the socket volume, then the identity token.
  func volumes(_ annotations: SidecarAnnotations) -> [JSONValue] {
    var volumes: [JSONValue] = []
    if annotations.nonEmpty("unix-domain-socket-path") != nil {
      volumes.append(["name": .string(PatchPlanner.socketVolume), "emptyDir": ["medium": "Memory"]])
    }
    if settings.identityToken {
      volumes.append([
        "name": .string(PatchPlanner.tokenVolume),
        "projected": [
          "defaultMode": 420,
          "sources": [
            [
              "serviceAccountToken": [
                "audience": .string(settings.sentryAudience), "expirationSeconds": 7200, "path": "token",
              ]
            ]
          ],
        ],
      ])
    }
    return volumes
  }

  func volumeMounts(_ annotations: SidecarAnnotations) -> [JSONValue] {
    var mounts: [JSONValue] = []
    if settings.identityToken {
      mounts.append([
        "name": .string(PatchPlanner.tokenVolume), "mountPath": .string(PatchPlanner.tokenMountPath),
        "readOnly": true,
      ])
    }
    if annotations.nonEmpty("unix-domain-socket-path") != nil {
      mounts.append(["name": .string(PatchPlanner.socketVolume), "mountPath": .string(PatchPlanner.socketMountPath)])
    }
    let podVolumes = Set((spec["volumes"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
    for (key, readOnly) in [("volume-mounts", true), ("volume-mounts-rw", false)] {
      for entry in (annotations.string(key) ?? "").split(separator: ",") {
        let parts = entry.split(separator: ":", maxSplits: 1).map { String($0).trimmingWhitespace }
        // Volumes the pod does not have are skipped, as in Dapr.
        guard parts.count == 2, podVolumes.contains(parts[0]) else { continue }
        mounts.append(["name": .string(parts[0]), "mountPath": .string(parts[1]), "readOnly": .bool(readOnly)])
      }
    }
    if let componentsSocketMount { mounts.append(componentsSocketMount) }
    return mounts
  }

  // === App containers ===

  /// `DAPR_HTTP_PORT`, `DAPR_GRPC_PORT` and `APP_PROTOCOL` for each app container (never overriding a variable it
  /// has), then the socket mounts; in container order.
  func appContainerOperations(containers: [JSONValue], annotations: SidecarAnnotations) -> [PatchOperation] {
    var annotations = annotations
    let grpc = grpcPort(&annotations)
    let components = PluggableComponentsPlan.names(annotations)
    var variables: [(String, String)] = [("DAPR_HTTP_PORT", "\(PatchPlanner.httpPort)"), ("DAPR_GRPC_PORT", "\(grpc)")]
    if let appProtocol = appProtocolEnv(annotations) { variables.append(("APP_PROTOCOL", appProtocol)) }
    let socketPath = annotations.nonEmpty("unix-domain-socket-path")
    var operations: [PatchOperation] = []
    for (index, container) in containers.enumerated() {
      guard let name = container["name"]?.stringValue, !components.contains(name) else { continue }
      let existing = container["env"]?.arrayValue
      let names = Set((existing ?? []).compactMap { $0["name"]?.stringValue })
      let added: [JSONValue] = variables.filter { !names.contains($0.0) }.map {
        ["name": .string($0.0), "value": .string($0.1)]
      }
      if existing == nil {
        if !added.isEmpty { operations.append(.add("/spec/containers/\(index)/env", .array(added))) }
      } else {
        operations += added.map { .add("/spec/containers/\(index)/env/-", $0) }
      }
    }
    if let socketPath {
      for (index, container) in containers.enumerated() {
        guard let name = container["name"]?.stringValue, !components.contains(name) else { continue }
        let mounts = container["volumeMounts"]?.arrayValue
        let clash = (mounts ?? []).contains {
          $0["name"]?.stringValue == PatchPlanner.socketVolume || $0["mountPath"]?.stringValue == socketPath
        }
        guard !clash else { continue }
        let mount: JSONValue = ["name": .string(PatchPlanner.socketVolume), "mountPath": .string(socketPath)]
        operations.append(
          mounts == nil
            ? .add("/spec/containers/\(index)/volumeMounts", [mount])
            : .add("/spec/containers/\(index)/volumeMounts/-", mount))
      }
    }
    return operations
  }
}
