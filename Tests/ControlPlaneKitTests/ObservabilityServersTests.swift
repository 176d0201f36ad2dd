import AsyncHTTPClient
import ControlPlaneKit
import ControlPlaneTestSupport
import Logging
import NIOCore
import Testing

@Suite(.timeLimit(.minutes(1))) struct ObservabilityServersTests {
  @Test func healthzAnswers503NamingTheTargetsNotReadyThen200WhenTheLastBecomesReady() async throws {
    let readiness = ReadinessTargets([
      ObservabilityServers.healthzTarget, "sentry-server", "sentry-kubernetes-validator",
    ])
    let listening = Signal<Int>()
    let app = ObservabilityServers.healthApplication(
      host: "127.0.0.1", port: 0, readiness: readiness, logger: Logger(label: "test"),
      onListening: { listening.fire($0) })

    try await withRunningServices([app]) {
      let port = try await listening.value()
      let url = "http://127.0.0.1:\(port)/healthz"

      let first = try await get(url)
      #expect(first.status == 503)
      #expect(first.body == "not ready: sentry-server, sentry-kubernetes-validator\n")

      readiness.markReady("sentry-server")
      let second = try await get(url)
      #expect(second.status == 503)
      #expect(second.body == "not ready: sentry-kubernetes-validator\n")

      readiness.markReady("sentry-kubernetes-validator")
      let third = try await get(url)
      #expect(third.status == 200)

      readiness.markNotReady("sentry-server")
      #expect(try await get(url).status == 503)
    }
  }

  @Test func theMetricsPageIsServedAtTheRootAndAtMetricsWithHelpForEveryMetric() async throws {
    let registry = MetricsRegistry()
    registry.counter("dapr_test_requests_total", help: "Requests seen.", labels: [("app_id", "checkout")]).increment()
    let readiness = ReadinessTargets([ObservabilityServers.metricsTarget])
    let listening = Signal<Int>()
    let app = ObservabilityServers.metricsApplication(
      host: "127.0.0.1", port: 0, registry: registry, readiness: readiness, logger: Logger(label: "test"),
      onListening: { listening.fire($0) })

    try await withRunningServices([app]) {
      let port = try await listening.value()
      #expect(readiness.isReady)
      for path in ["/", "/metrics"] {
        let page = try await get("http://127.0.0.1:\(port)\(path)")
        #expect(page.status == 200)
        #expect(page.body.contains(#"dapr_test_requests_total{app_id="checkout"} 1"#))
        for name in [
          "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
          "process_start_time_seconds",
        ] {
          #expect(page.body.contains("# HELP \(name) "), "\(name) is missing")
        }
        let families = page.body.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.count
        let helps = page.body.split(separator: "\n").filter { $0.hasPrefix("# HELP ") }.count
        #expect(families == helps)
      }
    }
  }
}

func get(_ url: String) async throws -> (status: UInt, body: String) {
  let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
  let body = try await response.body.collect(upTo: 1 << 20)
  return (response.status.code, String(buffer: body))
}
