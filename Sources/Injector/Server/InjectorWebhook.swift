import ControlPlaneKit
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Kubernetes
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization

/// The injector's metrics: Dapr's three counters and a latency histogram of reviews.
public final class InjectorMetrics: Sendable {
  let registry: MetricsRegistry
  public let requests: Counter
  public let reviewDuration: DurationHistogram

  public init(registry: MetricsRegistry) {
    self.registry = registry
    requests = registry.counter(
      "dapr_injector_sidecar_injection_requests_total", help: "The number of sidecar injection requests.")
    reviewDuration = registry.durationHistogram(
      "dapr_injector_review_duration_seconds", help: "The time to answer an admission review.",
      buckets: requestLatencyBuckets)
  }

  /// Empty labels are left out, as Dapr's exporter does.
  func succeeded(appID: String) {
    registry.counter(
      "dapr_injector_sidecar_injection_succeeded_total", help: "The number of successful sidecar injections.",
      labels: appID.isEmpty ? [] : [("app_id", appID)]
    ).increment()
  }

  /// Beyond Dapr: the annotation values the injector could not use as written, by reason
  /// (`AnnotationWarning.Reason`).
  func warned(_ warnings: [AnnotationWarning]) {
    for warning in warnings {
      registry.counter(
        "dapr_injector_annotation_warnings_total",
        help: "Annotation values the injector could not use as written (returned as admission warnings), by reason.",
        labels: [("reason", warning.reason.rawValue)]
      ).increment()
    }
  }

  func failed(appID: String, reason: String) {
    var labels = [("reason", reason)]
    if !appID.isEmpty { labels.insert(("app_id", appID), at: 0) }
    registry.counter(
      "dapr_injector_sidecar_injection_failed_total", help: "The number of failed sidecar injections.",
      labels: labels
    ).increment()
  }
}

/// The HTTPS admission webhook at `/mutate`.
public struct InjectorWebhook: Service {
  public let host: String
  public let port: Int
  /// The serving certificate; a renewed one is served to new connections at once.
  public let identity: LatestValue<TLSIdentity>
  /// Rebuilt when the trust anchors or the mTLS setting change.
  public let handler: LatestValue<AdmissionReviewHandler>
  public let metrics: InjectorMetrics
  public let readiness: ReadinessTargets
  public let logger: Logger
  public let onListening: @Sendable (Int) async -> Void

  public static let readinessTarget = "injector-service"

  public init(
    host: String, port: Int, identity: LatestValue<TLSIdentity>, handler: LatestValue<AdmissionReviewHandler>,
    metrics: InjectorMetrics, readiness: ReadinessTargets, logger: Logger,
    onListening: @escaping @Sendable (Int) async -> Void = { _ in }
  ) {
    self.host = host
    self.port = port
    self.identity = identity
    self.handler = handler
    self.metrics = metrics
    self.readiness = readiness
    self.logger = logger
    self.onListening = onListening
  }

  /// HTTPS with HTTP/1.1 only. Dapr's Go server also offers HTTP/2, which the API server's webhook client would pick;
  /// measured here, Hummingbird's HTTP/2 costs 1.7 to 3.2 times the CPU per request of its HTTP/1.1 (BENCHMARKS.md),
  /// so the API server is offered HTTP/1.1 alone and keeps a pool of connections instead.
  public static func httpServer(identity: LatestValue<TLSIdentity>) throws -> HTTPServerBuilder {
    try .tls(.http1(), configuration: HummingbirdTLSConfigurations.server(identity: identity))
  }

  public func run() async throws {
    let router = Router()
    let (handler, metrics, logger) = (self.handler, self.metrics, self.logger)
    router.post("mutate") { request, _ -> Response in
      let started = ContinuousClock.now
      metrics.requests.increment()
      let body = try await request.body.collect(upTo: 16 << 20)
      let answer = handler.current.handle(
        body: Data(buffer: body), contentType: request.headers[.contentType],
        declaredLength: request.headers[.contentLength].flatMap { Int($0) })
      metrics.warned(answer.warnings)
      switch answer.outcome {
      case .injected(let appID, let warnings):
        metrics.succeeded(appID: appID)
        for warning in warnings {
          logger.warning(
            "\(warning.message)", metadata: ["app_id": "\(appID)", "reason": "\(warning.reason.rawValue)"])
        }
        logger.info("Sidecar injector succeeded injection for app '\(appID)'")
      case .refused(let appID, let reason):
        metrics.failed(appID: appID, reason: "patch")
        logger.error("Sidecar injector failed to inject for app '\(appID)'. Error: \(reason)")
      case .unauthorized(let username):
        metrics.failed(appID: "", reason: "pod_patch")
        logger.warning("service account '\(username)' not on the list of allowed controller accounts")
      case .notInjected(.notAPod):
        metrics.failed(appID: "", reason: "pod_patch")
      case .notInjected:
        break
      case .badRequest:
        metrics.failed(appID: "", reason: "response")
      case .abandoned(let received, let declared):
        logger.debug("a client gave up after sending \(received) of \(declared) bytes of an admission review")
      }
      metrics.reviewDuration.record(ContinuousClock.now - started)
      return Response(
        status: .init(code: answer.status), headers: [.contentType: answer.contentType],
        body: .init(byteBuffer: ByteBuffer(data: answer.body)))
    }
    let readiness = self.readiness
    let onListening = self.onListening
    let app = Application(
      router: router,
      server: try Self.httpServer(identity: identity),
      configuration: .init(address: .hostname(host, port: port), serverName: nil),
      onServerRunning: { channel in
        readiness.markReady(Self.readinessTarget)
        await onListening(channel.localAddress?.port ?? 0)
      },
      logger: logger)
    try await app.run()
  }
}
