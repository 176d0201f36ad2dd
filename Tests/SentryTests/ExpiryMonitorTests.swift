import ControlPlaneKit
import Foundation
import Logging
import Synchronization
import Testing

@testable import Sentry
@testable import SentryCore

final class CollectingSink: LogSink {
  private let lines = Mutex<[String]>([])
  func write(line: String) { lines.withLock { $0.append(line) } }
  var all: [String] { lines.withLock { $0 } }
}

@Suite struct ExpiryMonitorTests {
  static let expectedTexts: [(TimeInterval, ExpiryMonitor.Kind, Logger.Level, String)] = [
    (
      29 * 86_400.0 + 3 * 3600 + 100, ExpiryMonitor.Kind.root, Logger.Level.warning,
      "Dapr root certificate expiration warning: certificate expires in 29 days and 3 hours"
    ),
    (
      3600 * 5.5, .issuer, .warning,
      "Dapr issuer certificate expiration warning: certificate expires in 0 days and 5 hours"
    ),
    (-1, .root, .warning, "Dapr root certificate expiration warning: certificate has expired."),
    (0, .issuer, .warning, "Dapr issuer certificate expiration warning: certificate has expired."),
    (31 * 86_400.0, .root, .debug, "Dapr root certificate is still valid for 744h0m0s"),
  ]

  @Test("The warning texts are Dapr's", arguments: expectedTexts)
  func texts(remaining: TimeInterval, kind: ExpiryMonitor.Kind, level: Logger.Level, text: String) {
    let message = ExpiryMonitor.message(kind, notAfter: referenceTime + remaining, now: referenceTime)
    #expect(message.level == level)
    #expect(message.text == text)
  }

  @Test func aRootTwentyNineDaysFromExpiryLogsTheWarningAsDaprsJSONAndSetsTheGauges() throws {
    let issuing = try IssuingAuthority.generate(
      trustDomain: "cluster.local", namespace: "dapr-system", keyAlgorithm: .ed25519, now: referenceTime)
    let notAfter = try #require(issuing.anchors.earliestExpiry)
    let sink = CollectingSink()
    let context = LogContext(
      instance: "dapr-sentry-0", version: "1.2.3", format: .json,
      clock: { WallClockInstant(seconds: 1_795_376_244, nanoseconds: 0) }, sink: sink)
    let logger = Logger(label: "dapr.sentry") { DaprLogHandler(scope: $0, logLevel: .info, context: context) }
    let registry = MetricsRegistry(includeProcessMetrics: false)
    let monitor = ExpiryMonitor(
      authority: LatestValue(issuing), metrics: SentryMetrics(registry: registry), logger: logger)

    monitor.check(at: notAfter - 29 * 86_400)
    let lines = sink.all
    #expect(
      lines.contains(
        #"{"instance":"dapr-sentry-0","level":"warning","msg":"Dapr root certificate expiration warning: certificate expires in 29 days and 0 hours","scope":"dapr.sentry","time":"2026-11-22T19:37:24.000000000Z","type":"log","ver":"1.2.3"}"#
      ), "\(lines)")
    let page = String(decoding: registry.exposition(), as: UTF8.self)
    #expect(
      page.contains("dapr_sentry_issuercert_expiry_timestamp \(issuing.issuer.notValidAfter.timeIntervalSince1970)"))
    #expect(page.contains("dapr_sentry_rootcert_expiry_timestamp \(notAfter.timeIntervalSince1970)"))

    monitor.check(at: notAfter + 1)
    #expect(sink.all.contains { $0.contains("Dapr root certificate expiration warning: certificate has expired.") })
    #expect(sink.all.contains { $0.contains("Dapr issuer certificate expiration warning: certificate has expired.") })
  }
}
