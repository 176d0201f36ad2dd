/// Why a Kubernetes API call failed: decoded from the API server's `Status` when there is one, else from the
/// transport. Compare errors by ``code``.
public struct KubernetesError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Code: String, Hashable, Sendable {
    // Answers from the API server (HTTP status and Status.reason).
    case badRequest, unauthorized, forbidden, notFound, methodNotAllowed, conflict, alreadyExists, gone, invalid
    case tooManyRequests, internalError, serviceUnavailable, timeout, unexpectedStatus
    // Problems before or after the exchange.
    case unreachable, tlsFailure, malformedResponse, invalidConfiguration, cancelled
  }

  /// One field problem of an `Invalid` answer.
  public struct Cause: Hashable, Sendable {
    public var field: String?
    public var reason: String?
    public var message: String?
  }

  public let code: Code
  /// The HTTP status, when the server answered.
  public let httpStatus: Int?
  /// `Status.reason`, when the server sent one.
  public let reason: String?
  public let message: String
  public let causes: [Cause]

  public init(code: Code, httpStatus: Int? = nil, reason: String? = nil, message: String, causes: [Cause] = []) {
    self.code = code
    self.httpStatus = httpStatus
    self.reason = reason
    self.message = message
    self.causes = causes
  }

  public var description: String {
    var text = "\(code.rawValue): \(message)"
    if let httpStatus { text += " (HTTP \(httpStatus))" }
    return text
  }

  /// Whether trying again later can help (throttling, server trouble, network trouble).
  public var isRetryable: Bool {
    switch code {
    case .tooManyRequests, .internalError, .serviceUnavailable, .timeout, .unreachable: true
    default: false
    }
  }

  /// The error an API server answer with `httpStatus` and body `status` stands for.
  package static func fromResponse(httpStatus: Int, status: Status?, request: String) -> KubernetesError {
    let reason = status?.reason
    let code: Code =
      switch (httpStatus, reason) {
      case (409, "AlreadyExists"): .alreadyExists
      case (409, _): .conflict
      case (400, _): .badRequest
      case (401, _): .unauthorized
      case (403, _): .forbidden
      case (404, _): .notFound
      case (405, _): .methodNotAllowed
      case (410, _): .gone
      case (422, _): .invalid
      case (429, _): .tooManyRequests
      case (500, _): .internalError
      case (503, _): .serviceUnavailable
      case (504, _): .timeout
      default: .unexpectedStatus
      }
    let causes = (status?.details?.causes ?? []).map { Cause(field: $0.field, reason: $0.reason, message: $0.message) }
    let message = status?.message ?? "\(request) answered HTTP \(httpStatus) without a Status"
    return KubernetesError(code: code, httpStatus: httpStatus, reason: reason, message: message, causes: causes)
  }
}
