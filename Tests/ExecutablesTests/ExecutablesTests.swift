import AsyncHTTPClient
import ControlPlaneTestSupport
import Foundation
import Testing

/// Starts each binary as a user would and checks the three things every control-plane process must do.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ExecutablesTests {
  @Test(
    "Each binary starts, answers /healthz and /metrics, writes Dapr's JSON logs and exits 0 within a second of SIGTERM",
    arguments: ["sentry", "operator", "injector", "placement"])
  func lifecycle(binary: String) async throws {
    let healthzPort = freeLocalPort()
    let metricsPort = freeLocalPort()
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("\(binary)-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: scratch) }
    // Each binary in standalone mode, on loopback, with its state in a scratch folder.
    let own: [String: [String]] = [
      "sentry": [
        "--issuer-credentials", scratch.path, "--port", "0", "--listen-address", "127.0.0.1", "--config",
        scratch.appendingPathComponent("absent.yaml").path,
      ],
      "placement": ["--port", "0", "--listen-address", "127.0.0.1", "--metadata-enabled"],
      "injector": ["--port", "0", "--kubeconfig", scratch.appendingPathComponent("absent-kubeconfig").path],
      "operator": ["--port", "0", "--kubeconfig", scratch.appendingPathComponent("absent-kubeconfig").path],
    ]
    let child = try ChildProcess(
      binary,
      arguments: [
        // Go's single-dash and `=false` spellings, as Dapr's charts and scripts use them.
        "-healthz-port", "\(healthzPort)", "--metrics-port=\(metricsPort)",
        "--healthz-listen-address", "127.0.0.1", "--metrics-listen-address", "127.0.0.1",
        "--log-as-json", "--log-level", "debug",
      ] + own[binary, default: []])

    // Without a cluster the injector and the operator cannot serve: they stay up and say what is not ready.
    let notReady = [
      "injector": ["injector-service", "webhook-configuration"], "operator": ["operator-api", "operator-caches"],
    ]
    let expected: UInt = notReady[binary] == nil ? 200 : 503
    let healthz = try await waitForStatus(expected, url: "http://127.0.0.1:\(healthzPort)/healthz", child: child)
    #expect(healthz == expected)
    if let targets = notReady[binary] {
      let page = try await fetch("http://127.0.0.1:\(healthzPort)/healthz")
      for target in targets { #expect(page.body.contains(target), "\(page.body)") }
    }

    for path in ["/", "/metrics"] {
      let page = try await fetch("http://127.0.0.1:\(metricsPort)\(path)")
      #expect(page.status == 200)
      #expect(page.body.contains("process_resident_memory_bytes"))
      let check = try runPromtool(page.body)
      #expect(check.status == 0, "promtool check metrics on \(binary)\(path): \(check.output)")
    }

    let started = ContinuousClock.now
    child.signal(SIGTERM)
    let status = try await child.exitStatus()
    let elapsed = ContinuousClock.now - started
    #expect(status == 0, "\(binary) output:\n\(child.capturedOutput)")
    #expect(elapsed < .seconds(1), "\(binary) took \(elapsed) to stop")

    let lines = child.capturedOutput.split(separator: "\n").filter { $0.hasPrefix("{") }
    #expect(!lines.isEmpty)
    for line in lines {
      let object = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      for key in ["instance", "level", "msg", "scope", "time", "type", "ver"] {
        #expect(object[key] is String, "\(key) missing in \(line)")
      }
      #expect((object["scope"] as? String)?.hasPrefix("dapr.") == true)
    }
  }

  @Test(
    "Each binary prints its help with Dapr's flag names",
    arguments: [
      (
        "sentry",
        ["--issuer-credentials", "--trust-domain", "--port", "--healthz-port", "--metrics-port", "--log-as-json"]
      ),
      ("operator", ["--watch-interval", "--trust-anchors-file", "--webhook-server-port", "--disable-leader-election"]),
      ("injector", ["--port", "--scheduler-enabled", "--healthz-port", "--kubeconfig"]),
      (
        "placement",
        ["--replicationFactor", "--disseminate-timeout", "--keepalive-time", "--tls-enabled", "--metadata-enabled"]
      ),
    ])
  func help(binary: String, flags: [String]) async throws {
    let child = try ChildProcess(binary, arguments: ["--help"])
    #expect(try await child.exitStatus() == 0)
    for flag in flags {
      #expect(child.capturedOutput.contains(flag), "\(binary) --help lacks \(flag)")
    }
  }

  /// A file holding a Deployment `web` whose pod template carries `annotations` (YAML flow members).
  static func deploymentFile(annotations: String) throws -> URL {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("deployment-\(UUID().uuidString).yaml")
    try """
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      selector: {matchLabels: {app: web}}
      template:
        metadata:
          labels: {app: web}
          annotations: {\(annotations)}
        spec:
          containers: [{name: app, image: nginx}]
    """.write(to: file, atomically: true, encoding: .utf8)
    return file
  }

  @Test func injectorInjectWritesADeploymentWithTheSidecar() async throws {
    let file = try Self.deploymentFile(annotations: #"dapr.io/enabled: "true""#)
    defer { try? FileManager.default.removeItem(at: file) }
    // No cluster: the trust anchors are missing, with a warning.
    let child = try ChildProcess(
      "injector", arguments: ["inject", "-f", file.path],
      environment: ["KUBECONFIG": file.path + ".absent", "KUBERNETES_SERVICE_HOST": ""])
    #expect(try await child.exitStatus() == 0)
    let output = child.capturedOutput
    #expect(output.contains("name: daprd"), "\(output)")
    #expect(output.contains("- --app-id\n") && output.contains("- web\n"), "\(output)")
    #expect(output.contains("injected daprd for app 'web'"))
    #expect(output.contains("warning: no trust anchors"))
    // No scheduler ships with this control plane: daprd is pointed at one only when asked.
    #expect(!output.contains("scheduler"), "\(output)")
    let withScheduler = try ChildProcess(
      "injector", arguments: ["inject", "-f", file.path, "--scheduler-host-address", "scheduler.jobs.svc:50006"],
      environment: ["KUBECONFIG": file.path + ".absent", "KUBERNETES_SERVICE_HOST": ""])
    #expect(try await withScheduler.exitStatus() == 0)
    #expect(withScheduler.capturedOutput.contains("- --scheduler-host-address\n        - scheduler.jobs.svc:50006\n"))
  }

  @Test func injectorInjectPrintsTheAnnotationWarningsToStandardError() async throws {
    let file = try Self.deploymentFile(
      annotations: #"dapr.io/enabled: "true", dapr.io/app-port: " 8080", dapr.io/log-levl: debug"#)
    defer { try? FileManager.default.removeItem(at: file) }
    // stdout (the manifest) thrown away: what is left is stderr.
    let child = try ChildProcess(
      executable: URL(fileURLWithPath: "/bin/sh"),
      arguments: [
        "-c", #""$0" inject -f "$1" >/dev/null"#,
        ChildProcess.binariesDirectory.appendingPathComponent("injector").path, file.path,
      ],
      environment: ProcessInfo.processInfo.environment.merging(
        ["KUBECONFIG": file.path + ".absent", "KUBERNETES_SERVICE_HOST": ""]) { $1 })
    #expect(try await child.exitStatus() == 0, "\(child.capturedOutput)")
    let stderr = child.capturedOutput
    #expect(
      stderr.contains(
        #"Warning: Deployment/web: dapr.io/app-port: " 8080" is not an integer (remove the spaces); leaving it out"#),
      "\(stderr)")
    #expect(
      stderr.contains(
        "Warning: Deployment/web: dapr.io/log-levl is not a Dapr annotation and is ignored; did you mean dapr.io/log-level?"
      ), "\(stderr)")
    #expect(!stderr.contains("kind: Deployment"))
  }

  @Test(
    "An actors or reminders service address that is not <service>:<port> stops the injector with the variable's name",
    arguments: [["inject", "-f", "/dev/null"], ["--kubeconfig", "/dev/null"]])
  func badServiceAddressStopsTheInjector(arguments: [String]) async throws {
    let child = try ChildProcess(
      "injector", arguments: arguments,
      environment: [
        "ACTORS_SERVICE_NAME": "actors", "ACTORS_SERVICE_ADDRESS": "actors-svc", "NAMESPACE": "dapr-system",
      ])
    #expect(try await child.exitStatus() != 0)
    let output = child.capturedOutput
    #expect(output.contains("ACTORS_SERVICE_ADDRESS is") && output.contains("actors-svc"), "\(output)")
  }

  @Test(
    "A bad flag value exits non-zero with a message naming the flag",
    arguments: [
      ("placement", ["--keepalive-time", "30s"], "keepalive-time"),
      ("placement", ["--replicationFactor", "0"], "replicationFactor"),
      ("sentry", ["--mode", "cloud"], "mode"),
      ("operator", ["--port", "70000"], "port"),
      ("operator", ["--watch-interval", "500ms"], "watch-interval"),
      ("injector", ["--log-level", "loud"], "log-level"),
    ])
  func badFlags(binary: String, arguments: [String], flagName: String) async throws {
    let child = try ChildProcess(binary, arguments: arguments)
    #expect(try await child.exitStatus() != 0)
    #expect(child.capturedOutput.contains(flagName), "\(child.capturedOutput)")
  }
}

/// Polls `url` until it answers `status` (the process is then ready) or the process exits.
func waitForStatus(_ status: UInt, url: String, child: ChildProcess) async throws -> UInt {
  let deadline = ContinuousClock.now + .seconds(30)
  var last: UInt = 0
  while ContinuousClock.now < deadline {
    if let answer = try? await fetch(url) {
      last = answer.status
      if answer.status == status { return status }
    }
    try await Task.sleep(for: .milliseconds(25))
  }
  Issue.record("\(url) never answered \(status); output:\n\(child.capturedOutput)")
  return last
}

func fetch(_ url: String) async throws -> (status: UInt, body: String) {
  let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
  let body = try await response.body.collect(upTo: 1 << 22)
  return (response.status.code, String(buffer: body))
}

/// `promtool check metrics` on a page, from Debian's `prometheus` package (installed by the test script).
func runPromtool(_ page: String) throws -> (status: Int32, output: String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = ["promtool", "check", "metrics"]
  let input = Pipe()
  let output = Pipe()
  process.standardInput = input
  process.standardOutput = output
  process.standardError = output
  try process.run()
  input.fileHandleForWriting.write(Data(page.utf8))
  try input.fileHandleForWriting.close()
  let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  process.waitUntilExit()
  return (process.terminationStatus, text)
}
