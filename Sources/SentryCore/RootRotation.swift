import ControlPlaneCore
import Crypto
import Foundation
import SwiftASN1
import X509

/// A root rotation in stages (`sentry ca rotate-root`), kept in the trust bundle Secret (`root-rotation.json`) so
/// that every run resumes where the last one stopped:
///
/// 1. **trusting**: the new root joins `ca.crt` (Secret and ConfigMap) next to the old one; sentry keeps signing
///    with the old issuer, and the issuer under the new root waits in `next-issuer.crt`/`next-issuer.key`.
/// 2. (a report, not a state) Dapr pods whose injected `DAPR_TRUST_ANCHORS` lack the new root are listed, and
///    restarted on request: daprd reads its anchors from its environment, so only a restart gives it the new root.
/// 3. **switched**: once no such pod is left, the waiting issuer replaces the old one (and its root's key the old
///    root key); sidecars trust both roots, so leaves of either issuer verify everywhere.
/// 4. the old roots leave `ca.crt` once the last certificate they anchor has expired: the switch plus the workload
///    certificate lifetime plus the allowed clock skew.
///
/// Pure: it turns what is stored into the next update; ``CAMaintenance`` reads, writes and lists pods.
public struct RootRotationState: Sendable, Hashable, StoredState {
  public enum Stage: String, Sendable, Hashable, Codable {
    case trusting, switched

    /// The stage's number in the runbook (and the `dapr_sentry_root_rotation_stage` gauge).
    public var number: Int {
      switch self {
      case .trusting: 1
      case .switched: 3
      }
    }
  }

  public var stage: Stage
  public var startedAt: Date
  public var switchedAt: Date?
  /// SHA-256 of the new root's DER, hex.
  public var newRoot: String
  /// When the old roots may leave the bundle (set at the switch).
  public var oldRootsLeaveAt: Date?

  public init(stage: Stage, startedAt: Date, newRoot: String, switchedAt: Date? = nil, oldRootsLeaveAt: Date? = nil) {
    self.stage = stage
    self.startedAt = startedAt
    self.newRoot = newRoot
    self.switchedAt = switchedAt
    self.oldRootsLeaveAt = oldRootsLeaveAt
  }

  public init?(json: String?) throws(RootRotationError) {
    guard let json else { return nil }
    do {
      self = try Self.decoded(from: json)
    } catch {
      throw RootRotationError("the root rotation state (root-rotation.json) is not readable: \(error)")
    }
  }

  /// The hex SHA-256 of a certificate's DER, which names roots in the state and in reports.
  public static func fingerprint(_ certificate: Certificate) -> String {
    var serializer = DER.Serializer()
    try? serializer.serialize(certificate)
    return SHA256.hash(data: serializer.serializedBytes).map { String(format: "%02x", $0) }.joined()
  }

  /// One line for `sentry ca expiry`.
  public var summary: String {
    let format = ISO8601DateFormatter()
    switch stage {
    case .trusting:
      return "root rotation: stage 1 since \(format.string(from: startedAt)): the new root is trusted, the old "
        + "issuer signs; restart the Dapr pods `sentry ca rotate-root` lists, then run it again"
    case .switched:
      let leave = oldRootsLeaveAt.map { format.string(from: $0) } ?? "?"
      return "root rotation: stage 3 since \(format.string(from: switchedAt ?? startedAt)): the issuer under the new "
        + "root signs; the old root leaves the bundle at \(leave) (`sentry ca rotate-root` then)"
    }
  }
}

/// What one run of `sentry ca rotate-root` does next, decided from what is stored.
public enum RootRotationStep: Sendable, Equatable {
  /// Stage 1: store this (new root in the bundle, next issuer waiting, the state).
  case begin(CAStoreUpdate, RootRotationState)
  /// Stage 1 is stored but the ConfigMap does not publish the bundle yet (a run stopped in between): publish it.
  case publish(CAStoreUpdate)
  /// Stage 2/3: the pods still to restart decide; when none is left, apply this switch.
  case switchWhenNoPodIsLeft(newRoot: Certificate, switchUpdate: CAStoreUpdate, state: RootRotationState)
  /// Stage 4 is not due yet.
  case waitUntil(Date)
  /// Stage 4: the old roots leave the bundle.
  case dropOldRoots(CAStoreUpdate)
  /// Stage 4 is done: the state goes.
  case finish(CAStoreUpdate)
}

public enum RootRotation {
  /// The next step from what is stored. `generate` makes the new root, its key and its issuer (injected so that
  /// tests can use fixed keys).
  public static func next(
    stored: StoredCA, current: IssuingAuthority, now: Date, workloadTTL: TimeInterval, allowedClockSkew: TimeInterval,
    generate: () throws -> (authority: IssuingAuthority, rootKey: Certificate.PrivateKey)
  ) throws -> RootRotationStep {
    guard let state = try RootRotationState(json: stored[.rootRotation]) else {
      let (fresh, rootKey) = try generate()
      guard let newRoot = fresh.anchors.certificates.first else { throw RootRotationError("no new root was made") }
      let anchors = try TrustBundle(certificates: current.anchors.certificates + [newRoot]).pemEncoded()
      let material = try fresh.material
      let begun = RootRotationState(stage: .trusting, startedAt: now, newRoot: RootRotationState.fingerprint(newRoot))
      var update = CAStoreUpdate(
        entries: [
          .trustAnchors: anchors, .nextIssuerCertificate: material.issuerCertificatePEM,
          .nextIssuerKey: material.issuerKeyPEM, .rootRotation: begun.json,
        ],
        published: [.trustAnchors: anchors])
      if stored[.rootKey] != nil { update.entries[.nextRootKey] = try rootKey.serializeAsPEM().pemString + "\n" }
      return .begin(update, begun)
    }
    // A run that stopped between the Secret and the ConfigMap: publish first.
    if stored.publishesAnchors, let anchors = stored.trustAnchors,
      !CAStoreDecision.sameCertificates(stored.publishedAnchors ?? "", anchors)
    {
      return .publish(CAStoreUpdate(published: [.trustAnchors: anchors]))
    }
    guard
      let newRoot = current.anchors.certificates.first(where: { RootRotationState.fingerprint($0) == state.newRoot })
    else {
      throw RootRotationError(
        "the new root named in root-rotation.json is no longer in ca.crt; restore it or remove root-rotation.json")
    }
    switch state.stage {
    case .trusting:
      guard let nextIssuer = stored[.nextIssuerCertificate], let nextKey = stored[.nextIssuerKey] else {
        throw RootRotationError(
          "the rotation is at stage 1 but next-issuer.crt or next-issuer.key is missing from the trust bundle Secret; "
            + "remove root-rotation.json to start again")
      }
      var switched = state
      switched.stage = .switched
      switched.switchedAt = now
      switched.oldRootsLeaveAt = now + workloadTTL + allowedClockSkew
      var update = CAStoreUpdate(entries: [
        .issuerCertificate: nextIssuer, .issuerKey: nextKey, .nextIssuerCertificate: nil, .nextIssuerKey: nil,
        .rootRotation: switched.json,
      ])
      if let nextRootKey = stored[.nextRootKey] {
        update.entries[.rootKey] = nextRootKey
        update.entries[.nextRootKey] = .some(nil)
      }
      return .switchWhenNoPodIsLeft(newRoot: newRoot, switchUpdate: update, state: switched)

    case .switched:
      // The old roots are gone from both copies: only the state is left to clear.
      if current.anchors.certificates == [newRoot] {
        let entries: [CAStoreEntry: String?] = [.rootRotation: nil]
        return .finish(CAStoreUpdate(entries: entries))
      }
      let leaveAt = state.oldRootsLeaveAt ?? now
      guard now >= leaveAt else { return .waitUntil(leaveAt) }
      // The state stays until both copies hold the new root alone (sentry publishes the Secret's anchors while it
      // is there, rather than refusing a ConfigMap that lags).
      let anchors = try TrustBundle(certificates: [newRoot]).pemEncoded()
      return .dropOldRoots(CAStoreUpdate(entries: [.trustAnchors: anchors], published: [.trustAnchors: anchors]))
    }
  }

  /// The pods to restart in stage 2: those with an injected `daprd` container whose `DAPR_TRUST_ANCHORS` does not
  /// hold `newRoot`, as `namespace/name`, sorted. Pods without daprd are not Dapr's concern.
  public static func podsLacking(_ newRoot: Certificate, in pods: [(name: String, anchors: String?)]) -> [String] {
    let wanted = RootRotationState.fingerprint(newRoot)
    return pods.compactMap { pod -> String? in
      guard let anchors = pod.anchors else { return nil }
      let held = (try? CAMaterial.certificates(in: anchors)) ?? []
      return held.contains { RootRotationState.fingerprint($0) == wanted } ? nil : pod.name
    }.sorted()
  }
}

/// Why a rotation step cannot go on.
public struct RootRotationError: Error, Hashable, Sendable, CustomStringConvertible {
  public let message: String
  public var description: String { message }
  public init(_ message: String) { self.message = message }
}
