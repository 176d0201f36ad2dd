import ArgumentParser
import ControlPlaneKit
import ControlPlaneTestSupport
import Foundation
import Kubernetes
import Logging
import Testing
import X509

@testable import Sentry
@testable import SentryCore

/// PyJWT (the tests' Python venv), verifying sentry's tokens independently of this project's code.
enum PyJWT {
  /// One verdict per request (see `scripts/test-tools/verify_jwt.py`).
  static func verify(_ requests: [JSONValue]) async throws -> [JSONValue] {
    let script = LocalKubernetes.repositoryRoot.appendingPathComponent("scripts/test-tools/verify_jwt.py").path
    let input = try requests.map { String(decoding: try JSONCoding.encode($0), as: UTF8.self) }.joined(separator: "\n")
    let output = try await ExternalTool.projectPython([script]).running(input: input + "\n")
    guard output.succeeded else {
      throw PyJWTError(description: "verify_jwt.py failed (is the venv installed?): \(output.standardError)")
    }
    return try output.standardOutput.split(separator: "\n").map { try JSONCoding.parse(Data($0.utf8)) }
  }

  struct PyJWTError: Error, CustomStringConvertible { let description: String }
}

/// A standalone sentry with JWTs (and OIDC when `oidc`), its credentials in a temporary folder.
struct JWTSentry {
  let port: Int
  let oidcPort: Int?
  let folder: URL
  let anchors: LatestValue<TrustBundle>
  let oidcCA: TestCertificateAuthority

  var credentials: URL { folder.appendingPathComponent("credentials") }

  func client(_ appID: String = "checkout") throws -> SVIDClient {
    SVIDClient(
      request: .init(appID: appID, namespace: "default", trustDomain: "", validator: .insecure),
      sentryHost: "127.0.0.1", sentryPort: port,
      sentryID: try SPIFFEID(parsing: "spiffe://localhost/ns/default/dapr-sentry"), trustAnchors: anchors,
      logger: Logger(label: "svid"))
  }

  func storedJWKS() throws -> JSONValue {
    try JSONCoding.parse(try Data(contentsOf: credentials.appendingPathComponent("jwks.json")))
  }

  static func run(
    flags: [String], oidc: Bool = false, skew: String = "1m",
    _ body: (JWTSentry) async throws -> Void
  ) async throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sentry-jwt-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let configPath = folder.appendingPathComponent("config.yaml").path
    try """
    apiVersion: dapr.io/v1alpha1
    kind: Configuration
    metadata: {name: daprsystem}
    spec:
      mtls: {enabled: true, workloadCertTTL: 1h, allowedClockSkew: \(skew)}
    """.write(toFile: configPath, atomically: true, encoding: .utf8)
    let oidcCA = try TestCertificateAuthority()
    var arguments = [
      "--mode", "standalone", "--issuer-credentials", folder.appendingPathComponent("credentials").path,
      "--config", configPath, "--port", "\(freeLocalPort())", "--listen-address", "127.0.0.1",
      "--trust-domain", "localhost", "--jwt-enabled",
    ]
    let port = Int(arguments[7])!
    var oidcPort: Int?
    if oidc {
      let identity = try oidcCA.issue(
        spiffeID: nil, dnsNames: ["localhost"], ipAddresses: [[127, 0, 0, 1]], keyType: .ecdsaP256)
      let certificate = folder.appendingPathComponent("oidc.crt")
      let key = folder.appendingPathComponent("oidc.key")
      try (try identity.certificateChain.map { try $0.serializeAsPEM().pemString }.joined(separator: "\n"))
        .write(to: certificate, atomically: true, encoding: .utf8)
      try identity.privateKey.serializeAsPEM().pemString.write(to: key, atomically: true, encoding: .utf8)
      oidcPort = freeLocalPort()
      arguments += [
        "--oidc-enabled", "--oidc-server-listen-address", "127.0.0.1", "--oidc-server-listen-port", "\(oidcPort!)",
        "--oidc-server-tls-cert-file", certificate.path, "--oidc-server-tls-key-file", key.path,
      ]
    }
    try await runStandaloneSentry(
      arguments: arguments + flags, targets: oidc ? [OIDCServer.readinessTarget] : [],
      readyWhen: "sentry with JWTs is ready"
    ) { _ in
      let anchors = LatestValue(
        try TrustBundle(contentsOfFile: folder.appendingPathComponent("credentials/ca.crt").path))
      try await body(
        JWTSentry(port: port, oidcPort: oidcPort, folder: folder, anchors: anchors, oidcCA: oidcCA))
    }
  }
}

@Suite(.serialized, .timeLimit(.minutes(2))) struct JWTTests {
  static let azure = "api://AzureADTokenExchange"
  static let sentryAudience = "spiffe://localhost/ns/default/dapr-sentry"

  @Test func sentrysJWTsVerifyWithPyJWTAgainstTheStoredKeySetWithEveryClaimAsDaprWritesIt() async throws {
    try await JWTSentry.run(flags: ["--jwt-issuer", "https://oidc.shop.example", "--jwt-ttl", "1h"]) { sentry in
      let before = Int64(Date().timeIntervalSince1970)
      let (identity, jwt, perAudience) = try await sentry.client().fetchWithJWTs(
        audiences: [Self.azure, Self.sentryAudience])
      let after = Int64(Date().timeIntervalSince1970)
      let token = try #require(jwt)
      let keySet = try sentry.storedJWKS()
      let verdicts = try await PyJWT.verify([
        ["token": .string(token), "audience": "public", "issuer": "https://oidc.shop.example", "jwks": keySet],
        [
          "token": .string(perAudience[Self.azure] ?? ""), "audience": .string(Self.azure),
          "issuer": "https://oidc.shop.example", "jwks": keySet,
        ],
        [
          "token": .string(perAudience[Self.sentryAudience] ?? ""), "audience": .string(Self.sentryAudience),
          "jwks": keySet,
        ],
      ])
      for verdict in verdicts { #expect(verdict["ok"] == true, "\(verdict)") }
      let header = verdicts[0]["header"]
      let claims = try #require(verdicts[0]["claims"])
      let entry = try #require(keySet["keys"]?.arrayValue?.first)
      #expect(header?["alg"] == "RS256" && header?["typ"] == "JWT" && header?["kid"] == entry["kid"])
      #expect(claims["sub"]?.stringValue == "spiffe://public/ns/default/checkout")
      #expect(claims["sub"]?.stringValue == (try identity.spiffeID.description))
      #expect(claims["aud"] == ["public", .string(Self.azure), .string(Self.sentryAudience)])
      #expect(claims["iss"] == "https://oidc.shop.example")
      #expect(claims["use"] == "sig")
      let iat = try #require(claims["iat"]?.intValue)
      #expect((before...after).contains(iat))
      #expect(claims["nbf"]?.intValue == iat - 60)
      #expect(claims["exp"]?.intValue == iat + 3600)
      let jti = try #require(claims["jti"]?.stringValue)
      #expect(jti.count == 32 && jti.allSatisfy { $0.isHexDigit && !$0.isUppercase })
      // One token per audience, each for that audience alone (daprd checks exactly this).
      #expect(Set(perAudience.keys) == [Self.azure, Self.sentryAudience])
      #expect(verdicts[1]["claims"]?["aud"] == [.string(Self.azure)])
      #expect(verdicts[2]["claims"]?["aud"] == [.string(Self.sentryAudience)])
      #expect(verdicts[1]["claims"]?["jti"] != verdicts[0]["claims"]?["jti"])
      // The generated key, as Dapr's: RSA, kid = the RFC 7638 thumbprint in standard base64; files private.
      #expect(entry["kty"] == "RSA" && entry["alg"] == "RS256" && entry["use"] == "sig")
      let kid = try #require(entry["kid"]?.stringValue)
      #expect(kid.count == 44 && kid.hasSuffix("="))
      #expect(try PublicJWK(json: entry).thumbprint == kid)
      let key = try String(contentsOf: sentry.credentials.appendingPathComponent("jwt.key"), encoding: .utf8)
      #expect(key.hasPrefix("-----BEGIN PRIVATE KEY-----"))
      for name in ["jwt.key", "jwks.json"] {
        let attributes = try FileManager.default.attributesOfItem(
          atPath: sentry.credentials.appendingPathComponent(name).path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600, "\(name)")
      }
    }
  }

  @Test func withoutAudiencesTheTokenIsForTheTrustDomainAloneAndHasNoIssuer() async throws {
    try await JWTSentry.run(flags: []) { sentry in
      let (_, jwt, perAudience) = try await sentry.client().fetchWithJWTs(audiences: [])
      #expect(perAudience.isEmpty)
      let verdict = try await PyJWT.verify([
        ["token": .string(jwt ?? ""), "audience": "public", "jwks": sentry.storedJWKS()]
      ])
      #expect(verdict[0]["ok"] == true, "\(verdict)")
      #expect(verdict[0]["claims"]?["aud"] == ["public"])
      #expect(verdict[0]["claims"]?["iss"] == nil)
    }
  }

  @Test func theProjectsOwnJWKSValidatorAcceptsSentrysJWTs() async throws {
    try await JWTSentry.run(flags: []) { sentry in
      let (_, _, perAudience) = try await sentry.client("orders").fetchWithJWTs(audiences: [Self.sentryAudience])
      let token = try #require(perAudience[Self.sentryAudience])
      let keySet = String(decoding: try JSONCoding.encode(try sentry.storedJWKS()), as: UTF8.self)
      let validator = JWKSValidator(
        options: try JWKSValidator.Options(["source": keySet]),
        sentryID: try SPIFFEID(parsing: Self.sentryAudience), readiness: nil, logger: Logger(label: "jwks"))
      try await validator.load()
      let csr = try makeCSR().pem
      let request = SignRequest(
        id: "orders", token: token, trustDomain: "public", namespace: "default", certificateSigningRequest: csr,
        validator: .jwks)
      #expect(try await validator.validate(request) == "public")
      // Another app's token is not this app's identity.
      let other = SignRequest(
        id: "checkout", token: token, trustDomain: "public", namespace: "default", certificateSigningRequest: csr,
        validator: .jwks)
      await #expect(throws: ValidationFailure.self) { _ = try await validator.validate(other) }
    }
  }

  @Test func theOIDCEndpointsServeTheKeySetOverHTTPSAndPyJWTVerifiesAgainstIt() async throws {
    try await JWTSentry.run(flags: ["--jwt-issuer", "https://127.0.0.1"], oidc: true) { sentry in
      let port = try #require(sentry.oidcPort)
      let caFile = sentry.folder.appendingPathComponent("oidc-ca.crt")
      try sentry.oidcCA.certificate.serializeAsPEM().pemString.write(to: caFile, atomically: true, encoding: .utf8)
      let (_, jwt, _) = try await sentry.client().fetchWithJWTs(audiences: [])
      let verdicts = try await PyJWT.verify([
        [
          "token": .string(jwt ?? ""), "audience": "public", "issuer": "https://127.0.0.1",
          "jwks_url": .string("https://127.0.0.1:\(port)/jwks.json"), "ca_file": .string(caFile.path),
        ]
      ])
      #expect(verdicts[0]["ok"] == true, "\(verdicts)")
      // The discovery document names the issuer and the key set, as Dapr's does.
      let script = """
        import json, ssl, sys, urllib.request
        context = ssl.create_default_context(cafile=sys.argv[2])
        with urllib.request.urlopen(sys.argv[1], context=context) as r:
            print(json.dumps({"cache": r.headers["Cache-Control"], "type": r.headers["Content-Type"], "body": json.load(r)}))
        """
      let fetched = try await ExternalTool.projectPython([
        "-c", script, "https://127.0.0.1:\(port)/.well-known/openid-configuration", caFile.path,
      ]).succeedingInBackground()
      let answer = try JSONCoding.parse(Data(fetched.utf8))
      #expect(answer["cache"] == "public, max-age=3600" && answer["type"] == "application/json")
      #expect(answer["body"]?["issuer"] == "https://127.0.0.1")
      #expect(answer["body"]?["jwks_uri"] == "https://127.0.0.1/jwks.json")
      #expect(answer["body"]?["id_token_signing_alg_values_supported"] == ["RS256"])
    }
  }

  // === Start-up ===

  @Test(
    "Each flag combination sentry cannot start with is refused with its exact message",
    arguments: [
      (["--jwt-issuer", "https://x"], "jwt-issuer cannot be set when jwt-enabled is false"),
      (
        ["--jwt-enabled", "--oidc-enabled"],
        "oidc-server-tls-cert-file is required when OIDC HTTP server is enabled (unless oidc-server-tls-enabled is false)"
      ),
      (
        ["--jwt-enabled", "--oidc-enabled", "--oidc-server-tls-cert-file", "/c"],
        "oidc-server-tls-key-file is required when OIDC HTTP server is enabled (unless oidc-server-tls-enabled is false)"
      ),
      (
        ["--jwt-enabled", "--oidc-enabled", "--no-oidc-server-tls-enabled", "--oidc-server-tls-key-file", "/k"],
        "both OIDC TLS certificate and key must be provided if one is specified"
      ),
      (
        ["--oidc-enabled", "--no-oidc-server-tls-enabled"],
        "--oidc-enabled needs --jwt-enabled: the OIDC server publishes the JWT signing keys"
      ),
      (["--jwt-ttl", "1h"], "--jwt-ttl is set but --jwt-enabled is false; it would have no effect"),
      (["--jwt-key-id", "k1"], "--jwt-key-id is set but --jwt-enabled is false; it would have no effect"),
      (["--jwks-filename", "keys.json"], "--jwks-filename is set but --jwt-enabled is false"),
      (["--oidc-path-prefix", "/auth"], "--oidc-path-prefix is set but --oidc-enabled is false"),
      (
        ["--jwt-enabled", "--oidc-allowed-hosts", "a.example"],
        "--oidc-allowed-hosts is set but --oidc-enabled is false"
      ),
      (
        [
          "--jwt-enabled", "--oidc-enabled", "--no-oidc-server-tls-enabled", "--oidc-server-tls-cert-file", "/c",
          "--oidc-server-tls-key-file", "/k",
        ],
        "--oidc-server-tls-enabled=false, but a certificate and key are given"
      ),
      (["--jwt-enabled", "--jwt-signing-algorithm", "HS256"], "unsupported signature algorithm: HS256"),
      (["--jwt-enabled", "--jwt-signing-algorithm", "EdDSA"], "unsupported signature algorithm: EdDSA (daprd's"),
      (["--jwt-enabled", "--jwt-ttl", "0s"], "--jwt-ttl must be positive"),
      (
        ["--jwt-enabled", "--oidc-enabled", "--no-oidc-server-tls-enabled", "--jwt-issuer", "dapr.io"],
        "--jwt-issuer must be a URL with a scheme"
      ),
    ] as [([String], String)])
  func badFlags(arguments: [String], message: String) {
    #expect {
      _ = try SentryOptions.parse(arguments)
    } throws: { error in
      SentryOptions.message(for: error).contains(message)
    }
  }

  @Test func theFlagsDaprsChartPassesStart() throws {
    let options = try SentryOptions.parse(
      [
        "--jwt-enabled=true", "--jwt-key-filename=/var/run/secrets/dapr.io/credentials/jwt.key",
        "--jwt-issuer=https://oidc.example", "--jwt-signing-algorithm=ES256", "--oidc-enabled=true",
        "--oidc-server-listen-address=0.0.0.0", "--oidc-server-listen-port=9080", "--oidc-path-prefix=/auth/",
        "--oidc-allowed-hosts=a.example,b.example", "--oidc-server-tls-enabled",
        "--oidc-server-tls-cert-file=/tls/tls.crt", "--oidc-server-tls-key-file=/tls/tls.key",
      ].map { $0.replacingOccurrences(of: "=true", with: "") })
    let jwt = try #require(try options.jwt)
    #expect(jwt.algorithm == .es256 && jwt.keyFilename.hasSuffix("jwt.key") && jwt.ttl == 86_400)
    let oidc = try #require(options.oidc)
    #expect(oidc.pathPrefix == "/auth" && oidc.allowedHosts == ["a.example", "b.example"] && oidc.port == 9080)
  }

  // === The key set and the kid ===

  @Test func theThumbprintIsRFC7638sExampleInStandardBase64() throws {
    // RFC 7638 section 3.1: the thumbprint is NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs in base64url.
    let key = try PublicJWK(json: [
      "kty": "RSA", "e": "AQAB",
      "n":
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    ])
    #expect(key.thumbprint == "NzbLsXh8uDCcd+6MNwXF4W/7noWXFZAfHkxZsRGC9Xs=")
  }

  @Test(
    "Stored JWT material sentry cannot use is refused, saying where and what, and nothing is regenerated over it",
    arguments: [
      ("key without set", true, false, nil, nil, "is set but"),
      ("set without key", false, true, nil, nil, "is set but"),
      ("algorithm that does not suit the key", true, true, "ES256", nil, "requires an ECDSA key, but got an RSA key"),
      ("configured kid not in the set", true, true, nil, "k-9", "JWKS doesn't contain a key with user-provided key ID"),
      ("set without the key", true, true, "other", nil, "JWKS doesn't contain a matching public key"),
    ] as [(String, Bool, Bool, String?, String?, String)])
  func unusableJWTMaterial(
    name: String, hasKey: Bool, hasSet: Bool, algorithm: String?, keyID: String?, message: String
  ) async throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("jwt-store-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    let store = FileCAStore(directory: folder.path, fileNames: [:])
    let ca = try IssuingAuthority.generate(trustDomain: "td", namespace: "ns", keyAlgorithm: .ed25519, now: Date())
    try await store.write(try ca.material, over: StoredCA(publishesAnchors: false))
    let (key, pem) = try JWTSigningKey.generate()
    var set = JWKSet(keys: [key.publicJWK])
    if algorithm == "other" { set = JWKSet(keys: [try JWTSigningKey.generate().key.publicJWK]) }
    var update = CAStoreUpdate()
    if hasKey { update.entries[.jwtSigningKey] = pem }
    if hasSet { update.entries[.jwks] = set.json }
    try await store.apply(update, over: StoredCA(publishesAnchors: false))
    let settings = JWTSettings(
      keyFilename: "jwt.key", jwksFilename: "jwks.json", issuer: nil,
      algorithm: algorithm == "ES256" ? .es256 : .rs256, keyID: keyID, ttl: 3600)
    let manager = CAManager(
      store: store, trustDomain: "td", namespace: "ns", keyAlgorithm: .ed25519, allowedClockSkew: { 60 },
      metrics: SentryMetrics(registry: MetricsRegistry(includeProcessMetrics: false)), readiness: nil,
      logger: Logger(label: "ca"), jwt: settings)
    #expect(await manager.reload() == .failed, "\(name)")
    #expect(manager.problem.current?.contains(message) == true, "\(name): \(manager.problem.current ?? "")")
    #expect(manager.jwtIssuer.current == nil)
    // Nothing was written over the user's files.
    let after = try await store.read()
    #expect(after[.jwtSigningKey] == (hasKey ? pem : nil) && after[.jwks] == (hasSet ? set.json : nil))
  }

  // === Key rotation ===

  @Test func aRotatedKeyIsPublishedBeforeItSignsAndTheOldOneUntilItsLastTokenExpires() throws {
    let start = referenceTime
    let (old, oldPEM) = try JWTSigningKey.generate()
    var stored = StoredCA(publishesAnchors: true)
    stored[.jwtSigningKey] = oldPEM
    stored[.jwks] = JWKSet(keys: [old.publicJWK]).json
    // Begin: the next key is published at once (Secret and ConfigMap) and signs from an hour later.
    let begun = try JWTRotationState.begin(stored: stored, publishFor: 3600, now: start)
    for (entry, value) in begun.entries { stored[entry] = value }
    #expect(begun.published[.jwks] == begun.entries[.jwks])
    #expect(try JWKSet(json: stored[.jwks]!).keys.count == 2)
    #expect(throws: JWTKeyError.self) { try JWTRotationState.begin(stored: stored, publishFor: 60, now: start) }
    let state = try JWTRotationState(json: stored[.jwtRotation])
    // Before its time nothing changes, and sentry wakes when it comes.
    let early = try state.step(stored: stored, currentKeyID: old.keyID, ttl: 86_400, skew: 900, now: start + 3599)
    #expect(early.update == nil && early.deadline == start + 3600)
    // At its time the next key signs; the old one stays published for the TTL and the skew.
    let promoted = try state.step(stored: stored, currentKeyID: old.keyID, ttl: 86_400, skew: 900, now: start + 3600)
    let promotion = try #require(promoted.update)
    #expect(promotion.entries[.jwtSigningKey] == stored[.jwtNextSigningKey])
    #expect(promotion.entries[.jwtNextSigningKey] == .some(nil))
    for (entry, value) in promotion.entries { stored[entry] = value }
    let after = try JWTRotationState(json: stored[.jwtRotation])
    #expect(after.next == nil && after.retired == [.init(kid: old.keyID, publishedUntil: start + 3600 + 86_400 + 900)])
    #expect(promoted.deadline == start + 3600 + 86_400 + 900)
    let settled = try after.step(stored: stored, currentKeyID: "new", ttl: 86_400, skew: 900, now: start + 3601)
    #expect(settled.update == nil && settled.deadline == start + 3600 + 86_400 + 900)
    // Once every token the old key signed has expired, it leaves the set (both copies) and the state is gone.
    let retired = try after.step(
      stored: stored, currentKeyID: "new", ttl: 86_400, skew: 900, now: start + 3600 + 86_400 + 900)
    let removal = try #require(retired.update)
    let remaining = try JWKSet(json: try #require(removal.entries[.jwks] ?? nil))
    let nextKid = try JSONCoding.parse(Data(stored[.jwks]!.utf8))["keys"]?.arrayValue?.last?["kid"]?.stringValue
    #expect(remaining.keys.map(\.keyID) == [nextKid])
    #expect(removal.published[.jwks] == removal.entries[.jwks])
    #expect(removal.entries[.jwtRotation] == .some(nil))
  }

  @Test func aTokenFromARotatedOutKeyStillVerifiesUntilItExpiresAndTheNewKeySignsAfterItsPublication() async throws {
    // Short times: tokens live 10 s (long enough to outlast a stalled test process), the skew is 1 s, the new key
    // is published 1 s before it signs.
    try await JWTSentry.run(flags: ["--jwt-ttl", "10s"], skew: "1s") { sentry in
      let (_, before, _) = try await sentry.client().fetchWithJWTs(audiences: [])
      let oldToken = try #require(before)
      let store = FileCAStore(directory: sentry.credentials.path, fileNames: [:])
      let stored = try await store.read()
      try await store.apply(try JWTRotationState.begin(stored: stored, publishFor: 1, now: Date()), over: stored)
      let oldKid = try JSONCoding.parse(
        Data(try #require(Data(base64URLEncoded: String(oldToken.split(separator: ".")[0])))))["kid"]
      func kid(_ token: String) throws -> JSONValue? {
        try JSONCoding.parse(try #require(Data(base64URLEncoded: String(token.split(separator: ".")[0]))))["kid"]
      }
      // Sentry signs with the new key once its publication time has passed.
      var newToken = ""
      try await eventually("sentry signs with the new key", within: .seconds(20)) {
        newToken = try await sentry.client().fetchWithJWTs(audiences: []).jwt ?? ""
        return try kid(newToken) != oldKid
      }
      // Both verify against the key set sentry publishes now: the old key is still in it.
      let keySet = try sentry.storedJWKS()
      #expect(keySet["keys"]?.arrayValue?.count == 2)
      let verdicts = try await PyJWT.verify([
        ["token": .string(oldToken), "audience": "public", "jwks": keySet],
        ["token": .string(newToken), "audience": "public", "jwks": keySet],
      ])
      #expect(verdicts.allSatisfy { $0["ok"] == true }, "\(verdicts)")
      // After its last token has expired (10 s + 1 s), the old key leaves the set.
      try await eventually("the old key is retired", within: .seconds(30)) {
        try sentry.storedJWKS()["keys"]?.arrayValue?.count == 1
      }
      #expect(try sentry.storedJWKS()["keys"]?.arrayValue?.first?["kid"] == (try kid(newToken)))
    }
  }
}
