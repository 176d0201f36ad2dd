import ArgumentParser
import ControlPlaneKit
import Foundation
import X509

/// Sentry's flags, with Dapr's names and defaults.
public struct SentryOptions: ParsableArguments, Sendable {
  @Option(
    name: .customLong("config"),
    help: "The Configuration (Kubernetes) or configuration file (standalone) to read mTLS settings from.")
  public var config = "daprsystem"

  @Option(name: .customLong("issuer-credentials"), help: "The directory of the issuer credentials (standalone mode).")
  public var issuerCredentials = "/var/run/secrets/dapr.io/credentials"

  @Option(name: .customLong("issuer-ca-filename"), help: "The file (and Secret/ConfigMap key) of the root certificate.")
  public var issuerCAFilename = "ca.crt"

  @Option(
    name: .customLong("issuer-certificate-filename"), help: "The file (and Secret key) of the issuer certificate.")
  public var issuerCertificateFilename = "issuer.crt"

  @Option(name: .customLong("issuer-key-filename"), help: "The file (and Secret key) of the issuer private key.")
  public var issuerKeyFilename = "issuer.key"

  @Option(name: .customLong("trust-domain"), help: "The trust domain of the CA.")
  public var trustDomain = "localhost"

  @Option(name: .customLong("port"), help: "The port of the gRPC CA service.")
  public var port: Int = 50001

  @Option(name: .customLong("listen-address"), help: "The address the gRPC CA service listens on (empty: all).")
  public var listenAddress = ""

  @Option(
    name: .customLong("mode"),
    help: "kubernetes or standalone (default: kubernetes when KUBERNETES_SERVICE_HOST is set, else standalone).")
  public var modeFlag: DaprMode?

  @Option(
    name: .customLong("ca-key-algorithm"),
    help: "The key type of a self-generated root and issuer: ed25519 (as Dapr 1.18) or ecdsa-p256 (as Dapr 1.12-1.17).")
  public var caKeyAlgorithm: KeyAlgorithm = .ed25519

  @Flag(
    name: .customLong("keep-root-key"), inversion: .prefixedNo,
    help: """
      Keep a self-generated root's key (Secret dapr-sentry-root-key, or root.key standalone) and renew the issuer \
      under the same root before it expires, without a restart anywhere.
      """)
  public var keepRootKey = false

  @Option(
    name: .customLong("issuer-renewal-threshold"),
    help: "With --keep-root-key: the share of the issuer's lifetime after which it is renewed (default 0.667).")
  public var issuerRenewalThreshold: Double?

  @Option(name: .customLong("ca-root-validity"), help: "The lifetime of a self-generated root (Dapr: 8760h).")
  public var caRootValidity: GoDuration = .hours(8760)

  @Option(
    name: .customLong("ca-issuer-validity"),
    help: "The lifetime of a self-generated or renewed issuer, never past the root (Dapr: 8760h).")
  public var caIssuerValidity: GoDuration = .hours(8760)

  @Option(name: .customLong("kubeconfig"), help: "A kubeconfig file (out of cluster).")
  public var kubeconfig: String?

  @Flag(name: .customLong("jwt-enabled"), inversion: .prefixedNo, help: "Also issue JWT SVIDs.")
  public var jwtEnabled = false

  @Option(
    name: .customLong("jwt-key-filename"),
    help: "The file (and Secret key, its base name) of the JWT signing key (default jwt.key).")
  public var jwtKeyFilename: String?

  @Option(
    name: .customLong("jwks-filename"),
    help: "The file (and Secret/ConfigMap key, its base name) of the JWK set (default jwks.json).")
  public var jwksFilename: String?

  @Option(name: .customLong("jwt-issuer"), help: "The iss claim of issued JWTs (default: none).")
  public var jwtIssuer: String?

  @Option(
    name: .customLong("jwt-signing-algorithm"),
    help: "RS256 (default), RS384, RS512, PS256, PS384, PS512, ES256, ES384 or ES512; the key must suit it.")
  public var jwtSigningAlgorithm: String?

  @Option(name: .customLong("jwt-key-id"), help: "The kid of the JWT signing key (default: its JWKS entry's).")
  public var jwtKeyID: String?

  @Option(name: .customLong("jwt-ttl"), help: "The lifetime of issued JWTs (default 24h).")
  public var jwtTTL: GoDuration?

  @Flag(name: .customLong("oidc-enabled"), inversion: .prefixedNo, help: "Serve the OIDC discovery endpoints.")
  public var oidcEnabled = false

  @Option(name: .customLong("oidc-server-listen-port"), help: "The port of the OIDC server (default 9080).")
  public var oidcServerListenPort: Int?

  @Option(
    name: .customLong("oidc-server-listen-address"), help: "The address of the OIDC server (default localhost).")
  public var oidcServerListenAddress: String?

  @Flag(
    name: .customLong("oidc-server-tls-enabled"), inversion: .prefixedNo,
    help: "Serve OIDC over TLS (default true; needs the certificate and key files).")
  public var oidcServerTLSEnabled: Bool?

  @Option(name: .customLong("oidc-server-tls-cert-file"), help: "The OIDC server's TLS certificate (PEM).")
  public var oidcServerTLSCertFile: String?

  @Option(name: .customLong("oidc-server-tls-key-file"), help: "The OIDC server's TLS key (PEM).")
  public var oidcServerTLSKeyFile: String?

  @Option(
    name: .customLong("oidc-jwks-uri"),
    help: "The jwks_uri the discovery document names (default: the issuer's /jwks.json).")
  public var oidcJWKSURI: String?

  @Option(name: .customLong("oidc-path-prefix"), help: "A path prefix for the OIDC endpoints.")
  public var oidcPathPrefix: String?

  @Option(
    name: .customLong("oidc-allowed-hosts"),
    help: "Hosts the OIDC server answers for (comma-separated, repeatable; default: any).")
  public var oidcAllowedHosts: [String] = []

  @OptionGroup public var observability: ObservabilityOptions

  public init() {}

  /// Boolean flags, for ``GoFlagSyntax``.
  public static let booleanFlags: Set<String> =
    ObservabilityOptions.booleanFlags.union([
      "jwt-enabled", "oidc-enabled", "oidc-server-tls-enabled", "keep-root-key",
    ])

  /// How sentry makes and renews its own CA.
  public var lifecycle: CALifecycle {
    CALifecycle(
      keepRootKey: keepRootKey, renewalThreshold: issuerRenewalThreshold ?? 2.0 / 3.0,
      rootValidity: TimeInterval(caRootValidity.nanoseconds) / 1e9,
      issuerValidity: TimeInterval(caIssuerValidity.nanoseconds) / 1e9)
  }

  /// What `--jwt-*` asks for; nil without `--jwt-enabled`.
  public var jwt: JWTSettings? {
    get throws {
      guard jwtEnabled else { return nil }
      return JWTSettings(
        keyFilename: jwtKeyFilename ?? "jwt.key", jwksFilename: jwksFilename ?? "jwks.json", issuer: jwtIssuer,
        algorithm: try JWTSigningAlgorithm(flag: jwtSigningAlgorithm ?? "RS256"), keyID: jwtKeyID,
        ttl: TimeInterval((jwtTTL ?? .hours(24)).nanoseconds) / 1e9)
    }
  }

  /// What `--oidc-*` asks for; nil without `--oidc-enabled`.
  public var oidc: OIDCSettings? {
    guard oidcEnabled else { return nil }
    var prefix = oidcPathPrefix ?? ""
    while prefix.hasSuffix("/") { prefix.removeLast() }
    if !prefix.isEmpty, !prefix.hasPrefix("/") { prefix = "/" + prefix }
    let tls: OIDCSettings.TLSFiles? =
      if let certificate = oidcServerTLSCertFile, let key = oidcServerTLSKeyFile {
        OIDCSettings.TLSFiles(certificate: certificate, key: key)
      } else { nil }
    return OIDCSettings(
      host: oidcServerListenAddress ?? "localhost", port: oidcServerListenPort ?? 9080, tls: tls,
      jwksURI: oidcJWKSURI, pathPrefix: prefix,
      allowedHosts: oidcAllowedHosts.flatMap { $0.split(separator: ",") }.map { String($0).trimmingWhitespace }
        .filter { !$0.isEmpty })
  }

  /// `--mode`, or the mode the environment implies.
  public var mode: DaprMode {
    modeFlag ?? (ProcessInfo.processInfo.environment["KUBERNETES_SERVICE_HOST"] == nil ? .standalone : .kubernetes)
  }

  /// The Secret/ConfigMap keys and file names of the credentials.
  public var credentialNames: [CAStoreEntry: String] {
    [
      .trustAnchors: issuerCAFilename, .issuerCertificate: issuerCertificateFilename, .issuerKey: issuerKeyFilename,
      .jwtSigningKey: jwtKeyFilename ?? "jwt.key", .jwks: jwksFilename ?? "jwks.json",
    ]
  }

  public func validate() throws {
    guard caKeyAlgorithm != .rsa2048 else {
      throw ValidationError("--ca-key-algorithm must be ed25519 or ecdsa-p256 (Dapr cannot load RSA issuer keys)")
    }
    guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535, not \(port)") }
    if let problem = startUpProblem { throw ValidationError(problem) }
  }

  /// The first flag combination sentry cannot start with: Dapr's checks with Dapr's messages, then the flags Dapr
  /// accepts and ignores (each refused here, saying why).
  public var startUpProblem: String? {
    let tlsEnabled = oidcServerTLSEnabled ?? true
    // Dapr's Options.Validate(), in its order.
    if oidcEnabled && tlsEnabled && oidcServerTLSCertFile == nil {
      return "oidc-server-tls-cert-file is required when OIDC HTTP server is enabled (unless "
        + "oidc-server-tls-enabled is false)"
    }
    if oidcEnabled && tlsEnabled && oidcServerTLSKeyFile == nil {
      return "oidc-server-tls-key-file is required when OIDC HTTP server is enabled (unless "
        + "oidc-server-tls-enabled is false)"
    }
    if jwtIssuer != nil && !jwtEnabled { return "jwt-issuer cannot be set when jwt-enabled is false" }
    if (oidcServerTLSCertFile == nil) != (oidcServerTLSKeyFile == nil) {
      return "both OIDC TLS certificate and key must be provided if one is specified"
    }
    // Beyond Dapr: nothing accepted and then ignored.
    if let threshold = issuerRenewalThreshold {
      if !keepRootKey {
        return "--issuer-renewal-threshold is set but --keep-root-key is not: without the root key the issuer "
          + "cannot be renewed"
      }
      if !(threshold > 0 && threshold < 1) {
        return "--issuer-renewal-threshold must be between 0 and 1 (a share of the issuer's lifetime), not \(threshold)"
      }
    }
    if caRootValidity.nanoseconds <= 0 { return "--ca-root-validity must be positive" }
    if caIssuerValidity.nanoseconds <= 0 { return "--ca-issuer-validity must be positive" }
    let jwtFlags: [(String, Bool)] = [
      ("jwt-key-filename", jwtKeyFilename != nil), ("jwks-filename", jwksFilename != nil),
      ("jwt-signing-algorithm", jwtSigningAlgorithm != nil), ("jwt-key-id", jwtKeyID != nil),
      ("jwt-ttl", jwtTTL != nil),
    ]
    if !jwtEnabled, let (flag, _) = jwtFlags.first(where: \.1) {
      return "--\(flag) is set but --jwt-enabled is false; it would have no effect"
    }
    if oidcEnabled && !jwtEnabled {
      return "--oidc-enabled needs --jwt-enabled: the OIDC server publishes the JWT signing keys (Dapr's sentry "
        + "starts without it and serves nothing)"
    }
    let oidcFlags: [(String, Bool)] = [
      ("oidc-server-listen-port", oidcServerListenPort != nil),
      ("oidc-server-listen-address", oidcServerListenAddress != nil),
      ("oidc-server-tls-enabled", oidcServerTLSEnabled != nil),
      ("oidc-server-tls-cert-file", oidcServerTLSCertFile != nil),
      ("oidc-server-tls-key-file", oidcServerTLSKeyFile != nil), ("oidc-jwks-uri", oidcJWKSURI != nil),
      ("oidc-path-prefix", oidcPathPrefix != nil), ("oidc-allowed-hosts", !oidcAllowedHosts.isEmpty),
    ]
    if !oidcEnabled, let (flag, _) = oidcFlags.first(where: \.1) {
      return "--\(flag) is set but --oidc-enabled is false; it would have no effect"
    }
    if oidcEnabled && !tlsEnabled && oidcServerTLSCertFile != nil {
      return "--oidc-server-tls-enabled=false, but a certificate and key are given (Dapr's sentry would serve TLS "
        + "anyway): drop the flag to serve TLS, or the files to serve plain HTTP"
    }
    if jwtEnabled {
      do {
        _ = try JWTSigningAlgorithm(flag: jwtSigningAlgorithm ?? "RS256")
      } catch {
        return error.message
      }
      if let ttl = jwtTTL, ttl.nanoseconds <= 0 { return "--jwt-ttl must be positive, not \(ttl)" }
      if let keyID = jwtKeyID, keyID.isEmpty { return "--jwt-key-id must not be empty" }
    }
    if let port = oidcServerListenPort, !(0...65535).contains(port) {
      return "--oidc-server-listen-port must be between 0 and 65535, not \(port)"
    }
    if let uri = oidcJWKSURI, URL(string: uri) == nil { return "--oidc-jwks-uri is not a URL: \(uri)" }
    if let issuer = jwtIssuer, oidcEnabled, URL(string: issuer)?.scheme == nil {
      return "--jwt-issuer must be a URL with a scheme (https://...) for OIDC discovery, not \(issuer)"
    }
    return nil
  }
}

/// What sentry's JWT SVIDs are signed with and how (`--jwt-*`).
public struct JWTSettings: Sendable, Hashable {
  public var keyFilename: String
  public var jwksFilename: String
  public var issuer: String?
  public var algorithm: JWTSigningAlgorithm
  public var keyID: String?
  public var ttl: TimeInterval
}

/// Where and how the OIDC discovery server listens (`--oidc-*`).
public struct OIDCSettings: Sendable, Hashable {
  public struct TLSFiles: Sendable, Hashable {
    public var certificate: String
    public var key: String
  }

  public var host: String
  public var port: Int
  /// nil: plain HTTP (`--oidc-server-tls-enabled=false`).
  public var tls: TLSFiles?
  public var jwksURI: String?
  /// Empty, or `/something` without a trailing slash.
  public var pathPrefix: String
  public var allowedHosts: [String]
}

/// How sentry makes its own CA and keeps its issuer current.
public struct CALifecycle: Sendable, Hashable {
  /// Store the self-generated root's key and renew the issuer under it.
  public var keepRootKey = false
  /// The share of the issuer's lifetime after which it is renewed.
  public var renewalThreshold = 2.0 / 3.0
  public var rootValidity: TimeInterval = 365 * 86_400
  public var issuerValidity: TimeInterval = 365 * 86_400

  public init(
    keepRootKey: Bool = false, renewalThreshold: Double = 2.0 / 3.0, rootValidity: TimeInterval = 365 * 86_400,
    issuerValidity: TimeInterval = 365 * 86_400
  ) {
    self.keepRootKey = keepRootKey
    self.renewalThreshold = renewalThreshold
    self.rootValidity = rootValidity
    self.issuerValidity = issuerValidity
  }

  /// When `issuer` is due for renewal: the threshold share of the time from its issue (its NotBefore plus the
  /// backdating `allowedClockSkew`) to its NotAfter.
  public func renewalTime(of issuer: Certificate, allowedClockSkew: TimeInterval) -> Date {
    let issued = min(issuer.notValidBefore + allowedClockSkew, issuer.notValidAfter)
    return issued + renewalThreshold * issuer.notValidAfter.timeIntervalSince(issued)
  }
}
