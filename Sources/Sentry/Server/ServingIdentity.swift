import ControlPlaneKit
import Foundation
import Logging
import ServiceLifecycle

/// Sentry's own serving certificate, `spiffe://<trust domain>/ns/<namespace>/dapr-sentry` with no DNS name, signed
/// in-process by the current issuer and renewed at half its lifetime or as soon as the issuer changes.
public final class ServingIdentity: Service, Sendable {
  public let spiffeID: SPIFFEID
  /// The identity served to new connections; set once the CA is loaded.
  public let identity = LatestValue<TLSIdentity?>(nil)
  private let authority: LatestValue<IssuingAuthority?>
  private let settings: LatestValue<MTLSSettings>
  private let metrics: SentryMetrics
  private let logger: Logger
  private let now: @Sendable () -> Date

  public init(
    spiffeID: SPIFFEID, authority: LatestValue<IssuingAuthority?>, settings: LatestValue<MTLSSettings>,
    metrics: SentryMetrics, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }
  ) {
    self.spiffeID = spiffeID
    self.authority = authority
    self.settings = settings
    self.metrics = metrics
    self.logger = logger
    self.now = now
  }

  /// Issues a serving certificate from the current CA.
  @discardableResult
  public func renew() -> TLSIdentity? {
    guard let current = authority.current else { return nil }
    let key = KeyAlgorithm.ecdsaP256.makePrivateKey()
    let settings = settings.current
    do {
      let issued = try current.issue(
        WorkloadCertificateRequest(
          publicKey: key.publicKey, spiffeID: spiffeID, now: now(),
          ttl: TimeInterval(settings.workloadCertTTL.nanoseconds) / 1e9,
          allowedClockSkew: TimeInterval(settings.allowedClockSkew.nanoseconds) / 1e9))
      let tls = try TLSIdentity(certificateChain: [issued.leaf] + current.issuerChain, privateKey: key)
      identity.set(tls)
      return tls
    } catch {
      metrics.servingCertificateFailures.increment()
      logger.error("Failed to issue sentry's own certificate", metadata: ["error": "\(error)"])
      return nil
    }
  }

  public func run() async throws {
    let changes = authority.updates()
    try await untilShutdown { [self] in
      await withTaskGroup(of: Void.self) { group in
        group.addTask {
          for await _ in changes { self.renew() }
        }
        group.addTask {
          while !Task.isCancelled {
            let renewAt = self.identity.current.map {
              SVIDClient.renewalTime(notBefore: $0.leaf.notValidBefore, notAfter: $0.leaf.notValidAfter)
            }
            let wait = renewAt.map { max(1, $0.timeIntervalSince(self.now())) } ?? 60
            try? await Task.sleep(for: .seconds(min(wait, 60)))
            if let renewAt, self.now() >= renewAt { self.renew() }
          }
        }
      }
    }
  }
}
