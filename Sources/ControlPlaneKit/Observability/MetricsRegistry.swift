import Prometheus
import Synchronization

/// The Prometheus registry of one process: Dapr's metrics, the process' own `process_*` metrics, and whatever
/// libraries report through swift-metrics (see ``ObservabilityBootstrap``).
///
/// Every metric is created with help text so that `promtool check metrics` accepts the page. Names are written
/// whole (`dapr_sentry_cert_sign_success_total`), exactly as Dapr's exporter writes them.
public final class MetricsRegistry: Sendable {
  /// The underlying swift-prometheus registry.
  public let prometheus: PrometheusCollectorRegistry
  private let process: ProcessMetricsCollector?

  /// A registry, with the `process_*` metrics of this process unless `includeProcessMetrics` is false.
  public init(includeProcessMetrics: Bool = true) {
    let prometheus = PrometheusCollectorRegistry()
    self.prometheus = prometheus
    self.process = includeProcessMetrics ? ProcessMetricsCollector(registry: prometheus) : nil
  }

  /// A counter; names end in `_total`.
  public func counter(_ name: String, help: String, labels: [(String, String)] = []) -> Counter {
    prometheus.makeCounter(descriptor: Self.descriptor(name, help), labels: labels)
  }

  /// A gauge.
  public func gauge(_ name: String, help: String, labels: [(String, String)] = []) -> Gauge {
    prometheus.makeGauge(descriptor: Self.descriptor(name, help), labels: labels)
  }

  /// A histogram of durations, exported in seconds.
  public func durationHistogram(
    _ name: String, help: String, buckets: [Duration], labels: [(String, String)] = []
  ) -> DurationHistogram {
    prometheus.makeDurationHistogram(descriptor: Self.descriptor(name, help), labels: labels, buckets: buckets)
  }

  /// A histogram of plain values (bytes, counts).
  public func valueHistogram(
    _ name: String, help: String, buckets: [Double], labels: [(String, String)] = []
  ) -> ValueHistogram {
    prometheus.makeValueHistogram(descriptor: Self.descriptor(name, help), labels: labels, buckets: buckets)
  }

  /// The text exposition format, with the process metrics read just now.
  public func exposition() -> [UInt8] {
    process?.update()
    return prometheus.emitToBuffer()
  }

  private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
  }
}

/// Latency buckets for request handling, from 100 µs to 10 s.
public let requestLatencyBuckets: [Duration] = [
  .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
  .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
  .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
]

/// Keeps the standard `process_*` metrics of this process current (Linux `/proc`).
final class ProcessMetricsCollector: Sendable {
  private let cpuSeconds: Counter
  private let residentMemory: Gauge
  private let virtualMemory: Gauge
  private let openFileDescriptors: Gauge
  private let maximumFileDescriptors: Gauge
  private let startTime: Gauge
  private let reportedCPUSeconds = Mutex<Double>(0)

  init(registry: PrometheusCollectorRegistry) {
    func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
      MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
    cpuSeconds = registry.makeCounter(
      descriptor: descriptor("process_cpu_seconds_total", "Total user and system CPU time spent in seconds."))
    residentMemory = registry.makeGauge(
      descriptor: descriptor("process_resident_memory_bytes", "Resident memory size in bytes."))
    virtualMemory = registry.makeGauge(
      descriptor: descriptor("process_virtual_memory_bytes", "Virtual memory size in bytes."))
    openFileDescriptors = registry.makeGauge(
      descriptor: descriptor("process_open_fds", "Number of open file descriptors."))
    maximumFileDescriptors = registry.makeGauge(
      descriptor: descriptor("process_max_fds", "Maximum number of open file descriptors."))
    startTime = registry.makeGauge(
      descriptor: descriptor("process_start_time_seconds", "Start time of the process since unix epoch in seconds."))
    update()
  }

  func update() {
    guard let sample = ProcessSample.readCurrent() else { return }
    residentMemory.set(Double(sample.residentBytes))
    virtualMemory.set(Double(sample.virtualBytes))
    openFileDescriptors.set(Double(sample.openFileDescriptors))
    maximumFileDescriptors.set(Double(sample.maximumFileDescriptors))
    startTime.set(sample.startTimeSeconds)
    let delta = reportedCPUSeconds.withLock { reported -> Double in
      let delta = max(0, sample.cpuSeconds - reported)
      reported += delta
      return delta
    }
    if delta > 0 { cpuSeconds.increment(by: delta) }
  }
}
