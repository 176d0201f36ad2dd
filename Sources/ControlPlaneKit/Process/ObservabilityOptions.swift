import ArgumentParser

/// The logging, metrics and health flags every Dapr control-plane binary takes, with Dapr's names and defaults.
public struct ObservabilityOptions: ParsableArguments, Sendable {
  @Option(name: .customLong("log-level"), help: "Log level: debug, info, warn, error or fatal.")
  public var logLevel: DaprLogLevel = .info

  @Flag(name: .customLong("log-as-json"), inversion: .prefixedNo, help: "Write logs as JSON lines.")
  public var logAsJSON = false

  @Flag(name: .customLong("enable-metrics"), inversion: .prefixedNo, help: "Serve Prometheus metrics.")
  public var enableMetrics = true

  @Option(name: .customLong("metrics-port"), help: "The port of the Prometheus metrics endpoint.")
  public var metricsPort: Int = 9090

  @Option(name: .customLong("metrics-listen-address"), help: "The address the metrics endpoint listens on.")
  public var metricsListenAddress = "0.0.0.0"

  @Option(name: .customLong("healthz-port"), help: "The port of the /healthz endpoint.")
  public var healthzPort: Int = 8080

  @Option(name: .customLong("healthz-listen-address"), help: "The address the /healthz endpoint listens on.")
  public var healthzListenAddress = "0.0.0.0"

  public init() {}

  /// The boolean flags above, for ``GoFlagSyntax``.
  public static let booleanFlags: Set<String> = ["log-as-json", "enable-metrics"]

  public func validate() throws {
    for (name, port) in [("metrics-port", metricsPort), ("healthz-port", healthzPort)] where !(0...65535).contains(port)
    {
      throw ValidationError("--\(name) must be between 0 and 65535, not \(port)")
    }
  }
}
