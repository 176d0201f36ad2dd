import Foundation
import Kubernetes

/// The OIDC discovery endpoints (`/.well-known/openid-configuration` and `/jwks.json`, under the path prefix), as
/// Dapr's sentry serves them, as a pure function of the request: a cloud identity provider federating with the
/// cluster reads the issuer and the key set here. The HTTP(S) server is ``OIDCServer``.
public struct OIDCDiscovery: Sendable {
  public let settings: OIDCSettings
  /// `--jwt-issuer`; nil: derived from each request's host.
  public let issuer: String?

  public init(settings: OIDCSettings, issuer: String?) {
    self.settings = settings
    self.issuer = issuer
  }

  public var jwksPath: String { settings.pathPrefix + "/jwks.json" }
  public var discoveryPath: String { settings.pathPrefix + "/.well-known/openid-configuration" }

  /// What is sent back.
  public struct Reply: Sendable, Equatable {
    public var status: Int
    public var contentType: String
    /// Set on successful answers: `public, max-age=3600`, as Dapr.
    public var cacheControl: String?
    public var body: String

    static func text(_ status: Int, _ message: String) -> Reply {
      Reply(status: status, contentType: "text/plain; charset=utf-8", cacheControl: nil, body: message + "\n")
    }
  }

  /// The host a request is for: `X-Forwarded-Host` only when an allow-list without `*` vets it (Dapr's fix for
  /// forged issuers, dapr#10027), else `Host`.
  func effectiveHost(host: String, forwardedHost: String?) -> String {
    let trustsForwarded = !settings.allowedHosts.isEmpty && !settings.allowedHosts.contains("*")
    if trustsForwarded, let forwardedHost, !forwardedHost.isEmpty { return forwardedHost }
    return host
  }

  func isAllowed(_ host: String) -> Bool {
    if settings.allowedHosts.isEmpty || settings.allowedHosts.contains("*") { return true }
    let withoutPort = host.split(separator: ":").first.map(String.init) ?? host
    return settings.allowedHosts.contains(host) || settings.allowedHosts.contains(withoutPort)
  }

  /// The answer to `method path` for `host`, with the published key set `keySet` (nil: none yet) and the signing
  /// algorithm first among the algorithms.
  public func answer(
    method: String, path: String, host: String, forwardedHost: String? = nil, keySet: JWKSet?,
    signingAlgorithm: String?
  ) -> Reply {
    guard path == jwksPath || path == discoveryPath else { return .text(404, "404 page not found") }
    let requestHost = effectiveHost(host: host, forwardedHost: forwardedHost)
    guard isAllowed(requestHost) else { return .text(403, "Forbidden: unauthorized domain") }
    guard method == "GET" else { return .text(405, "Method not allowed") }
    guard let keySet else {
      return .text(404, path == jwksPath ? "JWKS not available" : "OIDC configuration not available")
    }
    if path == jwksPath {
      return Reply(
        status: 200, contentType: "application/json", cacheControl: "public, max-age=3600", body: keySet.json)
    }
    let issuerURL: URL
    if let issuer, let url = URL(string: issuer) {
      issuerURL = url
    } else {
      guard !requestHost.isEmpty, !requestHost.contains("/"),
        let url = URL(string: "\(settings.tls == nil ? "http" : "https")://\(requestHost)"), url.host != nil
      else { return .text(400, "Invalid host") }
      issuerURL = url
    }
    let jwksURI: String
    if let configured = settings.jwksURI {
      jwksURI = configured
    } else {
      var components = URLComponents(url: issuerURL, resolvingAgainstBaseURL: false) ?? URLComponents()
      components.path = jwksPath
      components.query = nil
      components.fragment = nil
      jwksURI = components.string ?? jwksPath
    }
    var algorithms = signingAlgorithm.map { [$0] } ?? []
    for key in keySet.keys { if let alg = key.algorithm, !algorithms.contains(alg) { algorithms.append(alg) } }
    // Dapr's fields in Dapr's order; `jti` is listed too, since every token carries it.
    let document: [(String, JSONValue)] = [
      ("issuer", .string(issuer ?? issuerURL.absoluteString)),
      ("jwks_uri", .string(jwksURI)),
      ("response_types_supported", ["id_token"]),
      ("subject_types_supported", ["public"]),
      ("id_token_signing_alg_values_supported", .array(algorithms.map { .string($0) })),
      ("scopes_supported", ["openid"]),
      ("claims_supported", ["sub", "iss", "aud", "exp", "iat", "nbf", "use", "jti"]),
    ]
    var bytes: [UInt8] = [UInt8(ascii: "{")]
    for (index, (name, value)) in document.enumerated() {
      if index > 0 { bytes.append(UInt8(ascii: ",")) }
      JSONValue.string(name).write(into: &bytes)
      bytes.append(UInt8(ascii: ":"))
      value.write(into: &bytes)
    }
    bytes.append(contentsOf: "}\n".utf8)
    return Reply(
      status: 200, contentType: "application/json", cacheControl: "public, max-age=3600",
      body: String(decoding: bytes, as: UTF8.self))
  }
}
