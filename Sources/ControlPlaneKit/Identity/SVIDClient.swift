import DaprProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle
import SwiftASN1
import X509

/// Gets and renews this process' X.509 SVID from sentry, as Dapr's control-plane services and sidecars do: a fresh
/// key and CSR for each request, a token to prove who it is, the answer checked before use, renewal at half the
/// certificate's lifetime (retried every 10 s on failure). The current SVID is served by ``identity``; TLS
/// configurations built on it (see ``SecureGRPC``) present a renewed SVID to new connections while live ones carry on.
public final class SVIDClient: Sendable {
  /// How the SVID is asked for.
  public struct Request: Sendable {
    /// The app id, or `dapr-<service>` for the control plane.
    public var appID: String
    public var namespace: String
    /// The trust domain asked for; Dapr sends it only for control-plane ids.
    public var trustDomain: String
    public var validator: Dapr_Proto_Sentry_V1_SignCertificateRequest.TokenValidator
    /// The token proving the identity (a projected service-account token), re-read for every request.
    public var tokenFile: String?
    /// Dapr 1.18 uses Ed25519 for sidecars and RSA for the webhooks.
    public var keyAlgorithm: KeyAlgorithm

    public init(
      appID: String, namespace: String, trustDomain: String,
      validator: Dapr_Proto_Sentry_V1_SignCertificateRequest.TokenValidator = .kubernetes, tokenFile: String? = nil,
      keyAlgorithm: KeyAlgorithm = .ed25519
    ) {
      self.appID = appID
      self.namespace = namespace
      self.trustDomain = trustDomain
      self.validator = validator
      self.tokenFile = tokenFile
      self.keyAlgorithm = keyAlgorithm
    }
  }

  public let request: Request
  /// `host:port` of sentry.
  public let sentryHost: String
  public let sentryPort: Int
  /// Sentry's own SPIFFE ID, which its serving certificate must carry.
  public let sentryID: SPIFFEID
  public let trustAnchors: LatestValue<TrustBundle>
  private let logger: Logger
  private let now: @Sendable () -> Date

  public init(
    request: Request, sentryHost: String, sentryPort: Int, sentryID: SPIFFEID, trustAnchors: LatestValue<TrustBundle>,
    logger: Logger, now: @escaping @Sendable () -> Date = { Date() }
  ) {
    self.request = request
    self.sentryHost = sentryHost
    self.sentryPort = sentryPort
    self.sentryID = sentryID
    self.trustAnchors = trustAnchors
    self.logger = logger
    self.now = now
  }

  /// Asks sentry once for an SVID and checks the answer.
  public func fetch() async throws -> TLSIdentity {
    try await fetchWithJWTs(audiences: []).identity
  }

  /// The SVID and, when sentry issues JWTs, the token for the trust domain and `audiences`
  /// (`--sentry-request-jwt-audiences`), and one token per audience, as the response carries them.
  public func fetchWithJWTs(
    audiences: [String]
  ) async throws -> (identity: TLSIdentity, jwt: String?, perAudience: [String: String]) {
    let key = await request.keyAlgorithm.makePrivateKeyOffThePool()
    let csr = try CertificateSigningRequest(
      version: .v1, subject: DistinguishedName(), privateKey: key, attributes: .init(),
      signatureAlgorithm: key.preferredSignatureAlgorithm)
    var message = Dapr_Proto_Sentry_V1_SignCertificateRequest()
    message.id = request.appID
    message.namespace = request.namespace
    message.trustDomain = request.trustDomain
    message.tokenValidator = request.validator
    message.certificateSigningRequest = Data(try csr.serializeAsPEM().pemString.utf8)
    message.jwtAudiences = audiences
    if let tokenFile = request.tokenFile {
      guard let token = FileManager.default.contents(atPath: tokenFile) else {
        throw SVIDError("cannot read the identity token \(tokenFile)")
      }
      message.token = String(decoding: token, as: UTF8.self).trimmingWhitespace
    }

    let anchors = trustAnchors
    let transport = try SecureGRPC.clientTransport(
      host: sentryHost, port: sentryPort,
      security: .tls(
        identity: nil,
        verifier: SPIFFEPeerVerifier(trustBundle: anchors, requirement: .exactly(sentryID))))
    let response = try await withGRPCClient(transport: transport) { client in
      var options = CallOptions.defaults
      options.timeout = .seconds(10)
      return try await Dapr_Proto_Sentry_V1_CA.Client(wrapping: client).signCertificate(message, options: options)
    }
    return (
      try check(response, key: key), response.hasJwt ? response.jwt.value : nil,
      response.perAudienceJwts.mapValues(\.value)
    )
  }

  /// The answer must be a chain for our key and identity that verifies against the trust anchors.
  func check(
    _ response: Dapr_Proto_Sentry_V1_SignCertificateResponse, key: Certificate.PrivateKey
  ) throws -> TLSIdentity {
    let pem = String(decoding: response.workloadCertificate, as: UTF8.self)
    let chain: [Certificate]
    do {
      chain = try PEMDocument.parseMultiple(pemString: pem).map { try Certificate(pemDocument: $0) }
    } catch {
      throw SVIDError("sentry answered with a certificate chain that does not parse: \(error)")
    }
    guard let leaf = chain.first else { throw SVIDError("sentry answered without a certificate") }
    guard leaf.publicKey == key.publicKey else { throw SVIDError("sentry's certificate is not for the key we sent") }
    let id = try PeerIdentity.spiffeID(of: leaf)
    guard id.appID == request.appID, id.namespace == request.namespace else {
      throw SVIDError("sentry's certificate is for \(id), not for app \(request.appID) in \(request.namespace)")
    }
    return try TLSIdentity(certificateChain: chain, privateKey: key)
  }

  /// Fetches until it succeeds, `attempts` times at most, `delay` apart (daprd: 5 tries, 3 s apart).
  public func fetchInitial(attempts: Int = 5, delay: Duration = .seconds(3)) async throws -> TLSIdentity {
    var lastError: (any Error)?
    for attempt in 1...max(1, attempts) {
      do {
        let identity = try await fetch()
        logger.info(
          "Successfully received the workload identity",
          metadata: ["spiffe-id": "\((try? identity.spiffeID)?.description ?? "")"])
        return identity
      } catch {
        lastError = error
        logger.warning(
          "Failed to get a workload identity from sentry; retrying",
          metadata: ["attempt": "\(attempt)", "error": "\(error)"])
        if attempt < attempts { try await Task.sleep(for: delay) }
      }
    }
    throw SVIDError("failed to retrieve the initial identity: \(lastError.map { "\($0)" } ?? "unknown error")")
  }

  /// Renews `identity` at half of each certificate's lifetime until shutdown, retrying every `retry` on failure;
  /// `onAttempt` hears of every attempt's outcome. The waits are measured on `clock`.
  public func keepRenewing(
    _ identity: LatestValue<TLSIdentity>, retry: Duration = .seconds(10),
    clock: any Clock<Duration> = ContinuousClock(),
    onAttempt: @escaping @Sendable (Result<TLSIdentity, any Error>) -> Void = { _ in }
  ) async throws {
    let renewal = SVIDRenewal(retry: retry, clock: clock, now: now, logger: logger)
    try await untilShutdown { [self] in
      try await renewal.run(identity, fetch: { try await self.fetch() }, onAttempt: onAttempt)
    }
  }

  /// For a server that needs its own SVID before it listens (the injector's webhook, the operator's gRPC API and
  /// conversion webhook, placement): gets the SVID (up to `attempts` tries, as ``fetchInitial(attempts:delay:)``), then runs `serve` with
  /// it while renewing it. Renewed certificates go to new connections; live ones carry on. Returns without serving
  /// when shut down before an SVID came.
  public func serving(
    attempts: Int = 100, _ serve: @escaping @Sendable (LatestValue<TLSIdentity>) async throws -> Void
  ) async throws {
    guard let first = try? await cancelWhenGracefulShutdown({ try await self.fetchInitial(attempts: attempts) }) else {
      return
    }
    let identity = LatestValue(first)
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await self.keepRenewing(identity) }
      try await serve(identity)
      group.cancelAll()
    }
  }

  /// Half way between NotBefore and NotAfter, as daprd renews.
  public static func renewalTime(notBefore: Date, notAfter: Date) -> Date {
    notBefore + notAfter.timeIntervalSince(notBefore) / 2
  }
}

/// When an SVID is renewed, as daprd does it: at half of each certificate's lifetime, and every `retry` after a
/// failure. The clock it waits on, the wall time it compares certificates with and the fetch are injected, so that
/// a test runs a day of renewals on a manual clock without a socket.
public struct SVIDRenewal: Sendable {
  public let retry: Duration
  let clock: any Clock<Duration>
  let now: @Sendable () -> Date
  let logger: Logger

  public init(
    retry: Duration = .seconds(10), clock: any Clock<Duration> = ContinuousClock(),
    now: @escaping @Sendable () -> Date = { Date() }, logger: Logger
  ) {
    self.retry = retry
    self.clock = clock
    self.now = now
    self.logger = logger
  }

  /// Renews `identity` with `fetch` until cancelled; `onAttempt` hears of every attempt's outcome.
  public func run(
    _ identity: LatestValue<TLSIdentity>, fetch: @Sendable () async throws -> TLSIdentity,
    onAttempt: @Sendable (Result<TLSIdentity, any Error>) -> Void = { _ in }
  ) async throws {
    while true {
      let leaf = identity.current.leaf
      let renewAt = SVIDClient.renewalTime(notBefore: leaf.notValidBefore, notAfter: leaf.notValidAfter)
      let wait = max(0, renewAt.timeIntervalSince(now()))
      // Sleep in steps of at most a minute, so that a jump of the wall clock (suspend, NTP) is noticed.
      try await clock.sleep(for: .milliseconds(Int64((min(wait, 60) * 1000).rounded(.up))))
      guard now() >= renewAt else { continue }
      logger.info("Renewing workload identity")
      do {
        let renewed = try await fetch()
        identity.set(renewed)
        onAttempt(.success(renewed))
      } catch {
        onAttempt(.failure(error))
        logger.error(
          "Failed to renew the workload identity; retrying", metadata: ["error": "\(error)", "retry": "\(retry)"])
        try await clock.sleep(for: retry)
      }
    }
  }
}

/// Why no SVID could be had.
public struct SVIDError: Error, Hashable, Sendable, CustomStringConvertible {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
