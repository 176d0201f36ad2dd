import ControlPlaneKit
import Foundation
import Logging
import ServiceLifecycle

/// Warns, hourly, when the root or the issuer certificate expires within 30 days or has expired, with Dapr's texts
/// (Dapr printed them for the root until 1.12, and its docs still promise them), and keeps the expiry gauges current.
public struct ExpiryMonitor: Service {
  /// What kind of certificate a warning is about.
  public enum Kind: String, Sendable { case root, issuer }

  let authority: LatestValue<IssuingAuthority?>
  let metrics: SentryMetrics
  let logger: Logger
  let now: @Sendable () -> Date
  let interval: Duration

  public init(
    authority: LatestValue<IssuingAuthority?>, metrics: SentryMetrics, logger: Logger,
    now: @escaping @Sendable () -> Date = { Date() }, interval: Duration = .seconds(3600)
  ) {
    self.authority = authority
    self.metrics = metrics
    self.logger = logger
    self.now = now
    self.interval = interval
  }

  public func run() async throws {
    try await untilShutdown { [self] in
      while true {
        check(at: now())
        try await Task.sleep(for: interval)
      }
    }
  }

  /// Logs the warnings due at `moment` and sets the gauges.
  public func check(at moment: Date) {
    guard let current = authority.current else { return }
    metrics.record(current)
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
