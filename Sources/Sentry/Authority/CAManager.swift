import ControlPlaneKit
import Foundation
import Kubernetes
import Logging
import ServiceLifecycle
import Synchronization
import X509

/// Keeps sentry's CA loaded from its store: generates one when nothing is stored, refuses (and stays unready) when
/// what is stored is partial, inconsistent or invalid, and picks up a changed issuer or new anchors without a
/// restart.
public final class CAManager: Service, Sendable {
  /// The CA in use; `nil` until one is loaded.
  public let authority = LatestValue<IssuingAuthority?>(nil)
  /// The JWT signer in use (with `--jwt-enabled`); `nil` until loaded.
  public let jwtIssuer = LatestValue<JWTIssuer?>(nil)
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
  private let jwt: JWTSettings?
  private let lifecycle: CALifecycle

  public init(
    store: any CAStore, trustDomain: String, namespace: String, keyAlgorithm: KeyAlgorithm,
    allowedClockSkew: @escaping @Sendable () -> TimeInterval, metrics: SentryMetrics, readiness: ReadinessTargets?,
    logger: Logger, jwt: JWTSettings? = nil, lifecycle: CALifecycle = CALifecycle(),
    now: @escaping @Sendable () -> Date = { Date() }
  ) {
    self.jwt = jwt
    self.lifecycle = lifecycle
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

  /// Whether everything asked for is loaded (the CA, and the JWT signer with `--jwt-enabled`).
  private var isComplete: Bool { authority.current != nil && (jwt == nil || jwtIssuer.current != nil) }

  public func run() async throws {
    // Store changes and due times (a JWT key to promote or retire) wake the loop alike.
    let (wakeUps, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    let changes = store.changes()
    let forward = Task {
      for await _ in changes { wake.yield() }
    }
    defer { forward.cancel() }
    defer { wakeTimer.withLock { $0?.cancel() } }
    try await untilShutdown { [self] in
      var backoff = Backoff(initial: .seconds(1))
      let origin = ContinuousClock.now
      // Load until a CA is in place, retrying with backoff: a missing object or a refused bundle may be fixed.
      while !isComplete {
        if await reload() == .retryAtOnce { continue }
        if isComplete { break }
        try await Task.sleep(for: backoff.next(now: .now - origin, random: .random(in: 0..<1)))
      }
      schedule(wake)
      for await _ in wakeUps {
        // A write of our own (or of another replica) lands here too; a conflict means read again.
        while await reload() == .retryAtOnce {}
        schedule(wake)
      }
    }
  }

  /// The next times something stored falls due (a JWT key step, the issuer's renewal), from the last reload.
  private let deadlines = Mutex<[Deadline: Date]>([:])
  enum Deadline: Hashable { case jwtRotation, issuerRenewal }

  private func setDeadline(_ kind: Deadline, _ date: Date?) {
    deadlines.withLock { $0[kind] = date }
  }
  private let wakeTimer = Mutex<Task<Void, Never>?>(nil)

  /// Wakes the loop when the deadline falls due.
  private func schedule(_ wake: AsyncStream<Void>.Continuation) {
    wakeTimer.withLock { task in
      task?.cancel()
      task = nil
      guard let due = deadlines.withLock({ $0.values.min() }) else { return }
      let delay = max(0, due.timeIntervalSince(now()))
      task = Task {
        try? await Task.sleep(for: .milliseconds(Int64(delay * 1000) + 10))
        if !Task.isCancelled { wake.yield() }
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
    let rotation = (try? RootRotationState(json: stored[.rootRotation])) ?? nil
    metrics.rootRotationStage.set(Double(rotation?.stage.number ?? 0))
    switch CAStoreDecision.decide(stored, store: store) {
    case .refuse(let reason):
      report(reason)
      return .failed

    case .generate:
      logger.info("Root and issuer certs not found: generating self signed CA")
      var update = CAStoreUpdate()
      do {
        let (generated, rootKey) = try IssuingAuthority.generateWithRootKey(
          trustDomain: trustDomain, namespace: namespace, keyAlgorithm: keyAlgorithm, now: now(),
          rootValidity: lifecycle.rootValidity, issuerValidity: lifecycle.issuerValidity,
          allowedClockSkew: allowedClockSkew())
        let material = try generated.material
        update.entries = [
          .trustAnchors: material.trustAnchorsPEM, .issuerCertificate: material.issuerCertificatePEM,
          .issuerKey: material.issuerKeyPEM,
        ]
        if lifecycle.keepRootKey { update.entries[.rootKey] = try rootKey.serializeAsPEM().pemString + "\n" }
      } catch {
        report("failed to generate CA bundle: \(error)")
        return .failed
      }
      do {
        try await store.apply(update, over: stored)
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
      return await reloadJWT(stored)

    case .use(let material):
      guard let verified = await verify(material) else { return .failed }
      install(verified)
      if let outcome = await renewIssuerIfDue(verified, stored) { return outcome }
      return await reloadJWT(stored)
    }
  }

  /// With `--keep-root-key` and the root's key stored: a new issuer under the same root once the current one has
  /// used its share of life. Replicas race with resourceVersion preconditions; the loser reads the winner's issuer.
  /// Returns nil when nothing was written.
  private func renewIssuerIfDue(_ current: IssuingAuthority, _ stored: StoredCA) async -> Outcome? {
    guard lifecycle.keepRootKey else { return nil }
    guard let rootPEM = stored[.rootKey] else {
      setDeadline(.issuerRenewal, nil)
      warnOnce(
        "The issuer is not renewed automatically: \(store.describe(.rootKey)) is empty (sentry keeps the key only of "
          + "a root it generates). Renew it with `sentry ca renew` before it expires at \(current.issuer.notValidAfter)."
      )
      return nil
    }
    let due = lifecycle.renewalTime(of: current.issuer, allowedClockSkew: allowedClockSkew())
    let moment = now()
    guard moment >= due else {
      setDeadline(.issuerRenewal, due)
      return nil
    }
    setDeadline(.issuerRenewal, nil)
    let renewed: IssuingAuthority
    let material: CAMaterial
    do {
      let rootKey = try Certificate.PrivateKey(pemEncoded: rootPEM)
      renewed = try current.renewedIssuer(
        rootKey: rootKey, now: moment, validity: lifecycle.issuerValidity, allowedClockSkew: allowedClockSkew())
      // Near the root's end a new issuer would not outlive the current one: the root must be rotated instead.
      guard renewed.issuer.notValidAfter > current.issuer.notValidAfter else {
        warnOnce(
          "The issuer cannot be renewed past the root, which expires at \(renewed.issuer.notValidAfter): rotate the "
            + "root (sentry ca rotate-root) before then.")
        return nil
      }
      material = try renewed.material
    } catch {
      warnOnce("The issuer is due for renewal but cannot be renewed: \(error)")
      return nil
    }
    do {
      try await store.apply(
        CAStoreUpdate(entries: [
          .issuerCertificate: material.issuerCertificatePEM, .issuerKey: material.issuerKeyPEM,
        ]), over: stored)
      logger.info(
        "Issuer certificate renewed under the same root",
        metadata: ["issuer-expiry": "\(renewed.issuer.notValidAfter)"])
    } catch  where error.code == .conflict {
      // Another replica renewed it first (or something else changed): read again.
    } catch {
      warnOnce("Cannot store the renewed issuer: \(error.message)")
      return .failed
    }
    return .retryAtOnce
  }

  private let lastWarning = Mutex<String?>(nil)

  private func warnOnce(_ message: String) {
    let isNew = lastWarning.withLock { last in
      defer { last = message }
      return last != message
    }
    if isNew { logger.warning("\(message)") }
  }

  /// The JWT half, with `--jwt-enabled`: generate a key and set when none is stored, verify and use them, keep the
  /// ConfigMap's copy of the set current, and carry out a key rotation's due steps.
  private func reloadJWT(_ stored: StoredCA) async -> Outcome {
    guard let jwt else {
      setDeadline(.jwtRotation, nil)
      clearProblem()
      return .done
    }
    switch JWTStoreDecision.decide(stored, store: store) {
    case .refuse(let reason):
      report(reason)
      return .failed
    case .generate:
      logger.info("Generating JWT signing key and persisting to store")
      do {
        // RSA key generation runs off the cooperative threads (it can take seconds in unoptimised builds).
        let update = try await runBlocking { Result { try JWTStoreDecision.generated() } }.get()
        var withCopy = update
        if stored.publishesAnchors { withCopy.published[.jwks] = update.entries[.jwks] ?? nil }
        try await store.apply(withCopy, over: stored)
      } catch let error as CAStoreError where error.code == .conflict {
        return .retryAtOnce
      } catch {
        report("failed to store the JWT signing key: \(error)")
        return .failed
      }
      return .retryAtOnce
    case .use(let pem, let json, let publish):
      let issuer: JWTIssuer
      let rotation: JWTRotationState
      do {
        let keySet = try JWKSet(json: json)
        let loaded = try JWTSigningKey(pem: pem, algorithm: jwt.algorithm)
        let entry = try keySet.entry(for: loaded.publicJWK, configuredKeyID: jwt.keyID)
        let key = loaded.withKeyID(jwt.keyID ?? entry.keyID ?? loaded.publicJWK.thumbprint)
        issuer = try await JWTIssuer(key: key, keySet: keySet, issuer: jwt.issuer, ttl: jwt.ttl)
        rotation = try JWTRotationState(json: stored[.jwtRotation])
        var (update, due) = try rotation.step(
          stored: stored, currentKeyID: key.keyID, ttl: jwt.ttl, skew: allowedClockSkew(), now: now())
        if publish, update == nil { update = CAStoreUpdate(published: [.jwks: json]) }
        if let update {
          do {
            try await store.apply(update, over: stored)
          } catch  where error.code == .conflict {
            return .retryAtOnce
          } catch {
            report("failed to update the JWT keys: \(error.message)")
            return .failed
          }
          return .retryAtOnce
        }
        setDeadline(.jwtRotation, due)
      } catch let error as JWTKeyError {
        report("\(store.describe(.jwtSigningKey)), \(store.describe(.jwks)): \(error.message)")
        return .failed
      } catch {
        report("cannot use the JWT signing key: \(error)")
        return .failed
      }
      if jwtIssuer.current?.key.keyID != issuer.key.keyID || jwtIssuer.current?.keySet != issuer.keySet {
        if jwtIssuer.current != nil {
          logger.info("JWT signing keys changed", metadata: ["kid": "\(issuer.key.keyID)"])
        }
        jwtIssuer.set(issuer)
        logger.info("JWT issuing enabled", metadata: ["kid": "\(issuer.key.keyID)"])
      }
      clearProblem()
      markReadyIfComplete()
      return .done
    }
  }

  private func markReadyIfComplete() {
    if isComplete { readiness?.markReady(Self.readinessTarget) }
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
    markReadyIfComplete()
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
