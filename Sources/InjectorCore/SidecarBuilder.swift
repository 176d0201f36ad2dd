import Foundation
import KubernetesCore

/// Builds the `daprd` container, its volumes and the app containers' changes, with Dapr's flags, env, ports,
/// probes and security context (see `docs/injector.md`).
struct SidecarBuilder {
  let settings: InjectorSettings
  let trustAnchors: String
  let mTLSEnabled: Bool
  let appID: String
  let namespace: String
  let pod: JSONObject
  private(set) var warnings: [AnnotationWarning] = []
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

  func grpcPort(_ annotations: inout SidecarAnnotations) -> Int {
    annotations.int("grpc-port", default: 50001, range: .port)!
  }

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
    let internalGRPC = annotations.int("internal-grpc-port", default: 50002, range: .port)!
    let metricsPort = annotations.int("metrics-port", default: 9090, range: .port)!
    let debugEnabled = annotations.bool("enable-debug")
    let debugPort = annotations.int("debug-port", default: 40000, range: .port)!
    let flags = self.flags(&annotations, grpc: grpc, internalGRPC: internalGRPC, metricsPort: metricsPort)

    var container: JSONObject = [
      "name": .string(PatchPlanner.sidecarName),
      "image": .string(
        annotations.nonEmpty("sidecar-image", insteadUsing: "the injector's image, \(settings.sidecarImage)")
          ?? settings.sidecarImage),
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
    let mounts = volumeMounts(&annotations)
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
      annotations.nonEmpty("sidecar-listen-addresses", insteadUsing: "the default, [::1],127.0.0.1")
        ?? "[::1],127.0.0.1",
      "--dapr-public-port", "\(PatchPlanner.publicPort)", DaprdFlag.appID.rawValue, appID, "--app-protocol",
      annotations.nonEmpty("app-protocol", insteadUsing: "the default, http") ?? "http", "--log-level",
      annotations.nonEmpty("log-level", insteadUsing: "the default, info") ?? "info",
      "--dapr-graceful-shutdown-seconds", "\(annotations.int("graceful-shutdown-seconds", default: -1)!)",
      DaprdFlag.mode.rawValue, "kubernetes", DaprdFlag.controlPlaneAddress.rawValue, settings.operatorAddress,
      DaprdFlag.sentryAddress.rawValue, settings.sentryAddress,
    ]
    func value(_ flag: String, _ key: String) {
      if let value = annotations.nonEmpty(key) { flags += [flag, value] }
    }
    /// A flag whose empty value daprd refuses: left out, with a warning.
    func durationValue(_ flag: String, _ key: String) {
      if let value = annotations.nonEmpty(key, insteadUsing: "daprd's default (the flag is left out)") {
        flags += [flag, value]
      }
    }
    if let appPort = annotations.int("app-port", range: .appPort), appPort > 0 {
      flags += ["--app-port", "\(appPort)"]
    }
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
        flags += [DaprdFlag.placementHostAddress.rawValue, settings.actorsServiceAddress]
      } else {
        flags += [DaprdFlag.actorsService.rawValue, "\(settings.actorsServiceName):\(settings.actorsServiceAddress)"]
      }
    }
    if let reminders = settings.remindersServiceAddress {
      flags += [DaprdFlag.remindersService.rawValue, "\(settings.remindersServiceName):\(reminders)"]
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
        "--app-health-probe-interval",
        "\(annotations.int("app-health-probe-interval", default: 5, range: .nonNegative32)!)",
        "--app-health-probe-timeout",
        "\(annotations.int("app-health-probe-timeout", default: 500, range: .nonNegative32)!)",
        "--app-health-threshold", "\(annotations.int("app-health-threshold", default: 3, range: .nonNegative32)!)",
      ]
    }
    durationValue("--app-binding-options-timeout", "app-binding-options-timeout")
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
    durationValue("--dapr-block-shutdown-duration", "block-shutdown-duration")
    durationValue(DaprdFlag.actorsDisseminateTimeout.rawValue, "actors-disseminate-timeout")
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

  mutating func env(_ annotations: inout SidecarAnnotations) -> [JSONValue] {
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
    for (name, value) in environmentEntries(&annotations) {
      env.append(["name": .string(name), "value": .string(value)])
      keys.append(name)
    }
    for (name, secret, key) in secretEntries(&annotations) {
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

  /// `NAME=value` entries of `dapr.io/<key>` (see `splitEnv`): each entry's surrounding spaces trimmed, the name
  /// before its first `=` and the value after it as written (Dapr: `" A = 1 "` is `A ` = ` 1`). A name with spaces is
  /// trimmed (Dapr keeps them, and the API server refuses the pod); an entry without `=` or a usable name is left
  /// out. Each with a warning that names the variable but never shows a value.
  static func assignments(_ key: String, _ annotations: inout SidecarAnnotations) -> [(name: String, value: String)] {
    var entries: [(String, String)] = []
    for (index, entry) in splitEnv(annotations.string(key) ?? "").enumerated() {
      let trimmed = entry.trimmingWhitespace
      guard !trimmed.isEmpty else { continue }
      guard let equals = trimmed.firstIndex(of: "=") else {
        annotations.warn(.malformed, "\(AnnotationWarning.name(key)): entry \(index + 1) has no '='; it is left out")
        continue
      }
      guard let name = variableName(String(trimmed[..<equals]), key: key, entry: index + 1, &annotations)
      else { continue }
      entries.append((name, String(trimmed[trimmed.index(after: equals)...])))
    }
    return entries
  }

  /// `dapr.io/env`.
  func environmentEntries(_ annotations: inout SidecarAnnotations) -> [(name: String, value: String)] {
    Self.assignments("env", &annotations)
  }

  /// `dapr.io/env-from-secret`: `NAME=secret` (key = secret) or `NAME=secret:key`, the reference's parts trimmed,
  /// as in Dapr. A reference with more than one `:`, or without a secret or key, is left out with a warning and,
  /// unlike Dapr, not listed in `DAPR_ENV_KEYS` either.
  func secretEntries(_ annotations: inout SidecarAnnotations) -> [(String, String, String)] {
    let annotation = AnnotationWarning.name("env-from-secret")
    var entries: [(String, String, String)] = []
    for (name, value) in Self.assignments("env-from-secret", &annotations) {
      let reference = value.trimmingWhitespace
      let parts = reference.split(separator: ":", omittingEmptySubsequences: false).map {
        String($0).trimmingWhitespace
      }
      guard parts.count <= 2 else {
        annotations.warn(
          .malformed,
          "\(annotation): \(name)=\(AnnotationWarning.quoted(reference)) is not <secret> or <secret>:<key>; "
            + "\(name) is left out")
        continue
      }
      let (secret, secretKey) = parts.count == 2 ? (parts[0], parts[1]) : (parts[0], parts[0])
      guard !secret.isEmpty, !secretKey.isEmpty else {
        annotations.warn(
          .malformed,
          "\(annotation): \(name)=\(AnnotationWarning.quoted(reference)) has no secret "
            + (secret.isEmpty ? "name" : "key") + "; \(name) is left out")
        continue
      }
      entries.append((name, secret, secretKey))
    }
    return entries
  }

  /// A variable's name as the API server takes it (letters, digits, `_`, `-`, `.`, not starting with a digit),
  /// surrounding spaces trimmed with a warning; nil, with a warning, when there is none.
  static func variableName(
    _ raw: String, key: String, entry: Int, _ annotations: inout SidecarAnnotations
  ) -> String? {
    let annotation = AnnotationWarning.name(key)
    let name = raw.trimmingWhitespace
    guard !name.isEmpty else {
      annotations.warn(.malformed, "\(annotation): entry \(entry) has no variable name; it is left out")
      return nil
    }
    let valid =
      name.utf8.allSatisfy {
        isNameByte($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".")
          || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z"))
      } && !(name.utf8.first! >= UInt8(ascii: "0") && name.utf8.first! <= UInt8(ascii: "9"))
    guard valid else {
      annotations.warn(
        .malformed,
        "\(annotation): \(AnnotationWarning.quoted(name)) is not a valid variable name; it is left out")
      return nil
    }
    if name != raw {
      annotations.warn(
        .malformed, "\(annotation): the name \(AnnotationWarning.quoted(raw)) has spaces; using \(name)")
    }
    return name
  }

  /// `K=V,...` split only at a comma followed by `NAME=` (upper-case), so values may hold `,` and `=`; the entries
  /// as written.
  static func splitEnv(_ text: String) -> [String] {
    let bytes = Array(text.utf8)
    guard !bytes.isEmpty else { return [] }
    var entries: [String] = []
    var start = 0
    for index in bytes.indices where bytes[index] == UInt8(ascii: ",") && startsAssignment(bytes[(index + 1)...]) {
      entries.append(String(decoding: bytes[start..<index], as: UTF8.self))
      start = index + 1
    }
    entries.append(String(decoding: bytes[start...], as: UTF8.self))
    return entries
  }

  static func isNameByte(_ byte: UInt8) -> Bool {
    (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
      || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
      || byte == UInt8(ascii: "_")
  }

  /// Whether `text` begins (after spaces) with an environment variable name (upper-case letters, digits and `_`,
  /// not starting with a digit) followed by `=`. Lower-case words are taken as part of the previous value, so
  /// `OTEL_RESOURCE_ATTRIBUTES=x=1,y=2` stays one variable.
  static func startsAssignment(_ text: ArraySlice<UInt8>) -> Bool {
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
    func value(_ suffix: String, _ fallback: Int) -> JSONValue {
      .int(Int64(annotations.int("\(prefix)-\(suffix)", default: fallback, range: .nonNegative32)!))
    }
    probe["initialDelaySeconds"] = value("delay-seconds", defaults.0)
    probe["timeoutSeconds"] = value("timeout-seconds", defaults.1)
    probe["periodSeconds"] = value("period-seconds", defaults.2)
    probe["failureThreshold"] = value("threshold", defaults.3)
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
          AnnotationWarning(
            .badQuantity,
            "\(AnnotationWarning.name(key)): \(AnnotationWarning.quoted(value)) is not a Kubernetes quantity; "
              + "the sidecar gets no requests or limits"))
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

  /// daprd's mounts in Dapr's order: the annotation's read-only then read-write mounts, the unix socket, the
  /// identity token, then the components' socket folder.
  mutating func volumeMounts(_ annotations: inout SidecarAnnotations) -> [JSONValue] {
    var mounts: [JSONValue] = []
    var paths: Set<String> = [PatchPlanner.tokenMountPath, PatchPlanner.socketMountPath]
    if let componentsPath = componentsSocketMount?["mountPath"]?.stringValue { paths.insert(componentsPath) }
    let podVolumes = Set((spec["volumes"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
    for (key, readOnly) in [("volume-mounts", true), ("volume-mounts-rw", false)] {
      let annotation = AnnotationWarning.name(key)
      for entry in (annotations.string(key) ?? "").split(separator: ",", omittingEmptySubsequences: false) {
        // As Dapr: the entry's outer spaces trimmed, exactly one ':', the parts as written.
        let trimmed = String(entry).trimmingWhitespace
        guard !trimmed.isEmpty else { continue }
        let parts = trimmed.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, !parts[1].isEmpty else {
          annotations.warn(
            .malformed, "\(annotation): \(AnnotationWarning.quoted(trimmed)) is not <volume>:<path>; it is skipped")
          continue
        }
        guard podVolumes.contains(parts[0]) else {
          annotations.warn(
            .malformed,
            "\(annotation): the pod has no volume named \(AnnotationWarning.quoted(parts[0])); it is skipped")
          continue
        }
        // A second mount at one path is refused by the API server with the whole pod.
        guard paths.insert(parts[1]).inserted else {
          annotations.warn(
            .malformed,
            "\(annotation): daprd already has a mount at \(AnnotationWarning.quoted(parts[1])); it is skipped")
          continue
        }
        mounts.append(["name": .string(parts[0]), "mountPath": .string(parts[1]), "readOnly": .bool(readOnly)])
      }
    }
    if annotations.nonEmpty("unix-domain-socket-path") != nil {
      mounts.append(["name": .string(PatchPlanner.socketVolume), "mountPath": .string(PatchPlanner.socketMountPath)])
    }
    if settings.identityToken {
      mounts.append([
        "name": .string(PatchPlanner.tokenVolume), "mountPath": .string(PatchPlanner.tokenMountPath),
        "readOnly": true,
      ])
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
