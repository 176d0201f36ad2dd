import ControlPlaneKit
import Crypto
import Foundation
import Kubernetes
import _CryptoExtras

/// What to do with the JWT entries a store holds. Pure; ``CAManager`` carries it out.
///
/// Unlike Dapr, a key without its key set (or the reverse) is refused, not regenerated over: a user's key is never
/// replaced silently.
public enum JWTStoreDecision: Sendable, Equatable {
  /// Neither the key nor the set is stored: generate both.
  case generate
  /// Use these (still to be verified); `publish` when the ConfigMap's `jwks.json` differs from the Secret's.
  case use(signingKeyPEM: String, jwksJSON: String, publish: Bool)
  case refuse(String)

  public static func decide(_ stored: StoredCA, store: any CAStore) -> JWTStoreDecision {
    switch (stored[.jwtSigningKey], stored[.jwks]) {
    case (nil, nil): return .generate
    case (let key?, let jwks?):
      let publish = stored.publishesAnchors && stored.published[.jwks] != jwks
      return .use(signingKeyPEM: key, jwksJSON: jwks, publish: publish)
    case (nil, _?):
      return .refuse(
        "\(store.describe(.jwks)) is set but \(store.describe(.jwtSigningKey)) is not. Sentry will not generate a key "
          + "over a published key set: add the key, or remove both to let sentry generate a new pair.")
    case (_?, nil):
      return .refuse(
        "\(store.describe(.jwtSigningKey)) is set but \(store.describe(.jwks)) is not. Sentry will not replace a "
          + "signing key it did not make: add its JWK set, or remove both to let sentry generate a new pair.")
    }
  }

  /// A new key and the set publishing it, as Dapr's sentry makes them.
  public static func generated() throws -> CAStoreUpdate {
    let (key, pem) = try JWTSigningKey.generate()
    return CAStoreUpdate(entries: [.jwtSigningKey: pem, .jwks: JWKSet(keys: [key.publicJWK]).json])
  }
}

/// The state of a JWT key rotation (`jwt-rotation.json`): a next key, published before it signs, and the keys it
/// replaced, published until every token they signed has expired.
public struct JWTRotationState: Sendable, Hashable, StoredState {
  public struct Next: Sendable, Hashable, Codable {
    public var kid: String
    /// When the next key starts signing: its publication time plus the time relying parties cache a key set.
    public var signsFrom: Date
  }

  public struct Retired: Sendable, Hashable, Codable {
    public var kid: String
    /// When the last token it signed expires (plus the allowed skew); it leaves the key set then.
    public var publishedUntil: Date
  }

  public var next: Next?
  public var retired: [Retired] = []

  public init(next: Next? = nil, retired: [Retired] = []) {
    self.next = next
    self.retired = retired
  }

  public init(json: String?) throws(JWTKeyError) {
    guard let json else {
      self.init()
      return
    }
    do {
      self = try Self.decoded(from: json)
    } catch {
      throw JWTKeyError("the JWT key rotation state is not readable: \(error)")
    }
  }

  /// The store changes due at `now` (promote the next key; drop retired keys whose tokens have all expired), and
  /// when the next one falls due. `currentKeyID` is the signing key's `kid`; `ttl` and `skew` bound the tokens it
  /// signed.
  public func step(
    stored: StoredCA, currentKeyID: String, ttl: TimeInterval, skew: TimeInterval, now: Date
  ) throws(JWTKeyError) -> (update: CAStoreUpdate?, deadline: Date?) {
    var state = self
    var jwks = try JWKSet(json: stored[.jwks] ?? "")
    var update = CAStoreUpdate()
    if let next = state.next {
      if now >= next.signsFrom, let nextKey = stored[.jwtNextSigningKey] {
        update.entries[.jwtSigningKey] = nextKey
        update.entries[.jwtNextSigningKey] = .some(nil)
        state.retired.append(Retired(kid: currentKeyID, publishedUntil: now + ttl + skew))
        state.next = nil
      } else if stored[.jwtNextSigningKey] == nil {
        // A rotation whose key was removed by hand: nothing to promote.
        state.next = nil
      }
    }
    let expired = Set(state.retired.filter { $0.publishedUntil <= now }.map(\.kid))
    if !expired.isEmpty {
      jwks.keys.removeAll { $0.keyID.map(expired.contains) ?? false }
      state.retired.removeAll { expired.contains($0.kid) }
      update.entries[.jwks] = jwks.json
      if stored.publishesAnchors { update.published[.jwks] = jwks.json }
    }
    if state != self {
      update.entries[.jwtRotation] = state.next == nil && state.retired.isEmpty ? .some(nil) : state.json
    }
    let deadline = ([state.next?.signsFrom] + state.retired.map(\.publishedUntil)).compactMap { $0 }.min()
    return (update.isEmpty ? nil : update, deadline)
  }
}

extension JWTRotationState {
  /// Starts a key rotation (`sentry ca rotate-jwt-key`): a new key of the current key's kind, published in the key
  /// set now and signing from `now + publishFor` (at least as long as relying parties cache the set: the OIDC
  /// server says one hour). Refused while another rotation is waiting.
  public static func begin(stored: StoredCA, publishFor: TimeInterval, now: Date) throws(JWTKeyError) -> CAStoreUpdate {
    guard let currentPEM = stored[.jwtSigningKey], let jwksJSON = stored[.jwks] else {
      throw JWTKeyError(
        "there is no JWT signing key to rotate yet (sentry makes one when it starts with --jwt-enabled)")
    }
    var state = try JWTRotationState(json: stored[.jwtRotation])
    if let next = state.next {
      throw JWTKeyError(
        "a rotation is already under way: key \(next.kid) signs from \(ISO8601DateFormatter().string(from: next.signsFrom))"
      )
    }
    // A key of the same kind, so that the algorithm sentry was started with suits it.
    let pem: String
    let algorithm: JWTSigningAlgorithm
    do {
      switch try JWTSigningKey.parse(currentPEM) {
      case .rsa: (pem, algorithm) = (try _RSA.Signing.PrivateKey(keySize: .bits2048).pkcs8PEMRepresentation, .rs256)
      case .p256: (pem, algorithm) = (P256.Signing.PrivateKey().pemRepresentation, .es256)
      case .p384: (pem, algorithm) = (P384.Signing.PrivateKey().pemRepresentation, .es384)
      case .p521: (pem, algorithm) = (P521.Signing.PrivateKey().pemRepresentation, .es512)
      }
    } catch {
      throw JWTKeyError("cannot make a new key: \(error)")
    }
    let current = try JWKSet(json: jwksJSON)
    var next = try JWTSigningKey(pem: pem, algorithm: algorithm)
    // The published entry names the algorithm the current key's entry names (PS256 for an RSA key, say).
    if let named = current.keys.compactMap({ $0.algorithm.flatMap(JWTSigningAlgorithm.init(rawValue:)) }).first,
      named.isRSA == algorithm.isRSA, (try? JWTSigningKey(pem: pem, algorithm: named)) != nil
    {
      next = try JWTSigningKey(pem: pem, algorithm: named)
    }
    var keySet = current
    keySet.keys.append(next.publicJWK)
    state.next = Next(kid: next.keyID, signsFrom: now + publishFor)
    var update = CAStoreUpdate(entries: [
      .jwtNextSigningKey: pem + "\n", .jwks: keySet.json, .jwtRotation: state.json,
    ])
    if stored.publishesAnchors { update.published[.jwks] = keySet.json }
    return update
  }
}
