import ArgumentParser
import ControlPlaneKit
import Foundation

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

  @Option(name: .customLong("kubeconfig"), help: "A kubeconfig file (out of cluster).")
  public var kubeconfig: String?

  @Flag(name: .customLong("jwt-enabled"), inversion: .prefixedNo, help: "Also issue JWT SVIDs.")
  public var jwtEnabled = false

  @Option(name: .customLong("jwt-key-filename"), help: "The file (and Secret key) of the JWT signing key.")
  public var jwtKeyFilename = "jwt.key"

  @Option(name: .customLong("jwks-filename"), help: "The file (and Secret/ConfigMap key) of the JWKS.")
  public var jwksFilename = "jwks.json"

  @Option(name: .customLong("jwt-issuer"), help: "The iss claim of issued JWTs.")
  public var jwtIssuer = ""

  @Option(name: .customLong("jwt-signing-algorithm"), help: "The JWT signing algorithm.")
  public var jwtSigningAlgorithm = "RS256"

  @Option(name: .customLong("jwt-key-id"), help: "The kid of the JWT signing key (default: derived from the key).")
  public var jwtKeyID = ""

  @Option(name: .customLong("jwt-ttl"), help: "The lifetime of issued JWTs.")
  public var jwtTTL: GoDuration = .hours(24)

  @Flag(name: .customLong("oidc-enabled"), inversion: .prefixedNo, help: "Serve the OIDC discovery endpoints.")
  public var oidcEnabled = false

  @Option(name: .customLong("oidc-server-listen-port"), help: "The port of the OIDC server.")
  public var oidcServerListenPort: Int = 9080

  @Option(name: .customLong("oidc-server-listen-address"), help: "The address of the OIDC server.")
  public var oidcServerListenAddress = "localhost"

  @Flag(name: .customLong("oidc-server-tls-enabled"), inversion: .prefixedNo, help: "Serve OIDC over TLS.")
  public var oidcServerTLSEnabled = true

  @Option(name: .customLong("oidc-server-tls-cert-file"), help: "The OIDC server's TLS certificate.")
  public var oidcServerTLSCertFile = ""

  @Option(name: .customLong("oidc-server-tls-key-file"), help: "The OIDC server's TLS key.")
  public var oidcServerTLSKeyFile = ""

  @Option(name: .customLong("oidc-jwks-uri"), help: "The JWKS URI published in the discovery document.")
  public var oidcJWKSURI = ""

  @Option(name: .customLong("oidc-path-prefix"), help: "A path prefix for the OIDC endpoints.")
  public var oidcPathPrefix = ""

  @Option(
    name: .customLong("oidc-allowed-hosts"), help: "Hosts the OIDC server answers for (comma-separated, repeatable).")
  public var oidcAllowedHosts: [String] = []

  @OptionGroup public var observability: ObservabilityOptions

  public init() {}

  /// Boolean flags, for ``GoFlagSyntax``.
  public static let booleanFlags: Set<String> =
    ObservabilityOptions.booleanFlags.union(["jwt-enabled", "oidc-enabled", "oidc-server-tls-enabled"])

  /// `--mode`, or the mode the environment implies.
  public var mode: DaprMode {
    modeFlag ?? (ProcessInfo.processInfo.environment["KUBERNETES_SERVICE_HOST"] == nil ? .standalone : .kubernetes)
  }

  /// The Secret/ConfigMap keys and file names of the three credentials.
  public var credentialNames: [CAMaterialError.Part: String] {
    [.trustAnchors: issuerCAFilename, .issuerCertificate: issuerCertificateFilename, .issuerKey: issuerKeyFilename]
  }

  public func validate() throws {
    guard caKeyAlgorithm != .rsa2048 else {
      throw ValidationError("--ca-key-algorithm must be ed25519 or ecdsa-p256 (Dapr cannot load RSA issuer keys)")
    }
    guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535, not \(port)") }
    if !jwtIssuer.isEmpty && !jwtEnabled {
      throw ValidationError("--jwt-issuer is set but --jwt-enabled is false")
    }
  }
}
