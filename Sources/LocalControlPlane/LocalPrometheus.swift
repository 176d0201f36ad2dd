import AsyncHTTPClient
import Foundation
import Kubernetes

/// Debian's Prometheus, started here with a generated scrape configuration: one job per control-plane service
/// (named as the chart's monitors name them) and one for the simulated sidecars. Stops with its parent.
public final class LocalPrometheus: Sendable {
  public let port: Int
  public let process: ChildProcess
  public var url: String { "http://127.0.0.1:\(port)" }

  /// Starts Prometheus scraping `targets` (job → `host:port` of a metrics endpoint) every `interval`.
  public init(targets: [String: [String]], directory: URL, interval: Duration = .seconds(1), port: Int? = nil) throws {
    guard
      let binary = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"].first(where: {
        FileManager.default.isExecutableFile(atPath: $0)
      })
    else {
      throw ExternalTool.Failure(
        description: "prometheus is not installed (apt-get install prometheus; see scripts/install-prerequisites.sh)")
    }
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let seconds = max(1, interval.components.seconds)
    var configuration = "global:\n  scrape_interval: \(seconds)s\n  scrape_timeout: \(seconds)s\nscrape_configs:\n"
    for (job, endpoints) in targets.sorted(by: { $0.key < $1.key }) {
      configuration += "  - job_name: \(job)\n    metrics_path: /metrics\n    static_configs:\n"
      configuration += "      - targets: [\(endpoints.map { "\"\($0)\"" }.joined(separator: ", "))]\n"
    }
    let file = directory.appendingPathComponent("prometheus.yml")
    try configuration.write(to: file, atomically: true, encoding: .utf8)
    let port = port ?? freeLocalPort()
    self.port = port
    process = try ChildProcess(
      executable: URL(fileURLWithPath: binary),
      arguments: [
        "--config.file", file.path, "--storage.tsdb.path", directory.appendingPathComponent("data").path,
        "--web.listen-address", "127.0.0.1:\(port)", "--log.level", "warn",
      ],
      environment: ProcessInfo.processInfo.environment)
  }

  /// Waits until Prometheus answers its readiness endpoint.
  public func waitUntilReady() async throws {
    let url = "\(url)/-/ready"
    try await eventually(
      "Prometheus is ready; it printed:\n\(process.capturedOutput.suffix(2000))", within: .seconds(60)
    ) {
      try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(2)).status == .ok
    }
  }

  /// The result of an instant query: each series' labels and value.
  public func query(_ expression: String) async throws -> [(labels: [String: String], value: Double)] {
    var components = URLComponents(string: "\(url)/api/v1/query")!
    components.queryItems = [URLQueryItem(name: "query", value: expression)]
    let response = try await HTTPClient.shared.execute(
      HTTPClientRequest(url: components.url!.absoluteString), timeout: .seconds(10))
    let body = try JSONCoding.parse(Data(buffer: try await response.body.collect(upTo: 16 << 20)))
    guard body["status"]?.stringValue == "success" else {
      throw ExternalTool.Failure(description: "Prometheus refused the query \(expression): \(body)")
    }
    return (body["data"]?["result"]?.arrayValue ?? []).map { series in
      let labels = (series["metric"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
      let value = Double(series["value"]?.arrayValue?.last?.stringValue ?? "") ?? .nan
      return (labels, value)
    }
  }
}
