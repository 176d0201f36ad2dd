import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// The two plain-HTTP endpoints every control-plane process serves: `/healthz` on the healthz port and the
/// Prometheus page (at `/` and `/metrics`) on the metrics port.
public enum ObservabilityServers {
  /// The readiness target the health server marks once it listens.
  public static let healthzTarget = "healthz-server"
  /// The readiness target the metrics server marks once it listens (or at once when metrics are off).
  public static let metricsTarget = "metrics-exporter"

  /// `GET /healthz`: 200 `ok` when every target is ready, else 503 with one not-ready target per line.
  public static func healthApplication(
    host: String, port: Int, readiness: ReadinessTargets, logger: Logger, routes: HealthRoutes = HealthRoutes(),
    onListening: @escaping @Sendable (Int) async -> Void = { _ in }
  ) -> some ApplicationProtocol {
    let router = Router()
    routes.install(on: router)
    router.get("healthz") { _, _ -> Response in
      let notReady = readiness.notReady
      if notReady.isEmpty {
        return Response(
          status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
          body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
      }
      let body = "not ready: " + notReady.joined(separator: ", ") + "\n"
      return Response(
        status: .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
        body: .init(byteBuffer: ByteBuffer(string: body)))
    }
    return Application(
      router: router,
      configuration: .init(address: .hostname(host, port: port), serverName: nil),
      onServerRunning: { channel in
        readiness.markReady(healthzTarget)
        await onListening(channel.localAddress?.port ?? port)
      },
      logger: logger)
  }

  /// The Prometheus text page at `/` (where Dapr serves it) and `/metrics`.
  public static func metricsApplication(
    host: String, port: Int, registry: MetricsRegistry, readiness: ReadinessTargets, logger: Logger,
    onListening: @escaping @Sendable (Int) async -> Void = { _ in }
  ) -> some ApplicationProtocol {
    let router = Router()
    let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { _, _ in
      Response(
        status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
        body: .init(byteBuffer: ByteBuffer(bytes: registry.exposition())))
    }
    router.get("/", use: handler)
    router.get("metrics", use: handler)
    return Application(
      router: router,
      configuration: .init(address: .hostname(host, port: port), serverName: nil),
      onServerRunning: { channel in
        readiness.markReady(metricsTarget)
        await onListening(channel.localAddress?.port ?? port)
      },
      logger: logger)
  }
}

/// Extra routes for the health server, added by a service while the process is set up.
public final class HealthRoutes: Sendable {
  public typealias Installer = @Sendable (Router<BasicRequestContext>) -> Void
  private let installers = Mutex<[Installer]>([])

  public init() {}

  /// Adds routes; call before the process' service group is made.
  public func add(_ installer: @escaping Installer) {
    installers.withLock { $0.append(installer) }
  }

  func install(on router: Router<BasicRequestContext>) {
    for installer in installers.withLock({ $0 }) { installer(router) }
  }
}
