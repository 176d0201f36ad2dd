import Foundation
import Injector
import Kubernetes
import Testing

/// A pod with `annotations`, one container `app` (env CIAO) unless `spec` says otherwise.
func makePod(
  name: String = "myapp-7d9f", annotations: [String: String], labels: [String: String]? = ["app": "myapp"],
  spec: JSONObject? = nil
) -> JSONValue {
  var metadata: JSONObject = ["name": .string(name), "namespace": "shop"]
  metadata["annotations"] = annotations.jsonValue
  if let labels { metadata["labels"] = labels.jsonValue }
  let defaultSpec: JSONObject = [
    "containers": [["name": "app", "image": "shop/app:1", "env": [["name": "CIAO", "value": "1"]]]]
  ]
  return ["apiVersion": "v1", "kind": "Pod", "metadata": .object(metadata), "spec": .object(spec ?? defaultSpec)]
}

let enabled = ["dapr.io/enabled": "true", "dapr.io/app-id": "myapp"]

func planned(
  _ pod: JSONValue, settings: InjectorSettings = InjectorSettings(), mTLS: Bool = true
) throws -> (operations: [PatchOperation], warnings: [AnnotationWarning]) {
  let plan = try PatchPlanner(settings: settings, trustAnchors: "-----BEGIN CERTIFICATE-----\n...", mTLSEnabled: mTLS)
    .plan(pod: pod, namespace: "shop")
  guard case .inject(_, let operations, let warnings) = plan else {
    throw UnexpectedPlan(description: "expected an injection, got \(plan)")
  }
  return (operations, warnings)
}

/// The daprd container in a plan.
func sidecar(_ operations: [PatchOperation]) throws -> JSONObject {
  let op = try #require(operations.first { $0.path == "/spec/containers/-" || $0.path == "/spec/initContainers/-" })
  return try #require(op.value.objectValue)
}

func args(_ operations: [PatchOperation]) throws -> [String] {
  try sidecar(operations)["args"]?.arrayValue?.compactMap(\.stringValue) ?? []
}

struct UnexpectedPlan: Error, CustomStringConvertible {
  let description: String
}

@Suite struct PatchPlannerTests {
  static let fixedFlags = [
    "/daprd", "--dapr-http-port", "3500", "--dapr-grpc-port", "50001", "--dapr-internal-grpc-port", "50002",
    "--dapr-listen-addresses", "[::1],127.0.0.1", "--dapr-public-port", "3501", "--app-id", "myapp",
    "--app-protocol", "http", "--log-level", "info", "--dapr-graceful-shutdown-seconds", "-1", "--mode", "kubernetes",
    "--control-plane-address", "dapr-api.dapr-system.svc.cluster.local:443", "--sentry-address",
    "dapr-sentry.dapr-system.svc.cluster.local:443",
  ]

  @Test func aMinimalPodGetsDaprsContainerLabelsTokenVolumeAndAppEnvInDaprsOrder() throws {
    let (operations, warnings) = try planned(makePod(annotations: enabled.merging(["dapr.io/app-port": "5000"]) { $1 }))
    #expect(warnings.isEmpty)
    #expect(
      operations.map(\.path) == [
        "/spec/volumes", "/spec/containers/-", "/metadata/labels/dapr.io~1sidecar-injected",
        "/metadata/labels/dapr.io~1app-id", "/metadata/labels/dapr.io~1metrics-enabled", "/spec/containers/0/env/-",
        "/spec/containers/0/env/-", "/spec/containers/0/env/-",
      ])
    #expect(
      try args(operations)
        == Self.fixedFlags + [
          "--app-port", "5000", "--enable-metrics", "--metrics-port", "9090", "--placement-host-address",
          "dapr-placement-server.dapr-system.svc.cluster.local:50005", "--enable-mtls",
        ])
    let container = try sidecar(operations)
    #expect(container["command"] == nil)
    #expect(
      container["ports"]?.arrayValue?.map { "\($0["name"]!.stringValue!)=\($0["containerPort"]!.intValue!)" } == [
        "dapr-http=3500", "dapr-grpc=50001", "dapr-internal=50002", "dapr-metrics=9090",
      ])
    #expect(container["readinessProbe"]?["httpGet"]?["path"]?.stringValue == "/v1.0/healthz")
    #expect(container["readinessProbe"]?["initialDelaySeconds"]?.intValue == 1)
    #expect(container["livenessProbe"]?["tcpSocket"]?["port"]?.intValue == 3501)
    #expect(container["livenessProbe"]?["initialDelaySeconds"]?.intValue == 180)
    #expect(
      container["env"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == [
        "NAMESPACE", "DAPR_TRUST_ANCHORS", "POD_NAME", "DAPR_CONTROLPLANE_NAMESPACE", "DAPR_CONTROLPLANE_TRUST_DOMAIN",
      ])
    #expect(container["securityContext"]?["runAsNonRoot"] == true)
    #expect(container["securityContext"]?["allowPrivilegeEscalation"] == false)
    #expect(container["resources"] == nil)
    let volume = try #require(operations[0].value.arrayValue?.first)
    #expect(volume["name"]?.stringValue == "dapr-identity-token")
    let token = volume["projected"]?["sources"]?.arrayValue?.first?["serviceAccountToken"]
    #expect(token?["audience"]?.stringValue == "spiffe://cluster.local/ns/dapr-system/dapr-sentry")
    #expect(token?["expirationSeconds"]?.intValue == 7200)
    #expect(
      operations.suffix(3).map { $0.value["name"]!.stringValue! + "=" + $0.value["value"]!.stringValue! } == [
        "DAPR_HTTP_PORT=3500", "DAPR_GRPC_PORT=50001", "APP_PROTOCOL=http",
      ])
  }

  @Test func aPodWithoutLabelsOrContainersGetsTheInitialOperationsFirst() throws {
    let pod = makePod(annotations: enabled, labels: nil, spec: [:])
    let paths = try planned(pod).operations.map(\.path)
    #expect(Array(paths.prefix(3)) == ["/spec/containers", "/metadata/labels", "/spec/volumes"])
  }

  @Test func existingVolumesGetOneAddEachAndANameClashIsSkipped() throws {
    let clash = makePod(
      annotations: enabled.merging(["dapr.io/unix-domain-socket-path": "/tmp/dapr"]) { $1 },
      spec: [
        "containers": [["name": "app", "image": "a"]],
        "volumes": [["name": "dapr-unix-domain-socket", "emptyDir": [:]], ["name": "data", "emptyDir": [:]]],
      ])
    let operations = try planned(clash).operations
    let volumeOps = operations.filter { $0.path.hasPrefix("/spec/volumes") }
    #expect(volumeOps.map(\.path) == ["/spec/volumes/-"])
    #expect(volumeOps.first?.value["name"]?.stringValue == "dapr-identity-token")
  }

  @Test(
    "Pods that are not enabled or already have daprd are left alone",
    arguments: [
      makePod(annotations: ["dapr.io/app-id": "myapp"]),
      makePod(annotations: ["dapr.io/enabled": "false"]),
      makePod(annotations: ["dapr.io/enabled": "yes"]),
      makePod(annotations: enabled, spec: ["containers": [["name": "daprd", "image": "x"]]]),
      makePod(
        annotations: enabled,
        spec: ["containers": [["name": "app", "image": "a"]], "initContainers": [["name": "daprd", "image": "x"]]]),
    ])
  func skipped(pod: JSONValue) throws {
    let plan = try PatchPlanner(settings: .init(), trustAnchors: "").plan(pod: pod, namespace: "shop")
    guard case .skip = plan else {
      Issue.record("expected no injection, got \(plan)")
      return
    }
  }

  @Test(
    "Bad app ids are refused with a message naming the problem",
    arguments: [
      (makePod(annotations: ["dapr.io/enabled": "true", "dapr.io/app-id": "My_App"]), "invalid app id(input: My_App"),
      (makePod(name: "", annotations: ["dapr.io/enabled": "true"]), "value for the dapr.io/app-id annotation is empty"),
      (
        makePod(annotations: ["dapr.io/enabled": "true", "dapr.io/app-id": String(repeating: "a", count: 60)]),
        "invalid app id"
      ),
    ])
  func badAppIDs(pod: JSONValue, message: String) {
    #expect(throws: InjectionError.self) {
      try PatchPlanner(settings: .init(), trustAnchors: "").plan(pod: pod, namespace: "shop")
    }
    do {
      _ = try PatchPlanner(settings: .init(), trustAnchors: "").plan(pod: pod, namespace: "shop")
    } catch {
      #expect(error.message.contains(message), "\(error.message)")
    }
  }

  @Test func thePodNameIsTheAppIDWhenNoneIsAnnotated() throws {
    let operations = try planned(makePod(name: "worker", annotations: ["dapr.io/enabled": "TRUE"])).operations
    #expect(try args(operations).contains("worker"))
    #expect(operations.contains { $0.path == "/metadata/labels/dapr.io~1app-id" && $0.value == "worker" })
  }

  @Test(
    "Annotations become daprd's flags",
    arguments: [
      (["dapr.io/graceful-shutdown-seconds": "x"], ["--dapr-graceful-shutdown-seconds", "-1"], true),
      (["dapr.io/graceful-shutdown-seconds": "30"], ["--dapr-graceful-shutdown-seconds", "30"], false),
      (["dapr.io/enable-api-logging": "false"], ["--enable-api-logging=false"], false),
      (["dapr.io/scheduler-host-address": ""], ["--scheduler-host-address", ""], false),
      (["dapr.io/placement-host-address": "\"\""], ["--metrics-port", "9090", "--enable-mtls"], false),
      (["dapr.io/placement-host-address": "p:1"], ["--placement-host-address", "p:1"], false),
      (["dapr.io/config": "tracing"], ["--metrics-port", "9090", "--config", "tracing"], false),
      (["dapr.io/log-level": "debug", "dapr.io/log-as-json": "on"], ["--log-level", "debug"], false),
      (["dapr.io/enable-metrics": "false"], ["--enable-metrics=false"], false),
      (["dapr.io/app-max-concurrency": "10"], ["--app-max-concurrency", "10"], false),
      (
        ["dapr.io/app-max-concurrency": "ten"],
        ["dapr-placement-server.dapr-system.svc.cluster.local:50005", "--enable-mtls"], true
      ),
      (["dapr.io/grpc-port": "6000"], ["--dapr-grpc-port", "6000"], false),
      (
        ["dapr.io/enable-app-health-check": "true", "dapr.io/app-health-check-path": "/ready"],
        ["--enable-app-health-check", "--app-health-check-path", "/ready", "--app-health-probe-interval", "5"], false
      ),
      (["dapr.io/unix-domain-socket-path": "/tmp"], ["--unix-domain-socket", "/var/run/dapr-sockets"], false),
      (["dapr.io/disable-init-endpoints": "state"], ["--disable-init-endpoints", "state"], false),
      (["dapr.io/actors-disseminate-timeout": "10s"], ["--actors-disseminate-timeout", "10s"], false),
      (["dapr.io/app-protocol": "grpc", "dapr.io/app-ssl": "true"], ["--enable-mtls", "--app-ssl"], false),
    ])
  func flags(annotations: [String: String], expected: [String], warns: Bool) throws {
    let (operations, warnings) = try planned(makePod(annotations: enabled.merging(annotations) { $1 }))
    let flags = try args(operations)
    let found = (0...(flags.count - expected.count)).contains { Array(flags[$0..<$0 + expected.count]) == expected }
    #expect(found, "\(expected) not in \(flags)")
    #expect(warnings.isEmpty == !warns, "\(warnings)")
    if annotations["dapr.io/placement-host-address"] == "\"\"" {
      #expect(!flags.contains("--placement-host-address"))
    }
  }

  @Test(
    "The scheduler is named only when the chart says one exists, or the pod's annotation names one",
    arguments: [
      (false, [:], nil),
      (true, [:], "dapr-scheduler-server-a.dapr-system.svc.cluster.local:443"),
      (false, ["dapr.io/scheduler-host-address": "my-scheduler:50006"], "my-scheduler:50006"),
      (true, ["dapr.io/scheduler-host-address": "\"\""], ""),
    ] as [(Bool, [String: String], String?)])
  func schedulerAddress(schedulerEnabled: Bool, annotations: [String: String], expected: String?) throws {
    var settings = InjectorSettings()
    settings.schedulerEnabled = schedulerEnabled
    let flags = try args(
      planned(makePod(annotations: enabled.merging(annotations) { $1 }), settings: settings).operations)
    let index = flags.firstIndex(of: "--scheduler-host-address")
    #expect(index.map { flags[$0 + 1] } == expected, "\(flags)")
  }

  @Test(
    "The sidecar's seccomp profile comes from the annotation, else from SIDECAR_SECCOMP_PROFILE_TYPE, else none",
    arguments: [
      ([:], [:], nil),
      (["SIDECAR_SECCOMP_PROFILE_TYPE": "RuntimeDefault"], [:], "RuntimeDefault"),
      (["SIDECAR_SECCOMP_PROFILE_TYPE": " "], [:], nil),
      (
        ["SIDECAR_SECCOMP_PROFILE_TYPE": "RuntimeDefault"], ["dapr.io/sidecar-seccomp-profile-type": "Unconfined"],
        "Unconfined"
      ),
    ] as [([String: String], [String: String], String?)])
  func seccompProfile(environment: [String: String], annotations: [String: String], expected: String?) throws {
    var warnings: [String] = []
    let settings = try InjectorSettings(
      environment: environment, warnings: &warnings)
    let container = try sidecar(
      planned(makePod(annotations: enabled.merging(annotations) { $1 }), settings: settings).operations)
    #expect(container["securityContext"]?["seccompProfile"]?["type"]?.stringValue == expected)
  }

  @Test func debuggingWrapsDaprdInDelveAndAddsItsPort() throws {
    let operations = try planned(makePod(annotations: enabled.merging(["dapr.io/enable-debug": "true"]) { $1 }))
      .operations
    let flags = try args(operations)
    #expect(
      Array(flags.prefix(11)) == [
        "/dlv", "--listen", ":40000", "--accept-multiclient", "--headless=true", "--log", "--api-version=2", "exec",
        "/daprd", "--", "--dapr-http-port",
      ])
    #expect(try sidecar(operations)["ports"]?.arrayValue?.last?["name"]?.stringValue == "dapr-debug")
  }

  @Test func envValuesMayHoldCommasAndEqualsAndSecretsBecomeSecretKeyRefs() throws {
    let annotations = enabled.merging([
      "dapr.io/env": "A=1,OTEL_RESOURCE_ATTRIBUTES=x=1,y=2,B=3",
      "dapr.io/env-from-secret": "K=s:k,L=plain",
      "dapr.io/api-token-secret": "dapr-api", "dapr.io/app-token-secret": "app-api",
    ]) { $1 }
    let env = try #require(try sidecar(try planned(makePod(annotations: annotations)).operations)["env"]?.arrayValue)
    let names = env.compactMap { $0["name"]?.stringValue }
    #expect(
      Array(names.dropFirst(5)) == [
        "A", "OTEL_RESOURCE_ATTRIBUTES", "B", "K", "L", "DAPR_ENV_KEYS", "DAPR_API_TOKEN", "APP_API_TOKEN",
      ])
    #expect(env[6]["value"]?.stringValue == "x=1,y=2")
    #expect(env[8]["valueFrom"]?["secretKeyRef"] == ["name": "s", "key": "k"])
    #expect(env[9]["valueFrom"]?["secretKeyRef"] == ["name": "plain", "key": "plain"])
    #expect(env[10]["value"]?.stringValue == "A OTEL_RESOURCE_ATTRIBUTES B K L")
    #expect(env[11]["valueFrom"]?["secretKeyRef"] == ["name": "dapr-api", "key": "token"])
  }

  @Test func aUnixSocketPathAddsAMemoryVolumeAndMountsOnDaprdAndTheApp() throws {
    let operations = try planned(
      makePod(annotations: enabled.merging(["dapr.io/unix-domain-socket-path": "/tmp/dapr-sockets"]) { $1 })
    ).operations
    let volumes = try #require(operations.first { $0.path == "/spec/volumes" }?.value.arrayValue)
    #expect(volumes.map { $0["name"]!.stringValue! } == ["dapr-unix-domain-socket", "dapr-identity-token"])
    #expect(volumes[0]["emptyDir"]?["medium"]?.stringValue == "Memory")
    let mounts = try sidecar(operations)["volumeMounts"]?.arrayValue?.compactMap { $0["mountPath"]?.stringValue }
    #expect(mounts == ["/var/run/dapr-sockets", "/var/run/secrets/dapr.io/sentrytoken"])
    #expect(operations.last?.path == "/spec/containers/0/volumeMounts")
    #expect(operations.last?.value.arrayValue?.first?["mountPath"]?.stringValue == "/tmp/dapr-sockets")
  }

  @Test(
    "The native-sidecar annotation overrides the global setting both ways",
    arguments: [(nil, true, true), ("false", true, false), ("true", false, true), (nil, false, false)]
      as [(String?, Bool, Bool)])
  func nativeSidecars(annotation: String?, global: Bool, native: Bool) throws {
    var settings = InjectorSettings()
    settings.nativeSidecars = global
    var annotations = enabled
    annotations["dapr.io/enable-native-sidecar"] = annotation
    let operations = try planned(makePod(annotations: annotations), settings: settings).operations
    #expect(operations.contains { $0.path == "/spec/initContainers/-" } == native)
    if native {
      #expect(operations.contains { $0.path == "/spec/initContainers" })
      #expect(try sidecar(operations)["restartPolicy"]?.stringValue == "Always")
    }
  }

  @Test func settingsFromTheEnvironmentShapeTheSidecar() throws {
    var warnings: [String] = []
    let settings = try InjectorSettings(
      environment: [
        "ACTORS_ENABLED": "false", "SIDECAR_DROP_ALL_CAPABILITIES": "true", "SIDECAR_IMAGE": "daprio/daprd:1.18.0",
        "SIDECAR_IMAGE_PULL_POLICY": "Sometimes", "NAMESPACE": "ops", "KUBE_CLUSTER_DOMAIN": "corp.local",
        "IGNORE_ENTRYPOINT_TOLERATIONS":
          #"[{"key":"virtual-kubelet.io/provider","operator":"Exists","effect":"NoSchedule"}]"#,
      ], warnings: &warnings)
    #expect(warnings.isEmpty)
    let pod = makePod(
      annotations: enabled,
      spec: [
        "containers": [["name": "app", "image": "a"]],
        "tolerations": [["key": "virtual-kubelet.io/provider", "operator": "Exists", "effect": "NoSchedule"]],
      ])
    let operations = try planned(pod, settings: settings, mTLS: false).operations
    let container = try sidecar(operations)
    let flags = try args(operations)
    #expect(container["command"] == ["/daprd"])
    #expect(flags.first == "--dapr-http-port")
    #expect(!flags.contains("--placement-host-address") && !flags.contains("--enable-mtls"))
    #expect(flags.contains("dapr-sentry.ops.svc.corp.local:443"))
    #expect(container["image"]?.stringValue == "daprio/daprd:1.18.0")
    #expect(container["imagePullPolicy"]?.stringValue == "IfNotPresent")
    #expect(container["securityContext"]?["capabilities"] == ["drop": ["ALL"]])
  }

  @Test(
    "Resources come from the four annotations, and one bad quantity drops them all",
    arguments: [
      (["dapr.io/sidecar-cpu-request": "100m", "dapr.io/sidecar-memory-limit": "256Mi"], true),
      (["dapr.io/sidecar-cpu-request": "100m", "dapr.io/sidecar-memory-limit": "lots"], false),
      (["dapr.io/sidecar-cpu-limit": "1.5", "dapr.io/sidecar-memory-request": "1e3"], true),
    ])
  func resources(annotations: [String: String], kept: Bool) throws {
    let (operations, warnings) = try planned(makePod(annotations: enabled.merging(annotations) { $1 }))
    let resources = try sidecar(operations)["resources"]
    #expect((resources != nil) == kept)
    #expect(warnings.isEmpty == kept)
    if kept, annotations["dapr.io/sidecar-cpu-request"] != nil {
      #expect(resources?["requests"]?["cpu"]?.stringValue == "100m")
      #expect(resources?["limits"]?["memory"]?.stringValue == "256Mi")
    }
  }

  @Test func appContainersKeepTheirOwnVariablesAndPluggableComponentsAreLeftOut() throws {
    let pod = makePod(
      annotations: enabled.merging(["dapr.io/pluggable-components": "redis-component"]) { $1 },
      spec: [
        "containers": [
          ["name": "app", "image": "a", "env": [["name": "DAPR_HTTP_PORT", "value": "9999"]]],
          ["name": "redis-component", "image": "c"],
          ["name": "helper", "image": "h"],
        ]
      ])
    let operations = try planned(pod).operations
    let envPaths = operations.filter { $0.path.contains("/env") }.map(\.path)
    // The app variables for the app containers, then the socket folder for the component container.
    #expect(
      envPaths == [
        "/spec/containers/0/env/-", "/spec/containers/0/env/-", "/spec/containers/2/env", "/spec/containers/1/env",
      ])
    let env = try sidecar(operations)["env"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
    #expect(env?.last == "DAPR_COMPONENT_SOCKETS_FOLDER")
  }

  @Test func volumeMountAnnotationsMountOnlyVolumesThePodHasBeforeTheTokenAsDaprDoes() throws {
    let pod = makePod(
      annotations: enabled.merging([
        "dapr.io/volume-mounts": "certs:/certs,missing:/x", "dapr.io/volume-mounts-rw": "data:/data",
      ]) { $1 },
      spec: [
        "containers": [["name": "app", "image": "a"]],
        "volumes": [["name": "certs", "secret": ["secretName": "c"]], ["name": "data", "emptyDir": [:]]],
      ])
    let mounts = try sidecar(try planned(pod).operations)["volumeMounts"]?.arrayValue ?? []
    #expect(
      mounts.map { "\($0["name"]!.stringValue!):\($0["mountPath"]!.stringValue!):\($0["readOnly"]!.boolValue!)" } == [
        "certs:/certs:true", "data:/data:false", "dapr-identity-token:/var/run/secrets/dapr.io/sentrytoken:true",
      ])
  }
}

@Suite struct AdmissionAnswerTests {
  @Test func aRefusalCarriesItsMessageExactlyWhateverItHoldsAndEchoesTheReview() throws {
    let appID = "Ça \"va\"\n\t\\ bien"
    let handler = AdmissionReviewHandler(
      planner: PatchPlanner(settings: InjectorSettings(), trustAnchors: ""), allowList: try ServiceAccountAllowList())
    let review: JSONValue = [
      "apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview",
      "request": [
        "uid": "7c1e\u{1}", "namespace": "shop", "kind": ["group": "", "version": "v1", "kind": "Pod"],
        "userInfo": ["username": "system:serviceaccount:kube-system:replicaset-controller"],
        "object": makePod(annotations: ["dapr.io/enabled": "true", "dapr.io/app-id": appID]),
      ],
    ]
    let answer = handler.handle(body: try JSONCoding.encode(review), contentType: "application/json")
    let parsed = try JSONCoding.parse(answer.body)
    #expect(parsed["apiVersion"] == "admission.k8s.io/v1beta1")
    #expect(parsed["kind"] == "AdmissionReview")
    #expect(parsed["response"]?["uid"]?.stringValue == "7c1e\u{1}")
    #expect(parsed["response"]?["allowed"] == false)
    #expect(parsed["response"]?["patch"] == nil)
    guard case .refused(_, let expected) = answer.outcome else {
      throw UnexpectedPlan(description: "expected a refusal, got \(answer.outcome)")
    }
    #expect(expected.contains(appID))
    #expect(parsed["response"]?["status"]?["message"]?.stringValue == expected)
  }

  /// Content-Lengths of a fraction of the review's real length: above 1, the body was cut off (a client that gave up).
  @Test(
    "A body shorter or longer than its Content-Length is a 400 naming both lengths, not a failed injection",
    arguments: [0.99, 1.0, 1.01, 2.0])
  func aBodyCutShortOfItsContentLengthIsNotJudged(fraction: Double) throws {
    let handler = AdmissionReviewHandler(
      planner: PatchPlanner(settings: InjectorSettings(), trustAnchors: ""), allowList: try ServiceAccountAllowList())
    let review = try JSONCoding.encode(
      [
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": [
          "uid": "u", "namespace": "shop", "kind": ["group": "", "version": "v1", "kind": "Pod"],
          "userInfo": ["username": "system:serviceaccount:kube-system:replicaset-controller"],
          "object": makePod(annotations: ["dapr.io/enabled": "true", "dapr.io/app-id": "checkout"]),
        ],
      ] as JSONValue)
    let declared = Int(Double(review.count) * fraction)
    let answer = handler.handle(body: review, contentType: "application/json", declaredLength: declared)
    if declared == review.count {
      #expect(answer.status == 200)
      #expect(answer.outcome == .injected(appID: "checkout", warnings: []))
    } else {
      // Cut off: the client gave up, which is not a failed injection; longer than declared: a bad request.
      let outcome: AdmissionReviewHandler.Outcome =
        declared > review.count ? .abandoned(received: review.count, declared: declared) : .badRequest
      #expect(answer.status == 400 && answer.outcome == outcome)
      #expect(
        String(decoding: answer.body, as: UTF8.self)
          == "the request body has \(review.count) bytes where its Content-Length declares \(declared)\n")
    }
  }
}
