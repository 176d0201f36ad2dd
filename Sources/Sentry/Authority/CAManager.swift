import ControlPlaneKit
import Foundation
import Logging
import ServiceLifecycle

/// Keeps sentry's CA loaded from its store: generates one when nothing is stored, refuses (and stays unready) when
/// what is stored is partial, inconsistent or invalid, and picks up a changed issuer or new anchors without a
/// restart.
public final class CAManager: Service, Sendable {
  /// The CA in use; `nil` until one is loaded.
  public let authority = LatestValue<IssuingAuthority?>(nil)
  /// Why no CA (or no newer CA) could be loaded, if anything is wrong.
  public let problem = LatestValue<String?>(nil)

  /// The readiness target that turns ready once a CA is loaded.
  public static let readinessTarget = "sentry-trust-bundle"

  private let store: any CAStore
  private let trustDomain: String
  private let namespace: String
  private let keyAlgorithm: KeyAlgorithm
  private let allowedClockSkew: @Sendable () -> TimeInterval
  private let metrics: SentryMetrics
  private let readiness: ReadinessTargets?
  private let logger: Logger
  private let now: @Sendable () -> Date

  public init(
    store: any CAStore, trustDomain: String, namespace: String, keyAlgorithm: KeyAlgorithm,
    allowedClockSkew: @escaping @Sendable () -> TimeInterval, metrics: SentryMetrics, readiness: ReadinessTargets?,
    logger: Logger, now: @escaping @Sendable () -> Date = { Date() }
  ) {
    self.store = store
    self.trustDomain = trustDomain
    self.namespace = namespace
    self.keyAlgorithm = keyAlgorithm
    self.allowedClockSkew = allowedClockSkew
    self.metrics = metrics
    self.readiness = readiness
    self.logger = logger
    self.now = now
  }

  public func run() async throws {
    let changes = store.changes()
    try await untilShutdown { [self] in
      var backoff = Duration.seconds(1)
      // Load until a CA is in place, retrying with backoff: a missing object or a refused bundle may be fixed.
      while authority.current == nil {
        if await reload() == .retryAtOnce { continue }
        if authority.current != nil { break }
        try await Task.sleep(for: backoff)
        backoff = min(backoff * 2, .seconds(30))
      }
      for await _ in changes {
        // A write of our own (or of another replica) lands here too; a conflict means read again.
        while await reload() == .retryAtOnce {}
      }
    }
  }

  enum Outcome: Equatable { case done, failed, retryAtOnce }

  /// Reads the store once and acts on it.
  @discardableResult
  func reload() async -> Outcome {
    let stored: StoredCA
    do {
      stored = try await store.read()
    } catch {
      report(error.message)
      return .failed
    }
    switch CAStoreDecision.decide(stored, store: store) {
    case .refuse(let reason):
      report(reason)
      return .failed

    case .generate:
      logger.info("Root and issuer certs not found: generating self signed CA")
      let generated: IssuingAuthority
      let material: CAMaterial
      do {
        generated = try IssuingAuthority.generate(
          trustDomain: trustDomain, namespace: namespace, keyAlgorithm: keyAlgorithm, now: now(),
          allowedClockSkew: allowedClockSkew())
        material = try generated.material
      } catch {
        report("failed to generate CA bundle: \(error)")
        return .failed
      }
      do {
        try await store.write(material, over: stored)
      } catch  where error.code == .conflict {
        logger.info("Another sentry stored a CA first; using it")
        return .retryAtOnce
      } catch {
        report("failed to store CA bundle: \(error.message)")
        return .failed
      }
      // The anchors are published next; if that fails, the next read finds complete credentials and publishes them.
      return .retryAtOnce

    case .publishThenUse(let material):
      guard let verified = await verify(material) else { return .failed }
      do {
        try await store.publish(anchorsPEM: verified.anchorsPEM, over: stored)
      } catch  where error.code == .conflict {
        return .retryAtOnce
      } catch {
        report("failed to publish the trust anchors: \(error.message)")
        return .failed
      }
      install(verified)
      return .done

    case .use(let material):
      guard let verified = await verify(material) else { return .failed }
      install(verified)
      return .done
    }
  }

  private func verify(_ material: CAMaterial) async -> IssuingAuthority? {
    do {
      return try await IssuingAuthority(material: material, now: now())
    } catch {
      let place = error.part.map { store.describe($0) + ": " } ?? ""
      report(place + error.message)
      return nil
    }
  }

  private func install(_ next: IssuingAuthority) {
    let previous = authority.current
    if let previous, previous.issuer == next.issuer, previous.anchors == next.anchors {
      clearProblem()
      return
    }
    if previous == nil {
      logger.info("Root and issuer certs found: using credentials from store")
    } else {
      metrics.issuerCertificateChanged.increment()
      logger.warning("Issuer credentials changed; reloading")
      if previous?.anchors != next.anchors { logger.info("Trust anchors changed, reloading trust anchors") }
    }
    metrics.record(next)
    authority.set(next)
    clearProblem()
    readiness?.markReady(Self.readinessTarget)
    logger.info("CA certificate key pair ready", metadata: ["issuer-expiry": "\(next.issuer.notValidAfter)"])
  }

  private func report(_ message: String) {
    if problem.current != message {
      logger.error(
        "\(authority.current == nil ? "Sentry cannot become ready" : "Keeping the current CA"): \(message)")
      problem.set(message)
    }
  }

  private func clearProblem() {
    if problem.current != nil { problem.set(nil) }
  }
}
