import AsyncHTTPClient
import ControlPlaneKit
import Foundation
import JWTKit
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// Dapr's `jwks` validator: the request's token must be a JWT signed by a key of a JWK set, for sentry's SPIFFE ID
/// as an audience, with `sub` equal to the SPIFFE ID asked for. The set comes from the `source` option: an `https://`
/// URL (refreshed every `minRefreshInterval`), a file (re-read when it changes), or the set itself (JSON, optionally
/// base64).
public final class JWKSValidator: IdentityValidator, Service, Sendable {
  /// The validator's readiness target.
  public static let readinessTarget = "sentry-jwks-validator"
  /// How far a token's times may be off.
  static let allowedSkew: TimeInterval = 300

  /// The documented options.
  public struct Options: Sendable, Hashable {
    public enum Source: Sendable, Hashable {
      case url(String)
      case file(String)
      case inline(String)
    }

    public var source: Source
    /// PEM (or a file holding it) of the CA that signs the JWKS server's certificate.
    public var caCertificate: String?
    public var minRefreshInterval: TimeInterval = 600
    public var requestTimeout: TimeInterval = 30

    /// Reads the options of `spec.mtls.tokenValidators[].options`.
    public init(_ options: [String: String]) throws(ValidationFailure) {
      guard let source = options["source"], !source.isEmpty else {
        throw ValidationFailure("property 'location' must not be empty")
      }
      if source.hasPrefix("https://") || source.hasPrefix("http://") {
        self.source = .url(source)
      } else if var isDirectory = Optional(ObjCBool(false)),
        FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory),
        !isDirectory.boolValue
      {
        self.source = .file(source)
      } else if let decoded = Data(base64Encoded: Self.padded(source)),
        (try? JSONSerialization.jsonObject(with: decoded)) != nil
      {
        self.source = .inline(String(decoding: decoded, as: UTF8.self))
      } else if (try? JSONSerialization.jsonObject(with: Data(source.utf8))) != nil {
        self.source = .inline(source)
      } else {
        throw ValidationFailure(
          "failed to parse property 'location': not a URL, path to local file, or JSON value (optionally base64-encoded)"
        )
      }
      caCertificate = options["caCertificate"].flatMap { $0.isEmpty ? nil : $0 }
      if let interval = options["minRefreshInterval"].flatMap(Self.seconds), interval > 1 {
        minRefreshInterval = interval
      }
      if let timeout = options["requestTimeout"].flatMap(Self.seconds), timeout > 0.001 { requestTimeout = timeout }
    }

    /// A Go duration, or plain seconds.
    static func seconds(_ text: String) -> TimeInterval? {
      if let duration = try? GoDuration(parsing: text) { return TimeInterval(duration.nanoseconds) / 1e9 }
      return TimeInterval(text)
    }

    static func padded(_ text: String) -> String {
      let trimmed = text.trimmingCharacters(in: CharacterSet(charactersIn: "="))
      return trimmed + String(repeating: "=", count: (4 - trimmed.count % 4) % 4)
    }
  }

  public let options: Options
  private let sentryID: SPIFFEID
  private let keys = LatestValue<JWTKeyCollection?>(nil)
  private let logger: Logger
  private let readiness: ReadinessTargets?
  private let now: @Sendable () -> Date

  public init(
    options: Options, sentryID: SPIFFEID, readiness: ReadinessTargets?, logger: Logger,
    now: @escaping @Sendable () -> Date = { Date() }
  ) {
    self.options = options
    self.sentryID = sentryID
    self.readiness = readiness
    self.logger = logger
    self.now = now
  }

  /// Loads the key set once.
  public func load() async throws {
    let json: String
    switch options.source {
    case .inline(let text): json = text
    case .file(let path):
      guard let data = FileManager.default.contents(atPath: path) else {
        throw ValidationFailure("cannot read the JWKS file \(path)")
      }
      json = String(decoding: data, as: UTF8.self)
    case .url(let url):
      if url.hasPrefix("http://") { logger.warning("Loading the JWKS over plain HTTP: \(url)") }
      json = try await fetch(url)
    }
    let collection = JWTKeyCollection()
    try await collection.add(jwksJSON: json)
    keys.set(collection)
    readiness?.markReady(Self.readinessTarget)
  }

  private func fetch(_ url: String) async throws -> String {
    var tls = TLSConfiguration.makeClientConfiguration()
    if let ca = options.caCertificate {
      let pem = FileManager.default.contents(atPath: ca).map { String(decoding: $0, as: UTF8.self) } ?? ca
      tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
    }
    let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
    do {
      let response = try await client.execute(
        HTTPClientRequest(url: url), timeout: .milliseconds(Int64(options.requestTimeout * 1000)))
      guard response.status == .ok else {
        throw ValidationFailure("the JWKS server answered HTTP \(response.status.code)")
      }
      let body = try await response.body.collect(upTo: 4 << 20)
      try await client.shutdown()
      return String(buffer: body)
    } catch {
      try? await client.shutdown()
      throw error
    }
  }

  /// Keeps the key set current: the URL every `minRefreshInterval`, the file when it changes.
  public func run() async throws {
    try await untilShutdown { [self] in
      var lastError: String?
      while true {
        do {
          try await load()
          lastError = nil
        } catch {
          if lastError != "\(error)" {
            lastError = "\(error)"
            logger.error("Cannot load the JWKS for the jwks validator", metadata: ["error": "\(error)"])
          }
        }
        let pause: TimeInterval =
          switch options.source {
          case .url: keys.current == nil ? 5 : options.minRefreshInterval
          case .file: 2
          case .inline: keys.current == nil ? 5 : .infinity
          }
        if pause == .infinity {
          try await gracefulShutdown()
          return
        }
        try await Task.sleep(for: .seconds(pause))
      }
    }
  }

  public func validate(_ request: SignRequest) async throws(ValidationFailure) -> String {
    guard !request.token.isEmpty else { throw ValidationFailure("the request does not contain a token") }
    guard let collection = keys.current else { throw ValidationFailure("jwks validator not ready") }
    let trustDomain = try RequestChecks.validate(request)
    let subject: SPIFFEID
    do {
      subject = try SPIFFEID(trustDomain: trustDomain, namespace: request.namespace, appID: request.id)
    } catch {
      throw ValidationFailure("failed to construct SPIFFE ID for requestor: \(error.message)")
    }
    let claims: SVIDClaims
    do {
      claims = try await collection.verify(request.token, as: SVIDClaims.self)
    } catch {
      throw ValidationFailure("token validation failed: \(error)")
    }
    let moment = now()
    if let expiry = claims.exp?.value, expiry.addingTimeInterval(Self.allowedSkew) < moment {
      throw ValidationFailure("token validation failed: \"exp\" not satisfied")
    }
    if let notBefore = claims.nbf?.value, notBefore.addingTimeInterval(-Self.allowedSkew) > moment {
      throw ValidationFailure("token validation failed: \"nbf\" not satisfied")
    }
    guard claims.aud?.value.contains(sentryID.description) == true else {
      throw ValidationFailure("token validation failed: \"aud\" not satisfied")
    }
    guard claims.sub?.value == subject.description else {
      throw ValidationFailure("token validation failed: \"sub\" not satisfied")
    }
    return trustDomain
  }
}

/// The claims the jwks validator checks; times are checked with five minutes of skew after the signature.
struct SVIDClaims: JWTPayload {
  var sub: SubjectClaim?
  var aud: AudienceClaim?
  var exp: ExpirationClaim?
  var nbf: NotBeforeClaim?

  func verify(using algorithm: some JWTAlgorithm) throws {}
}
