import ControlPlaneKit
import Crypto
import Foundation
import JWTKit

/// Signs JWT SVIDs as Dapr's sentry does (1.16+): header `alg`, `kid`, `typ: JWT`; claims `sub` (the SPIFFE ID),
/// `aud` (always an array), `iat`, `nbf` (now minus the allowed clock skew), `exp` (now plus the TTL), `jti` (32
/// random hex digits), `use: sig`, and `iss` when an issuer is configured.
public struct JWTIssuer: Sendable {
  public let key: JWTSigningKey
  /// `--jwt-issuer`; nil: no `iss` claim.
  public let issuer: String?
  public let ttl: TimeInterval
  /// The published key set: the signing key's entry and any others (a key being rotated in or out).
  public let keySet: JWKSet
  private let signer: JWTKeyCollection

  public init(key: JWTSigningKey, keySet: JWKSet, issuer: String?, ttl: TimeInterval) async throws {
    self.key = key
    self.keySet = keySet
    self.issuer = issuer
    self.ttl = ttl
    let signer = JWTKeyCollection()
    let kid = JWKIdentifier(string: key.keyID)
    switch key.key {
    case .rsa(let rsa):
      let digest: DigestAlgorithm =
        switch key.algorithm {
        case .rs384, .ps384: .sha384
        case .rs512, .ps512: .sha512
        default: .sha256
        }
      let jwtKey = try Insecure.RSA.PrivateKey(backing: rsa)
      if [.ps256, .ps384, .ps512].contains(key.algorithm) {
        await signer.add(pss: jwtKey, digestAlgorithm: digest, kid: kid)
      } else {
        await signer.add(rsa: jwtKey, digestAlgorithm: digest, kid: kid)
      }
    case .p256(let ecdsa): await signer.add(ecdsa: try ES256PrivateKey(backing: ecdsa), kid: kid)
    case .p384(let ecdsa): await signer.add(ecdsa: try ES384PrivateKey(backing: ecdsa), kid: kid)
    case .p521(let ecdsa): await signer.add(ecdsa: try ES512PrivateKey(backing: ecdsa), kid: kid)
    }
    self.signer = signer
  }

  /// The claims of one token.
  struct Claims: JWTPayload, Equatable {
    var sub: String
    var aud: [String]
    var iat: Int64
    var nbf: Int64
    var exp: Int64
    var jti: String
    var use = "sig"
    var iss: String?

    func verify(using algorithm: some JWTAlgorithm) throws {}
  }

  /// The claims for `subject` and `audiences` at `now`.
  func claims(subject: SPIFFEID, audiences: [String], now: Date, allowedClockSkew: TimeInterval) -> Claims {
    let nonce = SymmetricKey(size: .bits128).withUnsafeBytes { bytes in
      bytes.map { String(format: "%02x", $0) }.joined()
    }
    let seconds = Int64(now.timeIntervalSince1970.rounded(.down))
    return Claims(
      sub: subject.description, aud: audiences, iat: seconds, nbf: seconds - Int64(allowedClockSkew),
      exp: seconds + Int64(ttl), jti: nonce, iss: issuer)
  }

  /// A signed token; failures carry Dapr's messages (`failed to generate JWT: ...`).
  public func token(
    subject: SPIFFEID, audiences: [String], now: Date, allowedClockSkew: TimeInterval
  ) async throws(JWTKeyError) -> String {
    guard !audiences.isEmpty else { throw JWTKeyError("audience cannot be empty") }
    do {
      return try await signer.sign(
        claims(subject: subject, audiences: audiences, now: now, allowedClockSkew: allowedClockSkew),
        kid: JWKIdentifier(string: key.keyID), header: ["typ": "JWT"])
    } catch {
      throw JWTKeyError("error signing JWT token: \(error)")
    }
  }

  /// The response's tokens: `jwt` for the trust domain and every requested audience (in order, as requested),
  /// and `per_audience_jwts`, one token per distinct requested audience whose `aud` is that audience alone (Dapr
  /// 1.18; daprd checks that each has exactly its key as audience).
  public func tokens(
    subject: SPIFFEID, requestedAudiences: [String], now: Date, allowedClockSkew: TimeInterval
  ) async throws(JWTKeyError) -> (jwt: String, perAudience: [String: String]) {
    let jwt = try await token(
      subject: subject, audiences: [subject.trustDomain] + requestedAudiences, now: now,
      allowedClockSkew: allowedClockSkew)
    var perAudience: [String: String] = [:]
    for audience in requestedAudiences where perAudience[audience] == nil {
      do {
        perAudience[audience] = try await token(
          subject: subject, audiences: [audience], now: now, allowedClockSkew: allowedClockSkew)
      } catch {
        throw JWTKeyError("failed to generate JWT for audience \(audience): \(error.message)")
      }
    }
    return (jwt, perAudience)
  }
}
