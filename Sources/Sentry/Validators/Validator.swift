/// Proves that a request comes from the identity it asks for, and says which trust domain its certificate is in.
public protocol IdentityValidator: Sendable {
  /// The trust domain of the certificate to issue; throws the reason (answered with `PermissionDenied`).
  func validate(_ request: SignRequest) async throws(ValidationFailure) -> String
}

/// Accepts any well-formed request: self-hosted development only. The trust domain is the request's own.
public struct InsecureValidator: IdentityValidator {
  public init() {}

  public func validate(_ request: SignRequest) async throws(ValidationFailure) -> String {
    try RequestChecks.validate(request)
  }
}
