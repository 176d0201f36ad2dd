import ControlPlaneKit
import Foundation
import Kubernetes
import Logging
import X509

/// What one run of `sentry ca rotate-root` did and found.
public struct RootRotationOutcome: Sendable {
  /// The stage the rotation is at after the run (0: none, or finished).
  public var stage: Int
  /// Lines for the user, in order.
  public var lines: [String] = []
  /// Stage 2's report: the Dapr pods (`namespace/name`) that still lack the new root.
  public var podsLacking: [String] = []
  /// The pods this run deleted (`--restart-pods`).
  public var restarted: [String] = []

  mutating func note(_ stage: Int, _ line: String) {
    self.stage = stage
    lines.append(line)
  }
}

/// How `sentry ca rotate-root` makes the new root and paces pod restarts.
public struct RootRotationOptions: Sendable {
  public var trustDomain: String
  public var keyAlgorithm: KeyAlgorithm
  public var rootValidity: TimeInterval
  public var issuerValidity: TimeInterval
  /// Delete the pods that lack the new root, one per ``restartInterval``.
  public var restartPods: Bool
  public var restartInterval: Duration
  /// The `daprsystem` Configuration whose workload TTL and clock skew bound stage 4.
  public var configurationName: String

  public init(
    trustDomain: String = "cluster.local", keyAlgorithm: KeyAlgorithm = .ed25519,
    rootValidity: TimeInterval = 10 * 365 * 86_400, issuerValidity: TimeInterval = 365 * 86_400,
    restartPods: Bool = false, restartInterval: Duration = .seconds(10), configurationName: String = "daprsystem"
  ) {
    self.trustDomain = trustDomain
    self.keyAlgorithm = keyAlgorithm
    self.rootValidity = rootValidity
    self.issuerValidity = issuerValidity
    self.restartPods = restartPods
    self.restartInterval = restartInterval
    self.configurationName = configurationName
  }
}

extension CAMaintenance {
  /// The store with the root key Secret when there is one (sentry runs with `--keep-root-key`).
  func storeWithRootKey() async throws -> KubernetesCAStore {
    let exists: Bool
    do {
      _ = try await client.get(Secret.self, namespace: namespace, name: KubernetesCAStore.rootKeySecretName)
      exists = true
    } catch  where error.code == .notFound {
      exists = false
    }
    return KubernetesCAStore(
      client: client, namespace: namespace, keys: keys,
      rootKeySecret: exists ? KubernetesCAStore.rootKeySecretName : nil, logger: .init(label: "dapr.sentry.ca"))
  }

  /// Carries a root rotation as far as it can go now (see ``RootRotationState``): each run resumes from the stored
  /// stage, and running it again when nothing is due changes nothing.
  public func rotateRoot(
    _ options: RootRotationOptions, now: @Sendable () -> Date = { Date() },
    sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
  ) async throws -> RootRotationOutcome {
    let store = try await storeWithRootKey()
    let settings = await SentryServer.loadSettings(
      from: client, namespace: namespace, name: options.configurationName, logger: Logger(label: "dapr.sentry"))
    let workloadTTL = TimeInterval(settings.workloadCertTTL.nanoseconds) / 1e9
    let skew = TimeInterval(settings.allowedClockSkew.nanoseconds) / 1e9
    var outcome = RootRotationOutcome(stage: 0)
    let format = ISO8601DateFormatter()
    // Each pass reads, decides one step and writes it; passes go on while a step leads straight to the next. A
    // write that meets another writer (sentry publishing the bundle, another run) is a conflict: the pass starts
    // over from what is stored, which every step allows.
    for _ in 0..<12 {
      let stored = try await store.read()
      let current = try await verifiedAuthority(stored, store: store, now: now())
      let step = try nextStep(
        stored: stored, current: current, options, now: now(), workloadTTL: workloadTTL, skew: skew)
      switch step {
      case .begin(let update, _):
        guard try await store.applyUnlessConflicting(update, over: stored) else { continue }
        outcome.note(
          1,
          "stage 1: the new root is in ca.crt (Secret and ConfigMap) next to the old one; sentry still signs with the "
            + "old issuer")

      case .publish(let update):
        guard try await store.applyUnlessConflicting(update, over: stored) else { continue }
        outcome.lines.append("stage 1: published the bundle in the ConfigMap (an earlier run stopped before it)")

      case .switchWhenNoPodIsLeft(let newRoot, let update, let state):
        outcome.stage = 2
        var lacking = try await podsLacking(newRoot)
        if !lacking.isEmpty && options.restartPods {
          try await restart(lacking, every: options.restartInterval, sleep: sleep)
          outcome.restarted += lacking
          outcome.lines += lacking.map { "stage 2: restarted \($0)" }
          lacking = try await podsLacking(newRoot)
        }
        outcome.podsLacking = lacking
        guard lacking.isEmpty else {
          outcome.lines.append(
            "stage 2: \(lacking.count) Dapr pod(s) hold trust anchors without the new root; restart them (or run "
              + "again with --restart-pods), then run this command again:")
          outcome.lines += lacking.map { "  \($0)" }
          return outcome
        }
        guard try await store.applyUnlessConflicting(update, over: stored) else { continue }
        outcome.note(
          3,
          "stage 3: every Dapr pod trusts the new root; sentry now signs with the issuer under it. The old root "
            + "leaves the bundle at \(format.string(from: state.oldRootsLeaveAt ?? now()))")

      case .waitUntil(let date):
        outcome.note(
          3,
          "stage 3: certificates under the old root are valid until \(format.string(from: date)); run this command "
            + "again after that to remove the old root (stage 4)")
        return outcome

      case .dropOldRoots(let update):
        guard try await store.applyUnlessConflicting(update, over: stored) else { continue }
        outcome.lines.append("stage 4: the old root left ca.crt (Secret and ConfigMap)")

      case .finish(let update):
        guard try await store.applyUnlessConflicting(update, over: stored) else { continue }
        outcome.stage = 0
        outcome.lines.append("the root rotation is complete")
        return outcome
      }
    }
    return outcome
  }

  private func nextStep(
    stored: StoredCA, current: IssuingAuthority, _ options: RootRotationOptions, now: Date,
    workloadTTL: TimeInterval, skew: TimeInterval
  ) throws -> RootRotationStep {
    do {
      return try RootRotation.next(
        stored: stored, current: current, now: now, workloadTTL: workloadTTL, allowedClockSkew: skew
      ) {
        try IssuingAuthority.generateWithRootKey(
          trustDomain: options.trustDomain, namespace: namespace, keyAlgorithm: options.keyAlgorithm, now: now,
          rootValidity: options.rootValidity, issuerValidity: options.issuerValidity, allowedClockSkew: skew)
      }
    } catch let error as RootRotationError {
      throw CAMaintenanceError(error.message)
    }
  }

  /// Deletes `pods` (`namespace/name`) one per `interval`, for their controllers to recreate them.
  private func restart(
    _ pods: [String], every interval: Duration, sleep: @Sendable (Duration) async throws -> Void
  ) async throws {
    for (index, pod) in pods.enumerated() {
      if index > 0 { try await sleep(interval) }
      let parts = pod.split(separator: "/", maxSplits: 1).map(String.init)
      do {
        try await client.delete(Pod.self, namespace: parts[0], name: parts[1])
      } catch {
        if error.code != .notFound { throw error }
      }
    }
  }

  /// Verifies stored credentials as sentry would.
  func verifiedAuthority(_ stored: StoredCA, store: KubernetesCAStore, now: Date) async throws -> IssuingAuthority {
    switch CAStoreDecision.decide(stored, store: store) {
    case .use(let material), .publishThenUse(let material):
      do {
        return try await IssuingAuthority(material: material, now: now)
      } catch {
        throw CAMaintenanceError((error.part.map { store.describe($0) + ": " } ?? "") + error.message)
      }
    case .generate:
      throw CAMaintenanceError(
        "Secret \(namespace)/dapr-trust-bundle holds no CA yet (sentry generates one when it starts)")
    case .refuse(let reason):
      throw CAMaintenanceError(reason)
    }
  }

  /// Stage 2's report: running Dapr pods, in every namespace, whose daprd container's `DAPR_TRUST_ANCHORS` lacks
  /// `newRoot`. Pods already being deleted are left out, and so are pods this control plane did not inject (their
  /// daprd's `DAPR_CONTROLPLANE_NAMESPACE` names another namespace, or none).
  func podsLacking(_ newRoot: Certificate) async throws -> [String] {
    let pods = try await client.listAll(Pod.self).items.filter { $0.metadata.deletionTimestamp == nil }
    let anchors: [(name: String, anchors: String?)] = pods.compactMap { pod in
      let daprd = pod.spec.containers.first { $0.name == "daprd" }
      func variable(_ name: String) -> String? { daprd?.env?.first { $0.name == name }?.value }
      // Injected by this control plane: daprd names its namespace (every injector since Dapr 1.12 sets it).
      guard daprd == nil || variable(DaprdEnvironment.controlPlaneNamespace) == namespace else { return nil }
      let value = daprd.map { _ in variable(DaprdEnvironment.trustAnchors) ?? "" }
      return ("\(pod.metadata.namespace ?? "")/\(pod.metadata.name ?? "")", value)
    }
    return RootRotation.podsLacking(newRoot, in: anchors)
  }
}

extension CAStore {
  /// Applies `update`; false when another writer came first (nothing of this update was written, or the part
  /// written is what a re-read sees).
  func applyUnlessConflicting(_ update: CAStoreUpdate, over stored: StoredCA) async throws -> Bool {
    do {
      try await apply(update, over: stored)
      return true
    } catch {
      guard error.code == .conflict else { throw error }
      return false
    }
  }
}
