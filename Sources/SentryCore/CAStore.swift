import ControlPlaneCore
import Foundation
import X509

/// One thing a CA store keeps. The first three are Dapr's credentials; the JWT entries are Dapr's too (`jwt.key`,
/// `jwks.json`); the rest are this sentry's own state, ignored by Dapr's.
public enum CAStoreEntry: String, Hashable, Sendable, CaseIterable {
  case trustAnchors, issuerCertificate, issuerKey
  /// The JWT signing key (`jwt.key`).
  case jwtSigningKey
  /// The published JWT key set (`jwks.json`), also in the ConfigMap.
  case jwks
  /// A key published in `jwks.json` that signs from a set time (`sentry ca rotate-jwt-key`).
  case jwtNextSigningKey
  /// When the next key signs, and until when retired keys stay published (JSON).
  case jwtRotation
  /// The root's private key (`--keep-root-key`): in its own Secret that only sentry may read.
  case rootKey
  /// A root rotation's waiting issuer, under the new root (`sentry ca rotate-root`, stage 1 until the switch).
  case nextIssuerCertificate, nextIssuerKey
  /// The new root's key during a rotation, next to ``rootKey``.
  case nextRootKey
  /// The root rotation's stage (JSON, ``RootRotationState``).
  case rootRotation

  /// Entries kept in the root key Secret rather than the trust bundle.
  public var isRootKey: Bool { self == .rootKey || self == .nextRootKey }

  /// The credential part, for the first three.
  public var part: CAMaterialError.Part? {
    switch self {
    case .trustAnchors: .trustAnchors
    case .issuerCertificate: .issuerCertificate
    case .issuerKey: .issuerKey
    default: nil
    }
  }

  /// The default Secret key or file name.
  public var defaultName: String {
    switch self {
    case .trustAnchors: "ca.crt"
    case .issuerCertificate: "issuer.crt"
    case .issuerKey: "issuer.key"
    case .jwtSigningKey: "jwt.key"
    case .jwks: "jwks.json"
    case .jwtNextSigningKey: "jwt.next.key"
    case .jwtRotation: "jwt-rotation.json"
    case .rootKey: "root.key"
    case .nextIssuerCertificate: "next-issuer.crt"
    case .nextIssuerKey: "next-issuer.key"
    case .nextRootKey: "next-root.key"
    case .rootRotation: "root-rotation.json"
    }
  }
}

/// What a CA store holds now: its entries (the Secret or the files) and, in Kubernetes, the ConfigMap's published
/// copies (`ca.crt`, `jwks.json`). Empty values read as absent.
public struct StoredCA: Sendable, Hashable {
  public var entries: [CAStoreEntry: String] = [:]
  /// The ConfigMap's entries (Kubernetes); empty where nothing is published separately (files).
  public var published: [CAStoreEntry: String] = [:]
  /// Whether this store publishes the anchors separately (the ConfigMap).
  public var publishesAnchors: Bool
  /// The versions the values were read at, for optimistic writes.
  public var versions = ObjectVersions()

  /// Store-specific versions (Kubernetes resourceVersions).
  public struct ObjectVersions: Sendable, Hashable {
    public var secret: String?
    public var configMap: String?
    public var rootKeySecret: String?
  }

  public init(
    trustAnchors: String? = nil, issuerCertificate: String? = nil, issuerKey: String? = nil,
    publishedAnchors: String? = nil, publishesAnchors: Bool
  ) {
    self.publishesAnchors = publishesAnchors
    self.trustAnchors = trustAnchors
    self.issuerCertificate = issuerCertificate
    self.issuerKey = issuerKey
    self.publishedAnchors = publishedAnchors
  }

  public subscript(entry: CAStoreEntry) -> String? {
    get { entries[entry] }
    set { entries[entry] = newValue.nonEmpty }
  }

  public var trustAnchors: String? {
    get { self[.trustAnchors] }
    set { self[.trustAnchors] = newValue }
  }
  public var issuerCertificate: String? {
    get { self[.issuerCertificate] }
    set { self[.issuerCertificate] = newValue }
  }
  public var issuerKey: String? {
    get { self[.issuerKey] }
    set { self[.issuerKey] = newValue }
  }
  /// The ConfigMap's `ca.crt` (Kubernetes); `nil` where there is no separate published copy (files).
  public var publishedAnchors: String? {
    get { published[.trustAnchors] }
    set { published[.trustAnchors] = newValue.nonEmpty }
  }
}

/// A change to a store: entries to set (a value) or remove (nil), in the credentials and in the published copy.
public struct CAStoreUpdate: Sendable, Hashable {
  public var entries: [CAStoreEntry: String?] = [:]
  public var published: [CAStoreEntry: String?] = [:]

  public init(entries: [CAStoreEntry: String?] = [:], published: [CAStoreEntry: String?] = [:]) {
    self.entries = entries
    self.published = published
  }

  public var isEmpty: Bool { entries.isEmpty && published.isEmpty }
}

/// Where CA material lives: the `dapr-trust-bundle` Secret and ConfigMap, or credential files.
public protocol CAStore: Sendable {
  /// Names an entry's place in messages, such as `Secret dapr-system/dapr-trust-bundle key issuer.key`.
  func describe(_ entry: CAStoreEntry) -> String
  /// The published anchors' place, such as `ConfigMap dapr-system/dapr-trust-bundle key ca.crt`.
  var publishedAnchorsDescription: String { get }
  /// Reads what is stored.
  func read() async throws(CAStoreError) -> StoredCA
  /// Applies `update` where `previous` was read, each object with its version as a precondition;
  /// ``CAStoreError/Code/conflict`` when someone else wrote first.
  func apply(_ update: CAStoreUpdate, over previous: StoredCA) async throws(CAStoreError)
  /// Signals (with no payload) whenever what is stored may have changed.
  func changes() -> AsyncStream<Void>
}

extension CAStore {
  public func describe(_ part: CAMaterialError.Part) -> String {
    describe(CAStoreEntry.allCases.first { $0.part == part } ?? .trustAnchors)
  }

  /// Writes new credentials where `previous` was read.
  public func write(_ material: CAMaterial, over previous: StoredCA) async throws(CAStoreError) {
    try await apply(
      CAStoreUpdate(entries: [
        .trustAnchors: material.trustAnchorsPEM, .issuerCertificate: material.issuerCertificatePEM,
        .issuerKey: material.issuerKeyPEM,
      ]), over: previous)
  }

  /// Publishes `anchorsPEM` (the ConfigMap) where `previous` was read.
  public func publish(anchorsPEM: String, over previous: StoredCA) async throws(CAStoreError) {
    try await apply(CAStoreUpdate(published: [.trustAnchors: anchorsPEM]), over: previous)
  }
}

/// Why a store could not be read or written.
public struct CAStoreError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Code: Hashable, Sendable { case missing, conflict, failed }
  public let code: Code
  public let message: String
  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }
  public var description: String { message }
}

/// What to do with what a store holds. Pure; ``CAManager`` carries it out.
///
/// Unlike Dapr, this never generates over anything a user stored: credentials that are partial, disagree with the
/// published anchors, or fail verification leave sentry unready with one message that says which object and key are
/// wrong and how to fix them.
public enum CAStoreDecision: Sendable, Equatable {
  /// Nothing is stored: generate a CA and store it.
  case generate
  /// Use these credentials (still to be verified).
  case use(CAMaterial)
  /// The credentials are complete but not yet published (the ConfigMap is empty): publish, then use.
  case publishThenUse(CAMaterial)
  /// Refuse, for this reason.
  case refuse(String)

  public static func decide(_ stored: StoredCA, store: any CAStore) -> CAStoreDecision {
    let parts: [(CAMaterialError.Part, String?)] = [
      (.trustAnchors, stored.trustAnchors), (.issuerCertificate, stored.issuerCertificate),
      (.issuerKey, stored.issuerKey),
    ]
    let present = parts.filter { $0.1 != nil }.map(\.0)
    let missing = parts.filter { $0.1 == nil }.map(\.0)

    if present.isEmpty {
      if let published = stored.publishedAnchors, stored.publishesAnchors, !published.isEmpty {
        return .refuse(
          "\(store.publishedAnchorsDescription) holds trust anchors, but \(missing.map(store.describe).joined(separator: ", ")) "
            + "are empty. Sentry will not generate a new CA over anchors that sidecars already trust: restore the "
            + "issuer credentials (for example from `sentry ca export`), or remove ca.crt from the ConfigMap to let "
            + "sentry generate a new CA (every Dapr pod must then be restarted).")
      }
      return .generate
    }
    guard missing.isEmpty, let anchors = stored.trustAnchors, let certificate = stored.issuerCertificate,
      let key = stored.issuerKey
    else {
      return .refuse(
        "\(present.map(store.describe).joined(separator: ", ")) \(present.count == 1 ? "is" : "are") set but "
          + "\(missing.map(store.describe).joined(separator: ", ")) \(missing.count == 1 ? "is" : "are") not. Sentry "
          + "will not overwrite partial credentials: add the missing \(missing.count == 1 ? "key" : "keys"), or remove "
          + "all three to let sentry generate a new CA.")
    }
    let material = CAMaterial(trustAnchorsPEM: anchors, issuerCertificatePEM: certificate, issuerKeyPEM: key)
    guard stored.publishesAnchors else { return .use(material) }
    guard let published = stored.publishedAnchors else { return .publishThenUse(material) }
    if !Self.sameCertificates(published, anchors) {
      // A root rotation (`sentry ca rotate-root`) changes the Secret, then the ConfigMap: in between, the Secret's
      // anchors are the ones to publish.
      if stored[.rootRotation] != nil { return .publishThenUse(material) }
      return .refuse(
        "\(store.publishedAnchorsDescription) differs from \(store.describe(.trustAnchors)). Sidecars trust the "
          + "ConfigMap's anchors while sentry signs under the Secret's, so they must hold the same certificates: copy "
          + "the Secret's ca.crt into the ConfigMap (or the reverse, if the Secret is the stale one). Dapr would "
          + "generate a new CA here and overwrite both; this sentry refuses instead.")
    }
    return .use(material)
  }

  /// Two PEM texts hold the same certificates (formatting and comments aside).
  static func sameCertificates(_ a: String, _ b: String) -> Bool {
    if a == b { return true }
    guard let left = try? CAMaterial.certificates(in: a), let right = try? CAMaterial.certificates(in: b) else {
      return false
    }
    return !left.isEmpty && left == right
  }
}

extension Optional where Wrapped == String {
  package var nonEmpty: String? {
    guard let self, !self.trimmingWhitespace.isEmpty else { return nil }
    return self
  }
}
