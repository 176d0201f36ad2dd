import ControlPlaneKit
import Foundation
import X509

/// Signs workload certificates: picks the validator, validates, reads the CSR, signs. The checks run in Dapr's order
/// and fail with Dapr's codes and messages (see ``SignFailure``).
public struct CertificateAuthority: Sendable {
  /// The issued certificate, as the response carries it.
  public struct Signed: Sendable {
    /// The leaf followed by the issuer chain, in PEM.
    public var chainPEM: String
    /// Every trust anchor, in PEM.
    public var anchorsPEM: String
    public var leaf: Certificate
    public var validUntil: Date { leaf.notValidAfter }
    /// With `--jwt-enabled`: the token for the trust domain and the requested audiences.
    public var jwt: String?
    /// With `--jwt-enabled`: one token per requested audience.
    public var perAudienceJWTs: [String: String] = [:]
  }

  public let validators: [SignRequest.Validator: any IdentityValidator]
  /// The validator of requests that name none: `kubernetes` in Kubernetes mode; `insecure` in standalone mode when
  /// no other validator is configured; else none.
  public let defaultValidator: SignRequest.Validator?
  public let authority: LatestValue<IssuingAuthority?>
  public let settings: LatestValue<MTLSSettings>
  /// Sentry's namespace: control-plane ids asked for there get their services' DNS names.
  public let namespace: String
  /// The JWT signer, when JWTs are issued (`nil` inside: not loaded yet).
  public let jwtIssuer: LatestValue<JWTIssuer?>?
  public let now: @Sendable () -> Date

  public init(
    validators: [SignRequest.Validator: any IdentityValidator], defaultValidator: SignRequest.Validator?,
    authority: LatestValue<IssuingAuthority?>, settings: LatestValue<MTLSSettings>, namespace: String,
    jwtIssuer: LatestValue<JWTIssuer?>? = nil, now: @escaping @Sendable () -> Date = { Date() }
  ) {
    self.jwtIssuer = jwtIssuer
    self.validators = validators
    self.defaultValidator = defaultValidator
    self.authority = authority
    self.settings = settings
    self.namespace = namespace
    self.now = now
  }

  public func sign(_ request: SignRequest) async throws(SignFailure) -> Signed {
    guard let chosen = request.validator ?? defaultValidator else { throw .noValidatorNamed }
    guard let validator = validators[chosen] else { throw .validatorNotEnabled }
    let trustDomain: String
    do {
      trustDomain = try await validator.validate(request)
    } catch {
      throw SignFailure(.permissionDenied, error.message)
    }
    let csr = try CSRReader.read(request.certificateSigningRequest)

    guard let current = authority.current else {
      throw SignFailure(.internal, "failed to sign certificate: the certificate authority is not ready")
    }
    let settings = settings.current
    let moment = now()
    guard moment < current.chainExpiry else { throw .issuerExpired(at: current.chainExpiry) }
    let skew = TimeInterval(settings.allowedClockSkew.nanoseconds) / 1e9
    let id: SPIFFEID
    var signed: Signed
    do {
      id = try SPIFFEID(trustDomain: trustDomain, namespace: request.namespace, appID: request.id)
      let issued = try current.issue(
        WorkloadCertificateRequest(
          publicKey: csr.publicKey, spiffeID: id,
          dnsNames: Self.dnsNames(id: request.id, namespace: request.namespace, sentryNamespace: namespace),
          now: moment, ttl: TimeInterval(settings.workloadCertTTL.nanoseconds) / 1e9, allowedClockSkew: skew))
      signed = Signed(chainPEM: issued.chainPEM, anchorsPEM: current.anchorsPEM, leaf: issued.leaf)
    } catch {
      throw .signingFailed
    }
    // As Dapr: the JWTs only after the certificate, and a JWT failure fails the whole request.
    if let jwtIssuer {
      guard let signer = jwtIssuer.current else {
        throw SignFailure(.internal, "failed to generate JWT: JWT signing key is not available")
      }
      do {
        let tokens = try await signer.tokens(
          subject: id, requestedAudiences: request.jwtAudiences, now: moment, allowedClockSkew: skew)
        signed.jwt = tokens.jwt
        signed.perAudienceJWTs = tokens.perAudience
      } catch {
        throw SignFailure(
          .internal,
          error.message.hasPrefix("failed to generate JWT") ? error.message : "failed to generate JWT: \(error.message)"
        )
      }
    }
    return signed
  }

  /// The DNS names of control-plane services that serve webhooks or peer traffic, for requests from sentry's own
  /// namespace.
  public static func dnsNames(id: String, namespace: String, sentryNamespace: String) -> [String] {
    guard namespace == sentryNamespace else { return [] }
    switch id {
    case "dapr-injector": return ["dapr-sidecar-injector.\(namespace).svc"]
    case "dapr-operator": return ["dapr-webhook.\(namespace).svc"]
    case "dapr-scheduler":
      return (0..<3).map { "dapr-scheduler-server-\($0).dapr-scheduler-server.\(namespace).svc.cluster.local" }
    default: return []
    }
  }
}
