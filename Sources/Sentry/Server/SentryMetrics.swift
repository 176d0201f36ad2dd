import ControlPlaneKit
import Foundation
import Prometheus

/// Sentry's metrics: Dapr's names, plus a root expiry gauge and a signing latency histogram.
public final class SentryMetrics: Sendable {
  public let requestsReceived: Counter
  public let signed: Counter
  /// Dapr records every failure with `reason="sign"`.
  public let failed: Counter
  public let servingCertificateFailures: Counter
  public let issuerCertificateChanged: Counter
  /// Unix seconds of the issuer's NotAfter.
  public let issuerExpiry: Gauge
  /// Unix seconds of the earliest root's NotAfter.
  public let rootExpiry: Gauge
  public let signDuration: DurationHistogram
  /// The stage of a root rotation (`sentry ca rotate-root`): 0 none, 1 the new root trusted, 3 switched to it.
  public let rootRotationStage: Gauge

  public init(registry: MetricsRegistry) {
    requestsReceived = registry.counter(
      "dapr_sentry_cert_sign_request_received_total", help: "The number of certificate signing requests received.")
    signed = registry.counter(
      "dapr_sentry_cert_sign_success_total", help: "The number of certificates signed successfully.")
    failed = registry.counter(
      "dapr_sentry_cert_sign_failure_total", help: "The number of certificate signing requests that failed.",
      labels: [("reason", "sign")])
    servingCertificateFailures = registry.counter(
      "dapr_sentry_servercert_issue_failed_total", help: "The number of failures to issue sentry's own certificate.")
    issuerCertificateChanged = registry.counter(
      "dapr_sentry_issuercert_changed_total", help: "The number of times the issuer credentials changed.")
    issuerExpiry = registry.gauge(
      "dapr_sentry_issuercert_expiry_timestamp", help: "The expiry of the issuer certificate, in Unix seconds.")
    rootExpiry = registry.gauge(
      "dapr_sentry_rootcert_expiry_timestamp",
      help: "The expiry of the trust anchor that expires first, in Unix seconds.")
    rootRotationStage = registry.gauge(
      "dapr_sentry_root_rotation_stage",
      help: "The stage of a root rotation: 0 none, 1 the new root is trusted, 3 the issuer under it signs.")
    signDuration = registry.durationHistogram(
      "dapr_sentry_cert_sign_duration_seconds", help: "The time to handle a certificate signing request.",
      buckets: requestLatencyBuckets)
  }

  /// Sets the expiry gauges from a loaded CA.
  func record(_ authority: IssuingAuthority) {
    issuerExpiry.set(authority.issuer.notValidAfter.timeIntervalSince1970)
    if let earliest = authority.anchors.earliestExpiry { rootExpiry.set(earliest.timeIntervalSince1970) }
  }
}
