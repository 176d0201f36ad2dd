/// A Dapr workload identity: `spiffe://<trust-domain>/ns/<namespace>/<app-id>`.
///
/// Dapr gives every sidecar and control-plane service exactly this shape of SPIFFE ID. Parsing is strict: the
/// SPIFFE rules (lower-case trust domain, no query, fragment, port or user info, at most 2048 bytes) plus Dapr's
/// (the path is exactly `ns`, a namespace and an app id; no dots in either; an app id of at most 64 characters).
/// Every rejection carries its own ``SPIFFEIDError/Code`` and a message that names the problem.
public struct SPIFFEID: Hashable, Sendable, CustomStringConvertible {
  /// The trust domain, for example `public` or `cluster.local`.
  public let trustDomain: String
  /// The Kubernetes namespace (or the `NAMESPACE` of a self-hosted process).
  public let namespace: String
  /// The Dapr app id, or `dapr-<service>` for the control plane.
  public let appID: String

  /// The longest SPIFFE ID the SPIFFE standard allows, in bytes.
  public static let maximumLength = 2048
  /// The longest trust domain the SPIFFE standard allows, in bytes.
  public static let maximumTrustDomainLength = 255
  /// The longest app id Dapr's sentry accepts.
  public static let maximumAppIDLength = 64
  /// The longest namespace Kubernetes allows (a DNS-1123 label).
  public static let maximumNamespaceLength = 63

  /// Builds an ID from its parts, checking each one as ``init(parsing:)`` would.
  public init(trustDomain: String, namespace: String, appID: String) throws(SPIFFEIDError) {
    try Self.checkTrustDomain(trustDomain)
    try Self.checkNamespace(namespace)
    try Self.checkAppID(appID)
    self.trustDomain = trustDomain
    self.namespace = namespace
    self.appID = appID
    let length = self.description.utf8.count
    if length > Self.maximumLength { throw .tooLong(length) }
  }

  /// Parses `spiffe://<trust-domain>/ns/<namespace>/<app-id>`.
  public init(parsing string: String) throws(SPIFFEIDError) {
    let length = string.utf8.count
    if length > Self.maximumLength { throw .tooLong(length) }
    let scheme = "spiffe://"
    guard string.hasPrefix(scheme) else { throw .missingScheme(string) }
    let rest = string.dropFirst(scheme.count)
    if rest.contains("?") || rest.contains("#") { throw .queryOrFragment(string) }

    let authority: Substring
    let path: Substring
    if let slash = rest.firstIndex(of: "/") {
      authority = rest[..<slash]
      path = rest[rest.index(after: slash)...]
    } else {
      authority = rest
      path = ""
    }
    if authority.contains("@") || authority.contains(":") { throw .userInfoOrPort(String(authority)) }
    try Self.checkTrustDomain(String(authority))

    let segments = path.split(separator: "/", omittingEmptySubsequences: false)
    guard !path.isEmpty, segments.first == "ns", segments.count >= 2 else {
      throw .wrongPathShape("/" + String(path))
    }
    if segments.count > 3 { throw .extraSegments("/" + String(path)) }
    let namespace = String(segments[1])
    let appID = segments.count == 3 ? String(segments[2]) : ""
    try Self.checkNamespace(namespace)
    try Self.checkAppID(appID)
    self.trustDomain = String(authority)
    self.namespace = namespace
    self.appID = appID
  }

  /// The URI form, `spiffe://<trust-domain>/ns/<namespace>/<app-id>`.
  public var description: String { "spiffe://\(trustDomain)/ns/\(namespace)/\(appID)" }

  // === Validation of the parts ===

  static func checkTrustDomain(_ trustDomain: String) throws(SPIFFEIDError) {
    if trustDomain.isEmpty { throw .emptyTrustDomain }
    if trustDomain.utf8.count > maximumTrustDomainLength { throw .trustDomainTooLong(trustDomain.utf8.count) }
    for byte in trustDomain.utf8
    where
      !(isLowerAlphanumeric(byte) || byte == UInt8(ascii: ".")
      || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_"))
    {
      throw .invalidTrustDomain(trustDomain)
    }
  }

  static func checkNamespace(_ namespace: String) throws(SPIFFEIDError) {
    if namespace.isEmpty { throw .emptyNamespace }
    if namespace.contains(".") { throw .dotInNamespace(namespace) }
    if namespace.utf8.count > maximumNamespaceLength { throw .namespaceTooLong(namespace.utf8.count) }
    for byte in namespace.utf8 where !isSegmentCharacter(byte) {
      throw .invalidCharacter(part: "namespace", value: namespace)
    }
  }

  static func checkAppID(_ appID: String) throws(SPIFFEIDError) {
    if appID.isEmpty { throw .emptyAppID }
    if appID.contains(".") { throw .dotInAppID(appID) }
    if appID.utf8.count > maximumAppIDLength { throw .appIDTooLong(appID.utf8.count) }
    for byte in appID.utf8 where !isSegmentCharacter(byte) {
      throw .invalidCharacter(part: "app id", value: appID)
    }
  }

  private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
  }

  private static func isSegmentCharacter(_ byte: UInt8) -> Bool {
    isLowerAlphanumeric(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
      || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
  }
}

/// Why a string is not a Dapr SPIFFE ID.
public struct SPIFFEIDError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The kind of problem; compare errors by code.
  public enum Code: Hashable, Sendable {
    case missingScheme, queryOrFragment, userInfoOrPort
    case emptyTrustDomain, invalidTrustDomain, trustDomainTooLong
    case wrongPathShape, extraSegments
    case emptyNamespace, dotInNamespace, namespaceTooLong
    case emptyAppID, dotInAppID, appIDTooLong
    case invalidCharacter, tooLong
  }

  /// The kind of problem.
  public let code: Code
  /// A sentence that names the problem and the offending value.
  public let message: String

  public var description: String { message }

  static func missingScheme(_ s: String) -> Self {
    .init(code: .missingScheme, message: "SPIFFE ID \"\(s)\" must start with \"spiffe://\"")
  }
  static func queryOrFragment(_ s: String) -> Self {
    .init(code: .queryOrFragment, message: "SPIFFE ID \"\(s)\" must not contain a query or a fragment")
  }
  static func userInfoOrPort(_ authority: String) -> Self {
    .init(code: .userInfoOrPort, message: "SPIFFE trust domain \"\(authority)\" must not contain user info or a port")
  }
  static let emptyTrustDomain = Self(code: .emptyTrustDomain, message: "SPIFFE ID has an empty trust domain")
  static func invalidTrustDomain(_ td: String) -> Self {
    .init(
      code: .invalidTrustDomain,
      message: "SPIFFE trust domain \"\(td)\" may contain only lower-case letters, digits, '.', '-' and '_'")
  }
  static func trustDomainTooLong(_ length: Int) -> Self {
    .init(
      code: .trustDomainTooLong,
      message: "SPIFFE trust domain is \(length) bytes long; at most \(SPIFFEID.maximumTrustDomainLength) are allowed")
  }
  static func wrongPathShape(_ path: String) -> Self {
    .init(code: .wrongPathShape, message: "SPIFFE ID path \"\(path)\" must be /ns/<namespace>/<app-id>")
  }
  static func extraSegments(_ path: String) -> Self {
    .init(
      code: .extraSegments,
      message: "SPIFFE ID path \"\(path)\" has segments after /ns/<namespace>/<app-id>")
  }
  static let emptyNamespace = Self(code: .emptyNamespace, message: "SPIFFE ID has an empty namespace")
  static func dotInNamespace(_ ns: String) -> Self {
    .init(code: .dotInNamespace, message: "namespace \"\(ns)\" in SPIFFE ID must not contain dots")
  }
  static func namespaceTooLong(_ length: Int) -> Self {
    .init(
      code: .namespaceTooLong,
      message:
        "namespace in SPIFFE ID is \(length) characters long; at most \(SPIFFEID.maximumNamespaceLength) are allowed")
  }
  static let emptyAppID = Self(code: .emptyAppID, message: "SPIFFE ID has an empty app id")
  static func dotInAppID(_ id: String) -> Self {
    .init(code: .dotInAppID, message: "app id \"\(id)\" in SPIFFE ID must not contain dots")
  }
  static func appIDTooLong(_ length: Int) -> Self {
    .init(
      code: .appIDTooLong,
      message: "app id in SPIFFE ID is \(length) characters long; at most \(SPIFFEID.maximumAppIDLength) are allowed")
  }
  static func invalidCharacter(part: String, value: String) -> Self {
    .init(
      code: .invalidCharacter,
      message: "\(part) \"\(value)\" in SPIFFE ID may contain only letters, digits, '-' and '_'")
  }
  static func tooLong(_ length: Int) -> Self {
    .init(
      code: .tooLong,
      message: "SPIFFE ID is \(length) bytes long; at most \(SPIFFEID.maximumLength) are allowed")
  }
}
