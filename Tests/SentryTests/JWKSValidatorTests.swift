import ControlPlaneKit
import Crypto
import Foundation
import JWTKit
import Logging
import Testing

@testable import Sentry
@testable import SentryCore

@Suite struct JWKSValidatorTests {
  static let sentryID = try! SPIFFEID(parsing: "spiffe://cluster.local/ns/dapr-system/dapr-sentry")

  /// A signer and the JWKS of its public key.
  static func keys() async throws -> (signer: JWTKeyCollection, jwks: String) {
    let key = try EdDSA.PrivateKey(curve: .ed25519)
    let signer = JWTKeyCollection()
    await signer.add(eddsa: key, kid: "issuer-1")
    let x = Data(key.publicKey.rawRepresentation).base64EncodedString().replacingOccurrences(of: "+", with: "-")
      .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    let jwks = #"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"issuer-1","alg":"EdDSA","use":"sig","x":"\#(x)"}]}"#
    return (signer, jwks)
  }

  func validator(jwks: String, now: Date = referenceTime) async throws -> JWKSValidator {
    let validator = JWKSValidator(
      options: try JWKSValidator.Options(["source": jwks, "minRefreshInterval": "1m"]), sentryID: Self.sentryID,
      readiness: nil, logger: Logger(label: "test"), now: { now })
    try await validator.load()
    return validator
  }

  func request(token: String, id: String = "checkout") throws -> SignRequest {
    SignRequest(id: id, token: token, namespace: "shop", certificateSigningRequest: try makeCSR().pem, validator: .jwks)
  }

  static let cases: [(String, String, String?, TimeInterval, String?)] = [
    ("a valid token", "spiffe://public/ns/shop/checkout", sentryID.description, 3600, nil),
    (
      "a token for another app", "spiffe://public/ns/shop/payments", sentryID.description, 3600,
      "token validation failed: \"sub\" not satisfied"
    ),
    (
      "a token for another audience", "spiffe://public/ns/shop/checkout", "someone-else", 3600,
      "token validation failed: \"aud\" not satisfied"
    ),
    (
      "a token that expired within the allowed skew", "spiffe://public/ns/shop/checkout", sentryID.description, -200,
      nil
    ),
    (
      "a token that expired long ago", "spiffe://public/ns/shop/checkout", sentryID.description, -400,
      "token validation failed: \"exp\" not satisfied"
    ),
  ]

  @Test("Tokens are checked for signature, subject, audience and time", arguments: cases)
  func tokens(name: String, subject: String, audience: String?, expiresIn: TimeInterval, failure: String?) async throws
  {
    let (signer, jwks) = try await Self.keys()
    let token = try await signer.sign(
      SVIDClaims(
        sub: SubjectClaim(value: subject), aud: audience.map { AudienceClaim(value: [$0]) },
        exp: ExpirationClaim(value: referenceTime + expiresIn), nbf: NotBeforeClaim(value: referenceTime - 60)),
      kid: "issuer-1")
    let validator = try await validator(jwks: jwks)
    let signRequest = try request(token: token)
    do throws(ValidationFailure) {
      let trustDomain = try await validator.validate(signRequest)
      #expect(failure == nil, "\(name) was accepted")
      #expect(trustDomain == "public")
    } catch {
      #expect(error.message == failure, "\(name)")
    }
  }

  @Test func aTokenSignedByAKeyOutsideTheSetIsRefused() async throws {
    let (_, jwks) = try await Self.keys()
    let (stranger, _) = try await Self.keys()
    let token = try await stranger.sign(
      SVIDClaims(
        sub: "spiffe://public/ns/shop/checkout", aud: AudienceClaim(value: [Self.sentryID.description]),
        exp: ExpirationClaim(value: referenceTime + 3600)),
      kid: "issuer-1")
    let validator = try await validator(jwks: jwks)
    await #expect(throws: ValidationFailure.self) { _ = try await validator.validate(try request(token: token)) }
  }

  @Test func anEmptyTokenIsRefusedFirst() async throws {
    let validator = try await validator(jwks: try await Self.keys().jwks)
    do {
      _ = try await validator.validate(
        SignRequest(id: "", namespace: "", certificateSigningRequest: [], validator: .jwks))
      Issue.record("an empty token was accepted")
    } catch {
      #expect(error.message == "the request does not contain a token")
    }
  }

  @Test(
    "The source option is read as Dapr reads it",
    arguments: [
      ("https://issuer.example/keys", "url"), (#"{"keys":[]}"#, "inline"),
      (Data(#"{"keys":[]}"#.utf8).base64EncodedString(), "inline"), ("/etc/hostname", "file"),
    ])
  func sources(source: String, kind: String) throws {
    let options = try JWKSValidator.Options(["source": source])
    switch (options.source, kind) {
    case (.url, "url"), (.inline, "inline"), (.file, "file"): break
    default: Issue.record("\(source) read as \(options.source)")
    }
    #expect(options.minRefreshInterval == 600)
  }

  @Test func aSourceThatIsNothingKnownIsRefused() {
    do {
      _ = try JWKSValidator.Options(["source": "not-a-thing"])
      Issue.record("accepted")
    } catch {
      #expect(error.message.hasPrefix("failed to parse property 'location'"))
    }
  }
}
