import ControlPlaneTestSupport
import Foundation
import Injector
import Kubernetes
import Testing

/// The pod as the API server stores it after the webhook's patch (applied by kubectl's own JSON Patch code), with
/// the warnings the review carried.
struct PatchedPod {
  let pod: JSONValue
  let warnings: [AnnotationWarning]

  init(
    _ annotations: [String: String], settings: InjectorSettings = InjectorSettings(),
    volumes: [String] = [], containers: [JSONValue] = [["name": "app", "image": "shop/app:1"]]
  ) throws {
    var spec: JSONObject = ["containers": .array(containers)]
    if !volumes.isEmpty { spec["volumes"] = .array(volumes.map { ["name": .string($0), "emptyDir": [:]] }) }
    let original = makePod(annotations: enabled.merging(annotations) { $1 }, spec: spec)
    let plan = try PatchPlanner(settings: settings, trustAnchors: "pem").plan(pod: original, namespace: "shop")
    guard case .inject(_, let operations, let warnings) = plan else {
      throw UnexpectedPlan(description: "expected an injection, got \(plan)")
    }
    pod = try Kubectl.patchLocally(original, operations)
    self.warnings = warnings
  }

  var daprd: JSONValue {
    (pod["spec"]?["containers"]?.arrayValue ?? []).first { $0["name"] == "daprd" } ?? .null
  }

  var args: [String] { daprd["args"]?.arrayValue?.compactMap(\.stringValue) ?? [] }

  /// The value after `flag`, nil when the flag is absent.
  func flag(_ flag: String) -> String? {
    guard let index = args.firstIndex(of: flag) else { return nil }
    return index + 1 < args.count ? args[index + 1] : ""
  }

  /// daprd's mounts as `name:path:ro|rw`.
  var mounts: [String] {
    (daprd["volumeMounts"]?.arrayValue ?? []).map {
      "\($0["name"]?.stringValue ?? ""):\($0["mountPath"]?.stringValue ?? ""):"
        + ($0["readOnly"]?.boolValue == true ? "ro" : "rw")
    }
  }

  /// daprd's variables after the five every sidecar gets, as `NAME=value` or `NAME<-secret/key`.
  var addedEnv: [String] {
    (daprd["env"]?.arrayValue ?? []).dropFirst(5).map { variable in
      let name = variable["name"]?.stringValue ?? ""
      if let reference = variable["valueFrom"]?["secretKeyRef"] {
        return "\(name)<-\(reference["name"]?.stringValue ?? "")/\(reference["key"]?.stringValue ?? "")"
      }
      return "\(name)=\(variable["value"]?.stringValue ?? "")"
    }
  }

  var reasons: [AnnotationWarning.Reason] { warnings.map(\.reason) }
}

func settings(_ environment: [String: String]) throws -> InjectorSettings {
  var warnings: [String] = []
  return try InjectorSettings(environment: environment, warnings: &warnings)
}

/// The classes of difference found by comparing this injector with Dapr 1.18's pod by pod: where Dapr's pod is
/// valid and works, the same pod; where it is not, a pod that is, and a warning.
@Suite struct DaprParityTests {
  // === 1. Actor and reminder service addresses ===

  @Test(
    "The actors and reminders services are <service>:<port> expanded in the control plane's namespace, and a name with a dot is kept",
    arguments: [
      ([:], [:], "--placement-host-address", "dapr-placement-server.dapr-system.svc.cluster.local:50005", nil),
      (
        ["ACTORS_SERVICE_NAME": "actors", "ACTORS_SERVICE_ADDRESS": "actors-svc:50005"], [:], "--actors-service",
        "actors:actors-svc.dapr-system.svc.cluster.local:50005", nil
      ),
      (
        // Dapr would write actors.dapr-system.svc.dapr-system.svc.cluster.local:50005, which resolves nowhere.
        ["ACTORS_SERVICE_NAME": "actors", "ACTORS_SERVICE_ADDRESS": "actors.dapr-system.svc:50005"], [:],
        "--actors-service", "actors:actors.dapr-system.svc:50005", nil
      ),
      (
        ["ACTORS_SERVICE_NAME": "placement", "ACTORS_SERVICE_ADDRESS": "my-placement:6050", "NAMESPACE": "ops"], [:],
        "--placement-host-address", "my-placement.ops.svc.cluster.local:6050", nil
      ),
      (
        [
          "REMINDERS_SERVICE_NAME": "reminders", "REMINDERS_SERVICE_ADDRESS": "reminders-svc:50006",
          "KUBE_CLUSTER_DOMAIN": "corp.local",
        ], [:], "--placement-host-address", "dapr-placement-server.dapr-system.svc.corp.local:50005",
        "reminders:reminders-svc.dapr-system.svc.corp.local:50006"
      ),
      // "default" means daprd's built-in reminders (Dapr writes default:.dapr-system.svc.cluster.local:0).
      (["REMINDERS_SERVICE_NAME": "default"], [:], "--placement-host-address", nil, nil),
      (
        ["ACTORS_SERVICE_NAME": "actors", "ACTORS_SERVICE_ADDRESS": "actors-svc:50005"],
        ["dapr.io/placement-host-address": "placement.elsewhere:50005"], "--placement-host-address",
        "placement.elsewhere:50005", nil
      ),
    ] as [([String: String], [String: String], String, String?, String?)])
  func actorAndReminderServices(
    environment: [String: String], annotations: [String: String], flag: String, expected: String?,
    reminders: String?
  ) throws {
    let patched = try PatchedPod(annotations, settings: try settings(environment))
    if let expected { #expect(patched.flag(flag) == expected, "\(patched.args)") }
    #expect(patched.flag("--reminders-service") == reminders)
    let other = flag == "--actors-service" ? "--placement-host-address" : "--actors-service"
    #expect(patched.flag(other) == nil, "both \(flag) and \(other) in \(patched.args)")
    #expect(patched.warnings.isEmpty)
  }

  @Test(
    "An actors or reminders service address that is not <service>:<port> stops the injector, naming the variable",
    arguments: [
      (["ACTORS_SERVICE_NAME": "actors"], "ACTORS_SERVICE_ADDRESS is \"\""),
      (["ACTORS_SERVICE_NAME": "actors", "ACTORS_SERVICE_ADDRESS": "actors-svc"], "not <service>:<port>"),
      (["ACTORS_SERVICE_NAME": "actors", "ACTORS_SERVICE_ADDRESS": ":50005"], "not <service>:<port>"),
      (["ACTORS_SERVICE_NAME": "actors", "ACTORS_SERVICE_ADDRESS": "actors-svc:"], "the port must be 1 to 65535"),
      (["ACTORS_SERVICE_NAME": "actors", "ACTORS_SERVICE_ADDRESS": "actors-svc:0"], "the port must be 1 to 65535"),
      (["ACTORS_SERVICE_NAME": "actors", "ACTORS_SERVICE_ADDRESS": "actors-svc:http"], "the port must be"),
      (["REMINDERS_SERVICE_NAME": "reminders", "REMINDERS_SERVICE_ADDRESS": "r:99999"], "REMINDERS_SERVICE_ADDRESS"),
    ] as [([String: String], String)])
  func badServiceAddresses(environment: [String: String], message: String) {
    #expect {
      _ = try settings(environment)
    } throws: { "\($0)".contains(message) }
  }

  // === 2 and 3. daprd's volume mounts ===

  @Test(
    "Annotation mounts come first, read-only then read-write, then the unix socket and the token; entries that are not exactly volume:path are skipped with a warning",
    arguments: [
      (
        ["dapr.io/volume-mounts": "certs:/certs", "dapr.io/volume-mounts-rw": "data:/data"],
        ["certs:/certs:ro", "data:/data:rw", "dapr-identity-token:/var/run/secrets/dapr.io/sentrytoken:ro"], []
      ),
      (
        [
          "dapr.io/volume-mounts": "certs:/certs", "dapr.io/volume-mounts-rw": "data:/data",
          "dapr.io/unix-domain-socket-path": "/tmp/sockets",
        ],
        [
          "certs:/certs:ro", "data:/data:rw", "dapr-unix-domain-socket:/var/run/dapr-sockets:rw",
          "dapr-identity-token:/var/run/secrets/dapr.io/sentrytoken:ro",
        ], []
      ),
      // Dapr skips both: three parts, and a name with a trailing space that no volume has.
      (
        ["dapr.io/volume-mounts": "certs:/a:ro"], ["dapr-identity-token:/var/run/secrets/dapr.io/sentrytoken:ro"],
        [.malformed]
      ),
      (
        ["dapr.io/volume-mounts": " certs : /a "], ["dapr-identity-token:/var/run/secrets/dapr.io/sentrytoken:ro"],
        [.malformed]
      ),
      // Spaces around the whole entry are trimmed, as in Dapr; an empty entry is nothing.
      (
        ["dapr.io/volume-mounts": " certs:/a ,, data:/b"],
        ["certs:/a:ro", "data:/b:ro", "dapr-identity-token:/var/run/secrets/dapr.io/sentrytoken:ro"], []
      ),
      (
        ["dapr.io/volume-mounts": "missing:/x,certs:"],
        ["dapr-identity-token:/var/run/secrets/dapr.io/sentrytoken:ro"], [.malformed, .malformed]
      ),
      // A second mount at one path would have the API server refuse the pod.
      (
        ["dapr.io/volume-mounts": "certs:/a", "dapr.io/volume-mounts-rw": "data:/a"],
        ["certs:/a:ro", "dapr-identity-token:/var/run/secrets/dapr.io/sentrytoken:ro"], [.malformed]
      ),
      (
        ["dapr.io/volume-mounts": "certs:/var/run/secrets/dapr.io/sentrytoken"],
        ["dapr-identity-token:/var/run/secrets/dapr.io/sentrytoken:ro"], [.malformed]
      ),
    ] as [([String: String], [String], [AnnotationWarning.Reason])])
  func volumeMounts(annotations: [String: String], mounts: [String], reasons: [AnnotationWarning.Reason]) throws {
    let patched = try PatchedPod(annotations, volumes: ["certs", "data"])
    #expect(patched.mounts == mounts)
    #expect(patched.reasons == reasons, "\(patched.warnings)")
  }

  // === 4 and 5. Integers ===

  enum Field: Sendable, CustomStringConvertible {
    case flag(String)
    case probe(String, String)
    case port(String)

    func value(in patched: PatchedPod) -> String? {
      switch self {
      case .flag(let flag): patched.flag(flag)
      case .probe(let probe, let field): patched.daprd[probe]?[field]?.intValue.map { "\($0)" }
      case .port(let name):
        (patched.daprd["ports"]?.arrayValue ?? []).first { $0["name"]?.stringValue == name }?["containerPort"]?
          .intValue.map { "\($0)" }
      }
    }

    var description: String {
      switch self {
      case .flag(let flag): flag
      case .probe(let probe, let field): "\(probe).\(field)"
      case .port(let name): "port \(name)"
      }
    }
  }

  @Test(
    "An integer is used only as written and within what its field holds; otherwise the default, with a warning",
    arguments: [
      ("app-port", "8080", Field.flag("--app-port"), "8080", nil),
      ("app-port", "+8080", .flag("--app-port"), "8080", nil),
      ("app-port", "0", .flag("--app-port"), nil, nil),
      // Dapr: 4294967297 wraps to --app-port 1.
      ("app-port", "4294967297", .flag("--app-port"), nil, .outOfRange),
      ("app-port", "65536", .flag("--app-port"), nil, .outOfRange),
      ("app-port", "-1", .flag("--app-port"), nil, .outOfRange),
      ("app-port", " 80", .flag("--app-port"), nil, .notAnInteger),
      ("app-port", "80 ", .flag("--app-port"), nil, .notAnInteger),
      ("app-port", "8o", .flag("--app-port"), nil, .notAnInteger),
      ("app-port", "", .flag("--app-port"), nil, .empty),
      ("graceful-shutdown-seconds", "10", .flag("--dapr-graceful-shutdown-seconds"), "10", nil),
      ("graceful-shutdown-seconds", " 10", .flag("--dapr-graceful-shutdown-seconds"), "-1", .notAnInteger),
      (
        "graceful-shutdown-seconds", "99999999999999999999", .flag("--dapr-graceful-shutdown-seconds"), "-1",
        .outOfRange
      ),
      ("sidecar-readiness-probe-period-seconds", "7", .probe("readinessProbe", "periodSeconds"), "7", nil),
      // Dapr: 2147483648 wraps to a negative period, which the API server refuses.
      (
        "sidecar-readiness-probe-period-seconds", "2147483648", .probe("readinessProbe", "periodSeconds"), "1",
        .outOfRange
      ),
      ("sidecar-liveness-probe-timeout-seconds", "-3", .probe("livenessProbe", "timeoutSeconds"), "3", .outOfRange),
      (
        "sidecar-liveness-probe-delay-seconds", " 7", .probe("livenessProbe", "initialDelaySeconds"), "180",
        .notAnInteger
      ),
      ("sidecar-liveness-probe-threshold", "1.5", .probe("livenessProbe", "failureThreshold"), "5", .notAnInteger),
      ("grpc-port", "0", .port("dapr-grpc"), "50001", .outOfRange),
      ("metrics-port", "65536", .port("dapr-metrics"), "9090", .outOfRange),
      ("internal-grpc-port", "50010", .port("dapr-internal"), "50010", nil),
      ("app-max-concurrency", "-1", .flag("--app-max-concurrency"), "-1", nil),
      ("http-max-request-size", "4 ", .flag("--dapr-http-max-request-size"), nil, .notAnInteger),
    ] as [(String, String, Field, String?, AnnotationWarning.Reason?)])
  func integers(
    key: String, value: String, field: Field, expected: String?, reason: AnnotationWarning.Reason?
  )
    throws
  {
    let patched = try PatchedPod(["dapr.io/\(key)": value])
    #expect(field.value(in: patched) == expected, "\(field)")
    #expect(patched.reasons == (reason.map { [$0] } ?? []), "\(patched.warnings)")
    if let warning = patched.warnings.first {
      #expect(warning.message.hasPrefix("dapr.io/\(key)"), "\(warning)")
    }
  }

  @Test func theAppHealthSettingsAreIntegersLikeTheRest() throws {
    let patched = try PatchedPod([
      "dapr.io/enable-app-health-check": "true", "dapr.io/app-health-probe-interval": "2147483648",
      "dapr.io/app-health-threshold": " 2",
    ])
    #expect(patched.flag("--app-health-probe-interval") == "5")
    #expect(patched.flag("--app-health-threshold") == "3")
    #expect(patched.reasons == [.outOfRange, .notAnInteger])
  }

  // === 6. env and env-from-secret ===

  @Test(
    "Variables follow Dapr where its pod is valid and are left out with a warning where it is not",
    arguments: [
      // Dapr: name "A " (refused by the API server) and value " 1"; the value is kept as written.
      (" A = 1 ", "", ["A= 1", "DAPR_ENV_KEYS=A"], [AnnotationWarning.Reason.malformed]),
      // Dapr: a variable with an empty name, refused by the API server.
      ("=v", "", [], [.malformed]),
      (
        "A=1,OTEL_RESOURCE_ATTRIBUTES=x=1,y=2,B=3", "",
        [
          "A=1", "OTEL_RESOURCE_ATTRIBUTES=x=1,y=2", "B=3", "DAPR_ENV_KEYS=A OTEL_RESOURCE_ATTRIBUTES B",
        ], []
      ),
      ("NOVALUE", "", [], [.malformed]),
      ("1A=x", "", [], [.malformed]),
      ("A=", "", ["A=", "DAPR_ENV_KEYS=A"], []),
      // Dapr drops the variable but still lists K in DAPR_ENV_KEYS.
      ("", "K=s:k:x", [], [.malformed]),
      // Dapr: key k and no secret name, refused by the API server.
      ("", "K=:k", [], [.malformed]),
      ("", "K=s:", [], [.malformed]),
      ("", "K=", [], [.malformed]),
      ("", "K= s : k ", ["K<-s/k", "DAPR_ENV_KEYS=K"], []),
      ("", "K=s", ["K<-s/s", "DAPR_ENV_KEYS=K"], []),
      ("A=1", "K=s:k:x,L=t:u", ["A=1", "L<-t/u", "DAPR_ENV_KEYS=A L"], [.malformed]),
    ] as [(String, String, [String], [AnnotationWarning.Reason])])
  func environment(
    env: String, fromSecret: String, expected: [String], reasons: [AnnotationWarning.Reason]
  )
    throws
  {
    var annotations: [String: String] = [:]
    if !env.isEmpty { annotations["dapr.io/env"] = env }
    if !fromSecret.isEmpty { annotations["dapr.io/env-from-secret"] = fromSecret }
    let patched = try PatchedPod(annotations)
    #expect(patched.addedEnv == expected)
    #expect(patched.reasons == reasons, "\(patched.warnings)")
  }

  @Test func envWarningsNameTheVariableButNeverShowItsValue() throws {
    for env in [" PASSWORD = hunter2 ", "=s3cret", "PASSWORD hunter2", "0PASSWORD=s3cret"] {
      let patched = try PatchedPod(["dapr.io/env": env])
      #expect(patched.warnings.count == 1)
      for warning in patched.warnings {
        #expect(!warning.message.contains("hunter2") && !warning.message.contains("s3cret"), "\(warning)")
      }
    }
  }

  // === 7. Present but empty ===

  @Test(
    "An empty value Dapr would pass on keeps the default, or leaves the flag out, with a warning",
    arguments: [
      ("log-level", Field.flag("--log-level"), "info"),
      ("app-protocol", .flag("--app-protocol"), "http"),
      ("sidecar-listen-addresses", .flag("--dapr-listen-addresses"), "[::1],127.0.0.1"),
      ("block-shutdown-duration", .flag("--dapr-block-shutdown-duration"), nil),
      ("actors-disseminate-timeout", .flag("--actors-disseminate-timeout"), nil),
      ("app-binding-options-timeout", .flag("--app-binding-options-timeout"), nil),
    ] as [(String, Field, String?)])
  func emptyValues(key: String, field: Field, expected: String?) throws {
    let patched = try PatchedPod(["dapr.io/\(key)": ""])
    #expect(field.value(in: patched) == expected)
    #expect(patched.reasons == [.empty])
    #expect(patched.warnings.first?.message.hasPrefix("dapr.io/\(key) is empty") == true)
  }

  @Test func anEmptySidecarImageKeepsTheInjectorsImage() throws {
    var injector = InjectorSettings()
    injector.sidecarImage = "daprio/daprd:1.18.0"
    let patched = try PatchedPod(["dapr.io/sidecar-image": ""], settings: injector)
    #expect(patched.daprd["image"]?.stringValue == "daprio/daprd:1.18.0")
    #expect(patched.reasons == [.empty])
  }

  // === 8. Keys and booleans ===

  @Test(
    "A key within two edits of a Dapr annotation is named with the likely one; other keys and good booleans say nothing",
    arguments: [
      (["dapr.io/app-prot": "8080"], [AnnotationWarning.Reason.unknownAnnotation], "dapr.io/app-port"),
      (["dapr.io/log_level": "debug"], [.unknownAnnotation], "dapr.io/log-level"),
      (["dapr.io/sidecar-cpu-limits": "1"], [.unknownAnnotation], "dapr.io/sidecar-cpu-limit"),
      (["dapr.io/owner": "team-a", "dapr.io/sidecar-svc-annotations": "{}"], [], nil),
      (["dapr.io/enable-profiling": "ture"], [.malformed], "read as false"),
      (["dapr.io/enable-metrics": ""], [.empty], "read as false"),
      (["dapr.io/enable-metrics": "No", "dapr.io/log-as-json": "TRUE", "dapr.io/app-ssl": " on "], [], nil),
    ] as [([String: String], [AnnotationWarning.Reason], String?)])
  func keysAndBooleans(
    annotations: [String: String], reasons: [AnnotationWarning.Reason], mentions: String?
  )
    throws
  {
    let patched = try PatchedPod(annotations)
    #expect(patched.reasons == reasons, "\(patched.warnings)")
    if let mentions { #expect(patched.warnings.first?.message.contains(mentions) == true, "\(patched.warnings)") }
  }

  @Test func aWarningShowsAtMostFortyEightCharactersOfAValueWithControlCharactersEscaped() throws {
    let patched = try PatchedPod(["dapr.io/app-port": "\u{1b}[31m" + String(repeating: "9", count: 100)])
    let message = try #require(patched.warnings.first?.message)
    #expect(!message.unicodeScalars.contains { $0.value < 0x20 })
    #expect(message.contains("\\u{1b}") && message.contains("…"))
    #expect(message.count < 160)
  }

  // === 9. Deliberate differences ===

  @Test func theDeliberateDifferencesStay() throws {
    // enable-metrics false turns daprd's metrics off (Dapr emits nothing, so they stay on).
    let metricsOff = try PatchedPod(["dapr.io/enable-metrics": "false"])
    #expect(metricsOff.args.contains("--enable-metrics=false"))
    // A quoted placement address is unquoted.
    #expect(
      try PatchedPod(["dapr.io/placement-host-address": "\"p.ops.svc:50005\""]).flag("--placement-host-address")
        == "p.ops.svc:50005")
    // A lower-case name after a comma stays inside the value.
    #expect(try PatchedPod(["dapr.io/env": "OPTS=a=1,b=2"]).addedEnv == ["OPTS=a=1,b=2", "DAPR_ENV_KEYS=OPTS"])
  }
}

/// The warnings as the API server receives them: the AdmissionReview's `response.warnings`.
@Suite struct AdmissionWarningsTests {
  static func review(
    _ annotations: [String: String], user: String = "system:serviceaccount:kube-system:replicaset-controller"
  )
    throws -> Data
  {
    try JSONCoding.encode(
      [
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": [
          "uid": "u-1", "namespace": "shop", "kind": ["group": "", "version": "v1", "kind": "Pod"],
          "userInfo": ["username": .string(user)], "object": makePod(annotations: annotations),
        ],
      ] as JSONValue)
  }

  static let handler = AdmissionReviewHandler(
    planner: PatchPlanner(settings: InjectorSettings(), trustAnchors: ""),
    allowList: try! ServiceAccountAllowList())

  @Test func theReviewCarriesEveryWarningExactlyAndStillThePatch() throws {
    let answer = Self.handler.handle(
      body: try Self.review([
        "dapr.io/enabled": "true", "dapr.io/app-id": "shop", "dapr.io/app-port": " 8080", "dapr.io/log-level": "",
        "dapr.io/sidecar-readiness-probe-period-seconds": "2147483648", "dapr.io/app-protcol": "grpc",
        "dapr.io/volume-mounts": "certs:/mnt/certs:ro", "dapr.io/sidecar-cpu-limit": "lots",
      ]), contentType: "application/json")
    let response = try #require(try JSONCoding.parse(answer.body)["response"])
    #expect(response["allowed"] == true && response["patchType"] == "JSONPatch")
    #expect(
      response["warnings"] == [
        "dapr.io/app-protcol is not a Dapr annotation and is ignored; did you mean dapr.io/app-protocol?",
        "dapr.io/log-level is empty; using the default, info",
        "dapr.io/app-port: \" 8080\" is not an integer (remove the spaces); leaving it out",
        "dapr.io/sidecar-readiness-probe-period-seconds: 2147483648 is out of range (0 to 2147483647); using the default, 1",
        "dapr.io/volume-mounts: \"certs:/mnt/certs:ro\" is not <volume>:<path>; it is skipped",
        "dapr.io/sidecar-cpu-limit: \"lots\" is not a Kubernetes quantity; the sidecar gets no requests or limits",
      ])
    #expect(
      answer.warnings.map(\.reason) == [
        .unknownAnnotation, .empty, .notAnInteger, .outOfRange, .malformed, .badQuantity,
      ])
  }

  @Test func aCleanPodsReviewHasNoWarningsMember() throws {
    let answer = Self.handler.handle(
      body: try Self.review(["dapr.io/enabled": "true", "dapr.io/app-id": "shop"]), contentType: "application/json")
    #expect(try JSONCoding.parse(answer.body)["response"]?["warnings"] == nil)
  }

  @Test(
    "A pod that gets no sidecar is warned only when it seems to have wanted one",
    arguments: [
      (["dapr.io/enabled": "yes"], ["dapr.io/enabled: \"yes\" is not \"true\"; the pod gets no Dapr sidecar"]),
      (
        ["dapr.io/enable": "true"],
        ["dapr.io/enable is not a Dapr annotation; did you mean dapr.io/enabled? The pod gets no Dapr sidecar"]
      ),
      (["dapr.io/enabled": "false"], []),
      (["dapr.io/app-id": "shop"], []),
      (["team": "a"], []),
    ] as [([String: String], [String])])
  func notEnabled(annotations: [String: String], warnings: [String]) throws {
    let answer = Self.handler.handle(body: try Self.review(annotations), contentType: "application/json")
    let response = try #require(try JSONCoding.parse(answer.body)["response"])
    #expect(response["patch"] == nil)
    #expect(response["warnings"]?.arrayValue?.compactMap(\.stringValue) ?? [] == warnings)
  }
}
