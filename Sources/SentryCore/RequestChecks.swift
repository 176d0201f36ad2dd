/// The checks every validator runs first (Dapr's common request validation): all problems are reported together,
/// one per line, after `invalid request: `. Returns the trust domain the request asks for (`public` when empty).
///
/// An invalid trust domain is reported on its own, without the prefix, as Dapr does.
public enum RequestChecks {
  public static func validate(_ request: SignRequest) throws(ValidationFailure) -> String {
    var problems: [String] = []
    if request.id.isEmpty {
      problems.append("parameter app-id cannot be empty")
    } else if request.id.contains(".") {
      problems.append("parameter app-id cannot contain dots")
    }
    if request.id.utf8.count > 64 { problems.append("app ID must be 64 characters or less") }
    if request.certificateSigningRequest.isEmpty { problems.append("CSR is required") }
    if request.namespace.isEmpty { problems.append("namespace is required") }
    if !problems.isEmpty {
      throw ValidationFailure("invalid request: " + problems.joined(separator: "\n"))
    }
    return try trustDomain(request.trustDomain)
  }

  /// `public` for an empty trust domain; otherwise the SPIFFE rules (lower-case letters, digits, `.`, `-`, `_`),
  /// with the messages of Go's SPIFFE library.
  public static func trustDomain(_ requested: String) throws(ValidationFailure) -> String {
    if requested.isEmpty { return "public" }
    let allowed = requested.utf8.allSatisfy { byte in
      (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
    }
    guard allowed else {
      throw ValidationFailure(
        "trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores")
    }
    return requested
  }
}

/// A validator's refusal; sentry answers it with `PermissionDenied` and this text.
public struct ValidationFailure: Error, Hashable, Sendable, CustomStringConvertible {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
