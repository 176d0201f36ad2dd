import ControlPlaneCore
import DaprMessages
import Foundation

/// A request to sign a workload certificate, as sentry received it.
public struct SignRequest: Sendable, Hashable {
  /// Which validator proves the caller's identity.
  public enum Validator: String, Sendable, Hashable, CaseIterable {
    case insecure, kubernetes, jwks
  }

  public var id: String
  public var token: String
  public var trustDomain: String
  public var namespace: String
  /// The PEM-encoded CSR.
  public var certificateSigningRequest: [UInt8]
  /// `nil`: the caller named none (UNKNOWN), so sentry's default applies.
  public var validator: Validator?
  public var jwtAudiences: [String]

  public init(
    id: String, token: String = "", trustDomain: String = "", namespace: String,
    certificateSigningRequest: [UInt8], validator: Validator? = nil, jwtAudiences: [String] = []
  ) {
    self.id = id
    self.token = token
    self.trustDomain = trustDomain
    self.namespace = namespace
    self.certificateSigningRequest = certificateSigningRequest
    self.validator = validator
    self.jwtAudiences = jwtAudiences
  }

  /// The request as the wire carries it.
  public init(_ message: Dapr_Proto_Sentry_V1_SignCertificateRequest) {
    let validator: Validator? =
      switch message.tokenValidator {
      case .insecure: .insecure
      case .kubernetes: .kubernetes
      case .jwks: .jwks
      default: nil
      }
    self.init(
      id: message.id, token: message.token, trustDomain: message.trustDomain, namespace: message.namespace,
      certificateSigningRequest: Array(message.certificateSigningRequest), validator: validator,
      jwtAudiences: message.jwtAudiences)
  }
}

/// Why sentry refused to sign: a gRPC status code and Dapr's message.
public struct SignFailure: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Code: String, Hashable, Sendable {
    case invalidArgument, permissionDenied, `internal`
  }

  public let code: Code
  public let message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { "\(code.rawValue): \(message)" }

  package static let noValidatorNamed = SignFailure(
    .invalidArgument, "a validator name must be specified in this environment")
  package static let validatorNotEnabled = SignFailure(.invalidArgument, "the requested validator is not enabled")
  static let invalidCSR = SignFailure(.invalidArgument, "invalid certificate signing request")
  static func unparsableCSR(_ reason: String) -> SignFailure {
    SignFailure(.invalidArgument, "failed to parse certificate signing request: \(reason)")
  }
  static let invalidSignature = SignFailure(.invalidArgument, "invalid signature")
  package static let signingFailed = SignFailure(.internal, "failed to sign certificate")
  /// The issuer (or an intermediate) has expired: nothing it signs would be valid.
  package static func issuerExpired(at expiry: Date) -> SignFailure {
    SignFailure(
      .internal,
      "failed to sign certificate: the issuer certificate expired at \(ISO8601DateFormatter().string(from: expiry)); "
        + "sentry signs nothing until the issuer is renewed (sentry ca renew, or a new issuer.crt and issuer.key in the "
        + "trust bundle)")
  }
  static let encodingFailed = SignFailure(.internal, "failed to encode certificate chain")
}
