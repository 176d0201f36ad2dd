import ArgumentParser
import ControlPlaneKit
import Foundation
import Kubernetes
import X509

/// `sentry ca ...`: maintenance of the CA in the cluster, as `dapr mtls` does it, without Helm.
public struct SentryCACommand: AsyncParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "ca", abstract: "Inspect, export or renew the CA stored in the cluster.",
    subcommands: [Expiry.self, Export.self, Renew.self, RotateJWTKey.self, RotateRoot.self])

  public init() {}

  /// Where the CA is.
  public struct Target: ParsableArguments {
    @Option(
      name: .customLong("kubeconfig"), help: "A kubeconfig file (default: KUBECONFIG, in-cluster, ~/.kube/config).")
    var kubeconfig: String?

    @Option(name: .customLong("namespace"), help: "The control plane's namespace.")
    var namespace = "dapr-system"

    @Option(name: .customLong("jwt-key-filename"), help: "As sentry's flag: the Secret key of the JWT signing key.")
    var jwtKeyFilename = "jwt.key"

    @Option(name: .customLong("jwks-filename"), help: "As sentry's flag: the Secret and ConfigMap key of the JWKS.")
    var jwksFilename = "jwks.json"

    public init() {}

    func maintenance() throws -> (CAMaintenance, KubernetesClient) {
      let client = try KubernetesClient(configuration: try KubernetesConfiguration.load(kubeconfigPath: kubeconfig))
      let keys: [CAStoreEntry: String] = [
        .trustAnchors: "ca.crt", .issuerCertificate: "issuer.crt", .issuerKey: "issuer.key",
        .jwtSigningKey: jwtKeyFilename, .jwks: jwksFilename,
      ]
      return (CAMaintenance(client: client, namespace: namespace, keys: keys), client)
    }
  }

  /// `sentry ca expiry`.
  public struct Expiry: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(abstract: "Print when the roots and the issuer expire.")
    @OptionGroup var target: Target
    public init() {}

    public func run() async throws {
      let (maintenance, client) = try target.maintenance()
      for line in try await maintenance.expiryReport() { print(line) }
      await client.shutdown()
    }
  }

  /// `sentry ca export`.
  public struct Export: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
      abstract: "Write ca.crt, issuer.crt and issuer.key to a folder.")
    @OptionGroup var target: Target
    @Option(name: .customLong("output-dir"), help: "Where to write the files.")
    var outputDirectory = "."
    public init() {}

    public func run() async throws {
      let (maintenance, client) = try target.maintenance()
      for path in try await maintenance.export(to: outputDirectory) { print("wrote \(path)") }
      await client.shutdown()
    }
  }

  /// `sentry ca renew`.
  public struct Renew: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
      abstract: "Replace the CA with a new root and issuer; sentry picks it up without a restart.",
      discussion: """
        The old roots stay in ca.crt next to the new one (unless --drop-old-roots), so that sidecars started before \
        and after the renewal trust each other. Sidecars receive their anchors when they are injected: restart every \
        Dapr application after a renewal, then run this command again with --drop-old-roots once they all run with \
        the new anchors.
        """)
    @OptionGroup var target: Target
    @Option(
      name: .customLong("valid-for"),
      help: "How long the new root and issuer are valid (a Go duration or a number of days followed by d).")
    var validFor = "365d"
    @Option(name: .customLong("root-key-file"), help: "Reuse this PEM root key instead of generating one.")
    var rootKeyFile: String?
    @Option(name: .customLong("trust-domain"), help: "The trust domain named in the new root.")
    var trustDomain = "cluster.local"
    @Option(name: .customLong("key-algorithm"), help: "The key type of a generated root and the issuer.")
    var keyAlgorithm: KeyAlgorithm = .ed25519
    @Flag(name: .customLong("drop-old-roots"), help: "Keep only the new root in ca.crt.")
    var dropOldRoots = false
    public init() {}

    public func validate() throws {
      _ = try Self.parseValidity(validFor)
    }

    static func parseValidity(_ text: String) throws -> TimeInterval {
      if text.hasSuffix("d"), let days = Double(text.dropLast()), days > 0 { return days * 86_400 }
      guard let duration = GoDuration(argument: text), duration.nanoseconds > 0 else {
        throw ValidationError("--valid-for must be a positive duration such as 365d or 8760h, not \(text)")
      }
      return TimeInterval(duration.nanoseconds) / 1e9
    }

    public func run() async throws {
      let (maintenance, client) = try target.maintenance()
      var rootKey: Certificate.PrivateKey?
      if let rootKeyFile {
        guard let pem = FileManager.default.contents(atPath: rootKeyFile) else {
          throw ValidationError("cannot read --root-key-file \(rootKeyFile)")
        }
        rootKey = try Certificate.PrivateKey(pemEncoded: String(decoding: pem, as: UTF8.self))
      }
      let renewed = try await maintenance.renew(
        validFor: try Self.parseValidity(validFor), trustDomain: trustDomain, keyAlgorithm: keyAlgorithm,
        rootKey: rootKey, dropOldRoots: dropOldRoots)
      print(
        "renewed: \(renewed.anchors.certificates.count) root(s) in ca.crt; the issuer expires \(renewed.issuer.notValidAfter)"
      )
      print(
        "sentry uses the new issuer at once; restart your Dapr applications so that their sidecars get the new anchors."
      )
      await client.shutdown()
    }
  }

  /// `sentry ca rotate-jwt-key`.
  public struct RotateJWTKey: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
      commandName: "rotate-jwt-key",
      abstract: "Publish a new JWT signing key now; sentry signs with it from --publish-for later.",
      discussion: """
        The new key joins jwks.json (the Secret, the ConfigMap and the OIDC server) at once and signs nothing until \
        --publish-for has passed, so relying parties that cache the key set (the OIDC server tells them one hour) \
        know it before they see a token it signed. Sentry then signs with it and keeps the old key published until \
        every token the old key signed has expired (--jwt-ttl plus the allowed clock skew), then removes it. Not \
        with --jwt-key-id, which pins one kid.
        """)
    @OptionGroup var target: Target
    @Option(
      name: .customLong("publish-for"),
      help: "How long the new key is published before it signs (a Go duration; at least the key set's cache time).")
    var publishFor: GoDuration = .hours(1)
    public init() {}

    public func validate() throws {
      guard publishFor.nanoseconds >= 0 else { throw ValidationError("--publish-for must not be negative") }
    }

    public func run() async throws {
      let (maintenance, client) = try target.maintenance()
      defer { Task { await client.shutdown() } }
      let signsFrom = try await maintenance.rotateJWTKey(publishFor: TimeInterval(publishFor.nanoseconds) / 1e9)
      print(
        "published a new JWT signing key; sentry signs with it from \(ISO8601DateFormatter().string(from: signsFrom))")
    }
  }

  /// `sentry ca rotate-root`.
  public struct RotateRoot: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
      commandName: "rotate-root",
      abstract: "Rotate the root in stages without an outage; run it again until it says the rotation is complete.",
      discussion: """
        Stage 1 adds a new root to ca.crt (Secret and ConfigMap) and keeps signing with the old issuer. Stage 2 lists \
        the Dapr pods whose injected trust anchors lack the new root (daprd reads them from its environment, so they \
        need a restart; --restart-pods deletes them one per --restart-interval for their controllers to recreate). \
        Stage 3 switches signing to the issuer under the new root once no such pod is left. Stage 4 removes the old \
        root once every certificate it anchors has expired (the switch plus daprsystem's workloadCertTTL and \
        allowedClockSkew). Each run does what is due and stops; it is safe to run again at any time.
        """)
    @OptionGroup var target: Target
    @Option(name: .customLong("trust-domain"), help: "The trust domain named in the new root.")
    var trustDomain = "cluster.local"
    @Option(name: .customLong("key-algorithm"), help: "The key type of the new root and issuer.")
    var keyAlgorithm: KeyAlgorithm = .ed25519
    @Option(name: .customLong("root-validity"), help: "How long the new root is valid (a Go duration).")
    var rootValidity: GoDuration = .hours(87_600)
    @Option(name: .customLong("issuer-validity"), help: "How long the new issuer is valid (a Go duration).")
    var issuerValidity: GoDuration = .hours(8760)
    @Flag(name: .customLong("restart-pods"), help: "Delete the Dapr pods that lack the new root (stage 2).")
    var restartPods = false
    @Option(name: .customLong("restart-interval"), help: "The time between two pod restarts (a Go duration).")
    var restartInterval: GoDuration = .seconds(10)
    public init() {}

    public func validate() throws {
      guard rootValidity.nanoseconds > 0, issuerValidity.nanoseconds > 0 else {
        throw ValidationError("--root-validity and --issuer-validity must be positive")
      }
      guard issuerValidity.nanoseconds <= rootValidity.nanoseconds else {
        throw ValidationError("--issuer-validity must not exceed --root-validity (the issuer would outlive its root)")
      }
      guard restartInterval.nanoseconds >= 0 else { throw ValidationError("--restart-interval must not be negative") }
    }

    public func run() async throws {
      let (maintenance, client) = try target.maintenance()
      defer { Task { await client.shutdown() } }
      let outcome = try await maintenance.rotateRoot(
        RootRotationOptions(
          trustDomain: trustDomain, keyAlgorithm: keyAlgorithm,
          rootValidity: TimeInterval(rootValidity.nanoseconds) / 1e9,
          issuerValidity: TimeInterval(issuerValidity.nanoseconds) / 1e9, restartPods: restartPods,
          restartInterval: .nanoseconds(restartInterval.nanoseconds)))
      for line in outcome.lines { print(line) }
      if !outcome.podsLacking.isEmpty { throw ExitCode(3) }
    }
  }
}
