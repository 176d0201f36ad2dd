import ArgumentParser
import ControlPlaneKit
import ControlPlaneTestSupport
import Foundation
import Injector
import Kubernetes
import Operator
import Placement
import Sentry
import Testing
import X509

/// The chart as real Helm renders it, checked the way a cluster and the binaries would read it.
@Suite struct ChartTests {
  typealias Values = RenderedChart.Values

  /// A values file written the way Dapr's users write them, installed unchanged.
  static let daprStyleValues = "charts/dapr/ci/dapr-style-values.yaml"

  /// ServiceMonitors, PodMonitors, the PrometheusRule and the Grafana dashboards, all on.
  static let monitoring = [
    "global.prometheus.serviceMonitor.enabled=true", "global.prometheus.podMonitor.enabled=true",
    "global.prometheus.rules.enabled=true", "global.grafana.dashboards.enabled=true",
  ]

  static let scenarios: [Values] = [
    Values(name: "default values"),
    Values(name: "high availability", sets: ["global.ha.enabled=true"]),
    Values(name: "Prometheus off", sets: ["global.prometheus.enabled=false"]),
    Values(name: "a values file written for Dapr's chart", files: [daprStyleValues]),
    Values(name: "Kubernetes 1.20", kubeVersion: "1.20.0"),
    Values(name: "Kubernetes 1.20 with high availability", sets: ["global.ha.enabled=true"], kubeVersion: "1.20.0"),
    Values(name: "Kubernetes 1.30", kubeVersion: "1.30.0"),
    Values(name: "the user's own CA (Dapr's dapr_sentry.tls values)", setFiles: BringYourOwnCA.setFiles),
    Values(name: "every monitoring object", sets: monitoring),
  ]

  // === Helm and Kubernetes' schemas ===

  @Test(
    "Helm's linter passes with no warning for Kubernetes 1.20 and 1.30",
    arguments: [("1.20.0", [String]()), ("1.30.0", []), ("1.20.0", [daprStyleValues]), ("1.30.0", [daprStyleValues])])
  func lint(kubeVersion: String, files: [String]) throws {
    let output = try ExternalTool.projectPython(
      ["scripts/chart/lint.py", "--kube-version", kubeVersion, "--set", "global.kubeVersion=\(kubeVersion)"]
        + files.flatMap { ["-f", $0] }
    ).run()
    #expect(output.succeeded, "\(output.standardOutput)\(output.standardError)")
    #expect(!output.standardOutput.contains("[WARNING]"), "\(output.standardOutput)")
  }

  @Test("Each rendering passes Kubernetes' own schemas, the oldest that applies and the newest", arguments: scenarios)
  func validates(values: Values) throws {
    let chart = try RenderedChart.render(values)
    #expect(chart.workloads.count == 4)
    let output = try ExternalTool.projectPython(
      ["scripts/chart/validate.py", "--kube-version", values.kubeVersion ?? "1.36.0"]
    ).run(input: chart.json)
    #expect(output.succeeded, "\(output.standardOutput)\(output.standardError)")
  }

  @Test(
    "Values of the wrong type, and top-level keys neither chart has, are refused naming the value",
    arguments: [
      (["dapr_operator.replicaCount=abc"], "/dapr_operator/replicaCount"),
      (["global.ha.replicaCount=three"], "/global/ha/replicaCount"),
      (["dapr_sidecar_injectr.replicaCount=2"], "dapr_sidecar_injectr"),
      (["global.logAsJson=maybe"], "/global/logAsJson"),
      (["global.rbac.namespaced=true"], "global.rbac.namespaced=true is not supported"),
    ])
  func refusesBadValues(sets: [String], named: String) throws {
    let refusal = try RenderedChart.refusal(Values(name: "bad", sets: sets))
    #expect(refusal?.contains(named) == true, "\(refusal ?? "rendered")")
  }

  // === The binaries and their pods ===

  /// Parses a container's arguments with its binary's own parser, as its `@main` does.
  static func parse(binary: String, arguments: [String]) throws -> (ports: [Int], metrics: Bool) {
    func parsed<Options: ParsableArguments>(_ type: Options.Type, _ booleans: Set<String>) throws -> Options {
      try Options.parse(GoFlagSyntax.normalize(arguments, booleanFlags: booleans))
    }
    switch binary {
    case "/operator":
      let options = try parsed(OperatorOptions.self, OperatorOptions.booleanFlags)
      return (
        [
          options.port, options.webhookServerPort, options.observability.healthzPort, options.observability.metricsPort,
        ],
        options.observability.enableMetrics
      )
    case "/injector":
      let options = try parsed(InjectorOptions.self, InjectorOptions.booleanFlags)
      return (
        [options.port, options.observability.healthzPort, options.observability.metricsPort],
        options.observability.enableMetrics
      )
    case "/sentry":
      let options = try parsed(SentryOptions.self, SentryOptions.booleanFlags)
      return (
        [options.port, options.observability.healthzPort, options.observability.metricsPort],
        options.observability.enableMetrics
      )
    case "/placement":
      let options = try parsed(PlacementOptions.self, PlacementOptions.booleanFlags)
      return (
        [options.port, options.observability.healthzPort, options.observability.metricsPort],
        options.observability.enableMetrics
      )
    default:
      throw ExternalTool.Failure(description: "a container runs \(binary), which is not one of the four binaries")
    }
  }

  @Test(
    "Every container runs one of the four binaries with flags its own parser accepts, on the ports it declares",
    arguments: scenarios)
  func containersRunTheirBinaryWithAcceptedFlags(values: Values) throws {
    let chart = try RenderedChart.render(values)
    var binaries: Set<String> = []
    for workload in chart.workloads {
      for container in RenderedChart.containers(of: workload) {
        let binary = try #require(container["command"]?.arrayValue?.first?.stringValue)
        binaries.insert(binary)
        let arguments = RenderedChart.strings(container["args"])
        let (ports, metrics) = try Self.parse(binary: binary, arguments: arguments)
        let declared = Set(container["ports"]?.arrayValue?.compactMap { $0["containerPort"]?.intValue } ?? [])
        for port in ports.dropLast(metrics ? 0 : 1) {
          #expect(declared.contains(Int64(port)), "\(binary) listens on \(port), which its container does not declare")
        }
        let prometheus = !values.sets.contains("global.prometheus.enabled=false")
        #expect(metrics == prometheus, "\(binary): metrics \(metrics)")
      }
    }
    #expect(binaries == ["/operator", "/injector", "/sentry", "/placement"])
  }

  @Test("Every Service's ports reach a named or numbered port of the pods it selects", arguments: scenarios)
  func servicesReachContainerPorts(values: Values) throws {
    let chart = try RenderedChart.render(values)
    for service in chart.objects(kind: "Service") {
      let selector = try #require(service["spec"]?["selector"]?.objectValue, "\(RenderedChart.name(service))")
      let selected = chart.workloads.filter { workload in
        let labels = workload["spec"]?["template"]?["metadata"]?["labels"]?.objectValue ?? [:]
        return selector.allSatisfy { labels[$0.key] == $0.value }
      }
      #expect(selected.count == 1, "\(RenderedChart.name(service)) selects \(selected.count) workloads")
      let ports = selected.flatMap(RenderedChart.containers(of:)).flatMap { $0["ports"]?.arrayValue ?? [] }
      for port in service["spec"]?["ports"]?.arrayValue ?? [] {
        let target = port["targetPort"] ?? port["port"]
        let reached = ports.contains { $0["containerPort"] == target || $0["name"] == target }
        #expect(reached, "\(RenderedChart.name(service)) port \(port) reaches no container port")
      }
    }
    // Dapr's Service names and ports, which daprd and the API server use.
    let expected: [(String, Int64)] = [
      ("dapr-api", 443), ("dapr-sentry", 443), ("dapr-sidecar-injector", 443), ("dapr-webhook", 443),
      ("dapr-placement-server", 50005),
    ]
    for (name, port) in expected {
      let service = try #require(chart.object(kind: "Service", name: name), "no Service \(name)")
      #expect(service["spec"]?["ports"]?.arrayValue?.contains { $0["port"]?.intValue == port } == true)
    }
  }

  @Test(
    "Every control-plane container is probed on /healthz at 8080, its pods carry Dapr's control-plane annotation")
  func probesAndAnnotations() throws {
    let chart = try RenderedChart.render(Values(name: "default values"))
    for workload in chart.workloads {
      for container in RenderedChart.containers(of: workload) {
        for probe in ["livenessProbe", "readinessProbe"] {
          let get = container[probe]?["httpGet"]
          #expect(get?["path"]?.stringValue == "/healthz", "\(RenderedChart.name(workload)) \(probe)")
          #expect(get?["port"]?.intValue == 8080, "\(RenderedChart.name(workload)) \(probe)")
        }
      }
      let annotations = workload["spec"]?["template"]?["metadata"]?["annotations"]
      #expect(annotations?["dapr.io/control-plane"]?.stringValue != nil, "\(RenderedChart.name(workload))")
      #expect(annotations?["prometheus.io/scrape"]?.stringValue == "true", "\(RenderedChart.name(workload))")
      #expect(annotations?["prometheus.io/port"]?.stringValue == "9090", "\(RenderedChart.name(workload))")
    }
  }

  @Test(
    "High availability gives three replicas, a disruption budget each and anti-affinity",
    arguments: ["1.20.0", "1.30.0"])
  func highAvailability(kubeVersion: String) throws {
    let chart = try RenderedChart.render(
      Values(name: "HA", sets: ["global.ha.enabled=true"], kubeVersion: kubeVersion))
    let budgets = chart.objects(kind: "PodDisruptionBudget")
    #expect(budgets.count == 4)
    let expectedAPI = kubeVersion == "1.20.0" ? "policy/v1beta1" : "policy/v1"
    #expect(budgets.allSatisfy { $0["apiVersion"]?.stringValue == expectedAPI })
    for workload in chart.workloads {
      #expect(workload["spec"]?["replicas"]?.intValue == 3, "\(RenderedChart.name(workload))")
      let affinity = RenderedChart.podSpec(of: workload)?["affinity"]?["podAntiAffinity"]
      #expect(affinity != nil, "\(RenderedChart.name(workload)) has no pod anti-affinity")
      let labels = workload["spec"]?["selector"]?["matchLabels"]
      #expect(
        budgets.contains { $0["spec"]?["selector"]?["matchLabels"] == labels }, "\(RenderedChart.name(workload))")
    }
    let single = try RenderedChart.render(Values(name: "default values"))
    #expect(single.objects(kind: "PodDisruptionBudget").isEmpty)
    #expect(single.workloads.allSatisfy { $0["spec"]?["replicas"]?.intValue == 1 })
  }

  @Test("Every control-plane pod meets the Pod Security restricted profile, field by field", arguments: scenarios)
  func controlPlanePodsAreRestricted(values: Values) throws {
    let chart = try RenderedChart.render(values)
    for workload in chart.workloads {
      let spec = try #require(RenderedChart.podSpec(of: workload))
      #expect(RestrictedProfile.violations(podSpec: spec) == [], "\(RenderedChart.name(workload))")
    }
  }

  @Test func theDaprdContainerTheChartsInjectorAddsMeetsTheRestrictedProfile() throws {
    let chart = try RenderedChart.render(Values(name: "default values"))
    let injector = try #require(chart.workload(running: "/injector"))
    let container = try #require(RenderedChart.containers(of: injector).first)
    var warnings: [String] = []
    let settings = try InjectorSettings(
      environment: RenderedChart.environment(of: container), warnings: &warnings)
    #expect(warnings.isEmpty)
    // An app pod as a user writes it, with nothing about security: the sidecar must be restricted on its own.
    let pod: JSONValue = [
      "apiVersion": "v1", "kind": "Pod",
      "metadata": [
        "name": "shop-1", "namespace": "shop", "annotations": ["dapr.io/enabled": "true", "dapr.io/app-id": "shop"],
      ],
      "spec": ["containers": [["name": "app", "image": "shop:1"]]],
    ]
    let plan = try PatchPlanner(settings: settings, trustAnchors: "", mTLSEnabled: true).plan(
      pod: pod, namespace: "shop")
    guard case .inject(_, let operations, _) = plan else {
      Issue.record("the pod was not injected: \(plan)")
      return
    }
    let patched = try Kubectl.patchLocally(pod, operations)
    let spec = try #require(patched["spec"])
    #expect(RestrictedProfile.violations(podSpec: spec, only: ["daprd"]) == [])
    let image = spec["containers"]?.arrayValue?.first { $0["name"] == "daprd" }?["image"]?.stringValue
    #expect(image == "daprio/daprd:1.18.0")
  }

  @Test(
    "The injector names a scheduler only when the chart says one exists",
    arguments: [([String](), false), (["global.scheduler.enabled=true"], true)])
  func scheduler(sets: [String], enabled: Bool) throws {
    let chart = try RenderedChart.render(Values(name: "scheduler", sets: sets))
    let injector = try #require(chart.workload(running: "/injector"))
    let arguments = RenderedChart.strings(RenderedChart.containers(of: injector).first?["args"])
    let options = try InjectorOptions.parse(
      GoFlagSyntax.normalize(arguments, booleanFlags: InjectorOptions.booleanFlags))
    #expect(options.schedulerEnabled == enabled)
    // No scheduler object is ever rendered: this control plane ships none.
    #expect(!chart.objects.contains { ($0["metadata"]?["name"]?.stringValue ?? "").contains("scheduler") })
  }

  @Test(
    "The webhook fails closed only for Dapr pods where Kubernetes can narrow it (1.28+), else Dapr's Ignore",
    arguments: [
      ("1.20.0", "Ignore", false), ("1.27.0", "Ignore", false), ("1.28.0", "Fail", true), ("1.30.0", "Fail", true),
    ])
  func webhookShape(kubeVersion: String, policy: String, narrowed: Bool) throws {
    let chart = try RenderedChart.render(Values(name: kubeVersion, kubeVersion: kubeVersion))
    let configuration = try #require(chart.object(kind: "MutatingWebhookConfiguration", name: "dapr-sidecar-injector"))
    let webhook = try #require(configuration["webhooks"]?.arrayValue?.first)
    #expect(webhook["failurePolicy"]?.stringValue == policy)
    #expect((webhook["matchConditions"] != nil) == narrowed)
    #expect(webhook["clientConfig"]?["service"]?["name"]?.stringValue == "dapr-sidecar-injector")
    #expect(webhook["clientConfig"]?["caBundle"] == nil)
    let excluded = webhook["namespaceSelector"]?["matchExpressions"]?.arrayValue?.contains {
      $0["key"]?.stringValue == "kubernetes.io/metadata.name" && $0["operator"]?.stringValue == "NotIn"
        && $0["values"]?.arrayValue == ["kube-system"]
    }
    #expect(excluded == true)
  }

  @Test func controlPlanePodsGetSentryTokensWithDaprsPathAndAudience() throws {
    let chart = try RenderedChart.render(Values(name: "default values"))
    for binary in ["/operator", "/injector", "/placement"] {
      let workload = try #require(chart.workload(running: binary))
      let spec = try #require(RenderedChart.podSpec(of: workload))
      let token = spec["volumes"]?.arrayValue?.compactMap { $0["projected"]?["sources"]?.arrayValue }.joined()
        .compactMap { $0["serviceAccountToken"] }.first
      #expect(token?["audience"]?.stringValue == "spiffe://cluster.local/ns/dapr-system/dapr-sentry", "\(binary)")
      #expect(token?["path"]?.stringValue == "token", "\(binary)")
      let mounts = RenderedChart.containers(of: workload).first?["volumeMounts"]?.arrayValue ?? []
      #expect(mounts.contains { $0["mountPath"]?.stringValue == "/var/run/secrets/dapr.io/sentrytoken" }, "\(binary)")
    }
  }

  // === Monitoring ===

  @Test func promtoolAcceptsTheAlertRules() throws {
    let install = try RenderedInstall.render(sets: Self.monitoring)
    let rules = try #require(install.objects(kind: "PrometheusRule").first)
    let groups = try #require(rules["spec"]?["groups"]?.arrayValue)
    #expect(groups.count >= 1)
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("rules-\(UUID().uuidString).yaml")
    defer { try? FileManager.default.removeItem(at: file) }
    try JSONCoding.encode(JSONValue.object(["groups": .array(groups)])).write(to: file)
    let output = try ExternalTool("promtool", ["check", "rules", file.path]).run()
    #expect(output.succeeded, "\(output.standardOutput)\(output.standardError)")
    // The alerts the chart promises: certificate expiry at 30 and 7 days, sign and injection failures, placement
    // leadership, operator trouble.
    let alerts = Set(groups.flatMap { $0["rules"]?.arrayValue ?? [] }.compactMap { $0["alert"]?.stringValue })
    let expressions = MonitoringQueries.expressions(in: install).joined(separator: "\n")
    for metric in [
      "dapr_sentry_rootcert_expiry_timestamp", "dapr_sentry_issuercert_expiry_timestamp",
      "dapr_sentry_cert_sign_failure_total", "dapr_injector_sidecar_injection_failed_total",
      "dapr_placement_leader_status", "dapr_operator_secret_resolution_failures_total",
    ] {
      #expect(expressions.contains(metric), "no alert watches \(metric)")
    }
    #expect(alerts.count >= 8, "\(alerts.sorted())")
  }

  @Test func everyDashboardIsAConfigMapGrafanaFindsWithAUniqueUID() throws {
    let install = try RenderedInstall.render(sets: Self.monitoring)
    let dashboards = install.objects(kind: "ConfigMap").filter {
      $0["metadata"]?["labels"]?["grafana_dashboard"] != nil
    }
    #expect(dashboards.count == 4)
    var uids: Set<String> = []
    for map in dashboards {
      for value in (map["data"]?.objectValue ?? [:]).values {
        let dashboard = try JSONCoding.parse(Data((value.stringValue ?? "").utf8))
        uids.insert(dashboard["uid"]?.stringValue ?? "")
      }
    }
    #expect(uids.count == 4 && !uids.contains(""))
  }

  // === One source for the CRDs, plain manifests in step ===

  @Test func theChartsCRDsAndThePlainManifestsAreInStepWithTheirSources() throws {
    let root = LocalKubernetes.repositoryRoot
    let files = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("crds").path)
      .filter { $0.hasSuffix(".yaml") }.sorted()
    #expect(files.count == 7)
    for file in files {
      let source = try Data(contentsOf: root.appendingPathComponent("crds/\(file)"))
      let copy = try? Data(contentsOf: root.appendingPathComponent("charts/dapr/crds/\(file)"))
      #expect(copy == source, "charts/dapr/crds/\(file) differs from crds/\(file): run scripts/chart/generate.sh")
    }
    let check = try ExternalTool("bash", ["scripts/chart/generate.sh", "--check"]).run()
    #expect(check.succeeded, "\(check.standardError)")
  }
}

/// A CA of the user's own, given to the chart as Dapr's users do (`--set-file dapr_sentry.tls.*`).
enum BringYourOwnCA {
  /// `key=path` pairs for the root certificate, the issuer certificate and its key, written once per test run.
  static let setFiles: [String] = {
    do {
      let folder = FileManager.default.temporaryDirectory.appendingPathComponent("byo-ca-\(UUID().uuidString)")
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      let ca = try TestCertificateAuthority()
      let issuer = try ca.issueIntermediate(organization: "example")
      let files = [
        ("dapr_sentry.tls.root.certPEM", "ca.crt", try ca.certificate.serializeAsPEM().pemString),
        ("dapr_sentry.tls.issuer.certPEM", "issuer.crt", try issuer.certificate.serializeAsPEM().pemString),
        ("dapr_sentry.tls.issuer.keyPEM", "issuer.key", try issuer.privateKey.serializeAsPEM().pemString),
      ]
      return try files.map { key, name, pem in
        let url = folder.appendingPathComponent(name)
        try (pem + "\n").write(to: url, atomically: true, encoding: .utf8)
        return "\(key)=\(url.path)"
      }
    } catch {
      fatalError("cannot write the test CA: \(error)")
    }
  }()
}
