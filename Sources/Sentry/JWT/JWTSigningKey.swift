import Crypto
import Foundation
import Kubernetes
import _CryptoExtras

/// The JWT signature algorithms sentry signs with: Dapr's list without EdDSA, which Dapr's sentry accepts but
/// daprd's JWT parser (go-spiffe) refuses, so every token would be dropped by the sidecar that asked for it.
public enum JWTSigningAlgorithm: String, Sendable, Hashable, CaseIterable {
  case rs256 = "RS256", rs384 = "RS384", rs512 = "RS512"
  case ps256 = "PS256", ps384 = "PS384", ps512 = "PS512"
  case es256 = "ES256", es384 = "ES384", es512 = "ES512"

  /// The flag's value, checked as Dapr checks it (`unsupported signature algorithm: X`), EdDSA refused with why.
  public init(flag: String) throws(JWTKeyError) {
    if flag == "EdDSA" {
      throw JWTKeyError(
        "unsupported signature algorithm: EdDSA (daprd's JWT parser accepts only RS*, PS* and ES* tokens, so "
          + "sidecars would reject every JWT; use RS256, the default, or ES256)")
    }
    guard let algorithm = Self(rawValue: flag) else { throw JWTKeyError("unsupported signature algorithm: \(flag)") }
    self = algorithm
  }

  var isRSA: Bool { [.rs256, .rs384, .rs512, .ps256, .ps384, .ps512].contains(self) }
}

/// Why the JWT signing key, the key set or a token could not be used.
public struct JWTKeyError: Error, Hashable, Sendable, CustomStringConvertible {
  public let message: String
  public var description: String { message }
  public init(_ message: String) { self.message = message }
}

/// One public key of a JWK set, as sentry publishes and reads them (RFC 7517): RSA (`n`, `e`) or EC (`crv`, `x`,
/// `y`), with `kid`, `alg` and `use`.
public struct PublicJWK: Sendable, Hashable {
  public var keyType: String
  /// RSA: `n`, `e`; EC: `crv`, `x`, `y` (base64url, as in the JWK).
  public var parameters: [String: String]
  public var keyID: String?
  public var algorithm: String?
  public var use: String?

  /// The RFC 7638 thumbprint: SHA-256 of the required members in lexical order without spaces, in standard
  /// base64 with padding, as Dapr writes its `kid` (not base64url).
  public var thumbprint: String {
    let members: [String] = keyType == "RSA" ? ["e", "kty", "n"] : ["crv", "kty", "x", "y"]
    let json =
      "{"
      + members.map { name in
        let value = name == "kty" ? keyType : (parameters[name] ?? "")
        return "\"\(name)\":\"\(value)\""
      }.joined(separator: ",") + "}"
    return Data(SHA256.hash(data: Data(json.utf8))).base64EncodedString()
  }

  /// Whether both hold the same public key (leading zero bytes of RSA numbers aside).
  public func sameKey(as other: PublicJWK) -> Bool {
    guard keyType == other.keyType else { return false }
    func number(_ text: String?) -> [UInt8] {
      Array((text.flatMap { Data(base64URLEncoded: $0) } ?? Data()).drop { $0 == 0 })
    }
    let names = keyType == "RSA" ? ["n", "e"] : ["crv", "x", "y"]
    return names.allSatisfy { name in
      name == "crv"
        ? parameters[name] == other.parameters[name] : number(parameters[name]) == number(other.parameters[name])
    }
  }

  var json: JSONValue {
    var object: JSONObject = ["kty": .string(keyType)]
    for (name, value) in parameters { object[name] = .string(value) }
    if let keyID { object["kid"] = .string(keyID) }
    if let algorithm { object["alg"] = .string(algorithm) }
    if let use { object["use"] = .string(use) }
    return .object(object)
  }

  init(keyType: String, parameters: [String: String], keyID: String?, algorithm: String?, use: String?) {
    self.keyType = keyType
    self.parameters = parameters
    self.keyID = keyID
    self.algorithm = algorithm
    self.use = use
  }

  init(json: JSONValue) throws(JWTKeyError) {
    guard let type = json["kty"]?.stringValue else { throw JWTKeyError("a key has no \"kty\"") }
    let names: [String]
    switch type {
    case "RSA": names = ["n", "e"]
    case "EC": names = ["crv", "x", "y"]
    default: names = []
    }
    var parameters: [String: String] = [:]
    for name in names {
      guard let value = json[name]?.stringValue, !value.isEmpty else {
        throw JWTKeyError("a key of type \(type) has no \"\(name)\"")
      }
      parameters[name] = value
    }
    self.init(
      keyType: type, parameters: parameters, keyID: json["kid"]?.stringValue, algorithm: json["alg"]?.stringValue,
      use: json["use"]?.stringValue)
  }
}

/// A JWK set (`{"keys":[...]}`): what sentry publishes in `jwks.json`, the ConfigMap and the OIDC server.
public struct JWKSet: Sendable, Hashable {
  public var keys: [PublicJWK]

  public init(keys: [PublicJWK]) { self.keys = keys }

  /// Parses a set; private members (`d`, `p`, ...) are dropped, so they are never published again.
  public init(json text: String) throws(JWTKeyError) {
    let parsed: JSONValue
    do {
      parsed = try JSONCoding.parse(Data(text.utf8))
    } catch {
      throw JWTKeyError("failed to parse JWKS: \(error)")
    }
    guard let keys = parsed["keys"]?.arrayValue else { throw JWTKeyError("failed to parse JWKS: no \"keys\" array") }
    var parsedKeys: [PublicJWK] = []
    for key in keys {
      parsedKeys.append(try PublicJWK(json: key))
    }
    guard !parsedKeys.isEmpty else { throw JWTKeyError("JWKS doesn't contain any keys") }
    self.keys = parsedKeys
  }

  /// Compact JSON, members in sorted order.
  public var json: String {
    let value: JSONValue = ["keys": .array(keys.map(\.json))]
    return String(decoding: (try? JSONCoding.encode(value, sortedKeys: true)) ?? Data(), as: UTF8.self)
  }

  /// The signing key's entry, found as Dapr finds it: by `kid` when one was configured, else by key material;
  /// entries whose `use` is not `sig` do not count.
  func entry(for key: PublicJWK, configuredKeyID: String?) throws(JWTKeyError) -> PublicJWK {
    let signing = keys.filter { $0.use == nil || $0.use == "sig" }
    if let configuredKeyID {
      guard let entry = signing.first(where: { $0.keyID == configuredKeyID }) else {
        throw JWTKeyError(
          "failed to verify JWKS: JWKS doesn't contain a key with user-provided key ID \"\(configuredKeyID)\"")
      }
      guard entry.sameKey(as: key) else {
        throw JWTKeyError(
          "failed to verify JWKS: JWKS contains a key with user-provided key ID \"\(configuredKeyID)\" but the key "
            + "content doesn't match the signing key")
      }
      return entry
    }
    guard let entry = signing.first(where: { $0.sameKey(as: key) }) else {
      throw JWTKeyError("failed to verify JWKS: JWKS doesn't contain a matching public key for the JWT signing key")
    }
    return entry
  }
}

/// The private key sentry signs JWTs with, its algorithm and its `kid`.
public struct JWTSigningKey: Sendable {
  enum Key: Sendable {
    case rsa(_RSA.Signing.PrivateKey)
    case p256(P256.Signing.PrivateKey)
    case p384(P384.Signing.PrivateKey)
    case p521(P521.Signing.PrivateKey)
  }

  let key: Key
  public let algorithm: JWTSigningAlgorithm
  /// The `kid` of every token: `--jwt-key-id`, else the key's entry in the JWKS, else its thumbprint.
  public let keyID: String

  /// A key from PEM (PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY` or SEC 1 `EC PRIVATE KEY`), checked against
  /// `algorithm` with Dapr's messages.
  public init(pem: String, algorithm: JWTSigningAlgorithm, keyID: String? = nil) throws(JWTKeyError) {
    let key = try Self.parse(pem)
    switch (algorithm, key) {
    case (.es256, .p256), (.es384, .p384), (.es512, .p521): break
    case (_, .rsa) where algorithm.isRSA: break
    case (_, .rsa):
      throw JWTKeyError(
        "JWT signing key is incompatible with algorithm \(algorithm.rawValue): ECDSA algorithm "
          + "\(algorithm.rawValue) requires an ECDSA key, but got an RSA key")
    default:
      if algorithm.isRSA {
        throw JWTKeyError(
          "JWT signing key is incompatible with algorithm \(algorithm.rawValue): RSA algorithm "
            + "\(algorithm.rawValue) requires an RSA key, but got an ECDSA key")
      }
      throw JWTKeyError(
        "JWT signing key is incompatible with algorithm \(algorithm.rawValue): \(algorithm.rawValue) requires a "
          + "\(["ES256": "P-256", "ES384": "P-384", "ES512": "P-521"][algorithm.rawValue] ?? "") curve")
    }
    let unnamed = JWTSigningKey(key: key, algorithm: algorithm, keyID: "")
    self.init(key: key, algorithm: algorithm, keyID: keyID ?? unnamed.publicJWK.thumbprint)
  }

  private init(key: Key, algorithm: JWTSigningAlgorithm, keyID: String) {
    self.key = key
    self.algorithm = algorithm
    self.keyID = keyID
  }

  func withKeyID(_ keyID: String) -> JWTSigningKey { JWTSigningKey(key: key, algorithm: algorithm, keyID: keyID) }

  /// A new key as Dapr's sentry makes one when none is stored: RSA-2048 for RS256, in PKCS#8 PEM.
  public static func generate() throws -> (key: JWTSigningKey, pem: String) {
    let rsa = try _RSA.Signing.PrivateKey(keySize: .bits2048)
    let pem = rsa.pkcs8PEMRepresentation + "\n"
    return (try JWTSigningKey(pem: pem, algorithm: .rs256), pem)
  }

  static func parse(_ pem: String) throws(JWTKeyError) -> Key {
    guard pem.contains("-----BEGIN ") else {
      throw JWTKeyError("failed to decode JWT signing key: key is not PEM encoded")
    }
    if let rsa = try? _RSA.Signing.PrivateKey(pemRepresentation: pem) { return .rsa(rsa) }
    if let key = try? P256.Signing.PrivateKey(pemRepresentation: pem) { return .p256(key) }
    if let key = try? P384.Signing.PrivateKey(pemRepresentation: pem) { return .p384(key) }
    if let key = try? P521.Signing.PrivateKey(pemRepresentation: pem) { return .p521(key) }
    let type = pem.components(separatedBy: "-----BEGIN ").dropFirst().first?.components(separatedBy: "-----").first
    throw JWTKeyError(
      "failed to decode JWT signing key: unsupported block type \(type ?? "?") (RSA or ECDSA P-256/P-384/P-521 keys "
        + "in PKCS#8, PKCS#1 or SEC 1 PEM)")
  }

  /// The public half as a JWK, with this key's `kid`, `alg` and `use: sig`.
  public var publicJWK: PublicJWK {
    var parameters: [String: String]
    let type: String
    switch key {
    case .rsa(let rsa):
      // The primitives of a key BoringSSL just parsed are always readable.
      let primitives = try! rsa.publicKey.getKeyPrimitives()
      type = "RSA"
      parameters = ["n": Self.base64URL(primitives.modulus), "e": Self.base64URL(primitives.publicExponent)]
    case .p256(let key): (type, parameters) = ("EC", Self.ec("P-256", key.publicKey.x963Representation, 32))
    case .p384(let key): (type, parameters) = ("EC", Self.ec("P-384", key.publicKey.x963Representation, 48))
    case .p521(let key): (type, parameters) = ("EC", Self.ec("P-521", key.publicKey.x963Representation, 66))
    }
    return PublicJWK(
      keyType: type, parameters: parameters, keyID: keyID.isEmpty ? nil : keyID, algorithm: algorithm.rawValue,
      use: "sig")
  }

  static func ec(_ curve: String, _ point: Data, _ size: Int) -> [String: String] {
    let bytes = Array(point.dropFirst())
    return ["crv": curve, "x": base64URL(bytes.prefix(size)), "y": base64URL(bytes.suffix(size))]
  }

  static func base64URL(_ bytes: some DataProtocol) -> String {
    Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
      .replacingOccurrences(of: "=", with: "")
  }
}
