import ControlPlaneKit
import Foundation
import Logging
import ServiceLifecycle

/// Warns, hourly, when the root or the issuer certificate expires within 30 days or has expired, with Dapr's texts
/// (Dapr printed them for the root until 1.12, and its docs still promise them), and keeps the expiry gauges current.
/// The moment the issuer expires it turns sentry's `/healthz` 503, naming ``issuerTarget``, until a valid issuer is
/// loaded.
public struct ExpiryMonitor: Service {
  /// Not ready while the issuer chain has expired.
  public static let issuerTarget = "sentry-issuer-certificate"

  /// What kind of certificate a warning is about.
  public enum Kind: String, Sendable { case root, issuer }

  let authority: LatestValue<IssuingAuthority?>
  let metrics: SentryMetrics
  let logger: Logger
  let now: @Sendable () -> Date
  let interval: Duration
  let readiness: ReadinessTargets?

  public init(
    authority: LatestValue<IssuingAuthority?>, metrics: SentryMetrics, logger: Logger,
    readiness: ReadinessTargets? = nil, now: @escaping @Sendable () -> Date = { Date() },
    interval: Duration = .seconds(3600)
  ) {
    self.readiness = readiness
    readiness?.register(Self.issuerTarget)
    self.authority = authority
    self.metrics = metrics
    self.logger = logger
    self.now = now
    self.interval = interval
  }

  public func run() async throws {
    try await untilShutdown { [self] in
      // A new issuer is checked at once (sentry is ready again the moment a renewed one is loaded), and the timer
      // is set again from it: hourly, and at the moment the issuer expires.
      let (wakeUps, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
      // Subscribed before the first check, so an issuer loaded in between is not missed.
      let changes = authority.updates()
      let updates = Task {
        for await _ in changes { wake.yield() }
        wake.finish()
      }
      defer { updates.cancel() }
      let hour = TimeInterval(interval.components.seconds)
      var iterator = wakeUps.makeAsyncIterator()
      while !Task.isCancelled {
        check(at: now())
        let untilExpiry = authority.current.map { $0.chainExpiry.timeIntervalSince(now()) } ?? .infinity
        let wait = untilExpiry > 0 ? min(hour, untilExpiry + 0.05) : hour
        let timer = Task {
          try? await Task.sleep(for: .milliseconds(Int64(wait * 1000)))
          if !Task.isCancelled { wake.yield() }
        }
        let woken: Void? = await iterator.next()
        timer.cancel()
        if woken == nil { return }
      }
    }
  }

  /// Logs the warnings due at `moment`, sets the gauges and the issuer's readiness.
  public func check(at moment: Date) {
    guard let current = authority.current else { return }
    metrics.record(current)
    if moment < current.chainExpiry {
      readiness?.markReady(Self.issuerTarget)
    } else {
      readiness?.markNotReady(Self.issuerTarget)
    }
    for anchor in current.anchors.certificates {
      log(Self.message(.root, notAfter: anchor.notValidAfter, now: moment))
    }
    log(Self.message(.issuer, notAfter: current.issuer.notValidAfter, now: moment))
  }

  private func log(_ message: (level: Logger.Level, text: String)) {
    logger.log(level: message.level, "\(message.text)")
  }

  /// Dapr's text for a certificate of `kind` expiring at `notAfter`: a warning within 30 days or once expired, a
  /// debug line otherwise.
  public static func message(_ kind: Kind, notAfter: Date, now: Date) -> (level: Logger.Level, text: String) {
    let remaining = notAfter.timeIntervalSince(now)
    let prefix = "Dapr \(kind.rawValue) certificate expiration warning: "
    if remaining <= 0 { return (.warning, prefix + "certificate has expired.") }
    let hours = Int(remaining / 3600)
    if remaining < 30 * 86_400 {
      return (.warning, prefix + "certificate expires in \(hours / 24) days and \(hours % 24) hours")
    }
    return (
      .debug, "Dapr \(kind.rawValue) certificate is still valid for \(GoDuration(nanoseconds: Int64(remaining * 1e9)))"
    )
  }
}
