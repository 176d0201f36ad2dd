import ControlPlaneKit
import Foundation
import Kubernetes
import X509

/// What `dapr mtls expiry`, `dapr mtls export` and `dapr mtls renew-certificate` do, against the API server and
/// without Helm: read, export and replace the CA in the `dapr-trust-bundle` Secret and ConfigMap.
public struct CAMaintenance: Sendable {
  public let client: KubernetesClient
  public let namespace: String
  public let keys: [CAStoreEntry: String]

  public init(client: KubernetesClient, namespace: String, keys: [CAStoreEntry: String]) {
    self.client = client
    self.namespace = namespace
    self.keys = keys
  }

  var store: KubernetesCAStore {
    KubernetesCAStore(client: client, namespace: namespace, keys: keys, logger: .init(label: "dapr.sentry.ca"))
  }

  /// The CA stored now, verified.
  public func current(now: Date = Date()) async throws -> IssuingAuthority {
    let store = self.store
    return try await verifiedAuthority(try await store.read(), store: store, now: now)
  }

  /// One line per certificate: when it expires and how long is left, with Dapr CLI's warning under 30 days.
  public func expiryReport(now: Date = Date()) async throws -> [String] {
    let authority = try await current(now: now)
    var lines: [String] = []
    let format = ISO8601DateFormatter()
    for (index, root) in authority.anchors.certificates.enumerated() {
      lines.append(
        "root \(index + 1): expires \(format.string(from: root.notValidAfter)) (\(Self.remaining(root.notValidAfter, now)))"
      )
      let days = Int(root.notValidAfter.timeIntervalSince(now) / 86_400)
      if days < 30 {
        lines.append(
          "Dapr root certificate of your Kubernetes cluster expires in \(days) days. Expiry date: "
            + "\(format.string(from: root.notValidAfter).replacingOccurrences(of: "Z", with: "")) UTC.")
      }
    }
    lines.append(
      "issuer: expires \(format.string(from: authority.issuer.notValidAfter)) (\(Self.remaining(authority.issuer.notValidAfter, now)))"
    )
    let stored = try await store.read()
    if let rotation = try RootRotationState(json: stored[.rootRotation]) { lines.append(rotation.summary) }
    return lines
  }

  static func remaining(_ notAfter: Date, _ now: Date) -> String {
    let seconds = notAfter.timeIntervalSince(now)
    if seconds <= 0 { return "expired" }
    return "\(Int(seconds / 86_400)) days and \(Int(seconds.truncatingRemainder(dividingBy: 86_400) / 3600)) hours left"
  }

  /// Writes `ca.crt`, `issuer.crt` and `issuer.key` (mode 0600) into `directory`.
  public func export(to directory: String) async throws -> [String] {
    let material = try await current().material
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    var written: [String] = []
    for (name, text) in [
      ("ca.crt", material.trustAnchorsPEM), ("issuer.crt", material.issuerCertificatePEM),
      ("issuer.key", material.issuerKeyPEM),
    ] {
      let path = (directory as NSString).appendingPathComponent(name)
      guard
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
      else { throw CAMaintenanceError("cannot write \(path)") }
      written.append(path)
    }
    return written
  }

  /// Replaces the CA with a new root and issuer valid for `validity`, signed with `rootKey` when given (reusing
  /// the old root's key keeps its identity), and keeps the old roots next to the new one in `ca.crt` unless
  /// `dropOldRoots`, so that sidecars started before the renewal and after it trust each other until all restart.
  public func renew(
    validFor validity: TimeInterval, trustDomain: String, keyAlgorithm: KeyAlgorithm,
    rootKey: Certificate.PrivateKey? = nil, dropOldRoots: Bool = false, now: Date = Date()
  ) async throws -> IssuingAuthority {
    let stored = try await store.read()
    let oldAnchors = (try? CAMaterial.certificates(in: stored.trustAnchors ?? "")) ?? []
    let renewed = try IssuingAuthority.generate(
      trustDomain: trustDomain, namespace: namespace, keyAlgorithm: keyAlgorithm, now: now, validity: validity,
      rootKey: rootKey)
    let anchors = renewed.anchors.certificates + (dropOldRoots ? [] : oldAnchors.filter { $0.notValidAfter > now })
    let combined = try IssuingAuthority(
      anchors: anchors, issuerChain: renewed.issuerChain, issuerKey: renewed.issuerKey)
    let material = try combined.material
    try await store.write(material, over: stored)
    let afterWrite = try await store.read()
    try await store.publish(anchorsPEM: material.trustAnchorsPEM, over: afterWrite)
    return combined
  }
}

extension CAMaintenance {
  /// Starts a JWT key rotation (see ``JWTRotationState/begin(stored:publishFor:now:)``); returns when the new key
  /// signs.
  public func rotateJWTKey(publishFor: TimeInterval, now: Date = Date()) async throws -> Date {
    let stored = try await store.read()
    let update: CAStoreUpdate
    do {
      update = try JWTRotationState.begin(stored: stored, publishFor: publishFor, now: now)
    } catch {
      throw CAMaintenanceError(error.message)
    }
    try await store.apply(update, over: stored)
    return now + publishFor
  }
}

/// Why a maintenance command failed.
public struct CAMaintenanceError: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}
