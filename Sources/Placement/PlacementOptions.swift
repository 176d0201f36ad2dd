import ArgumentParser
import ControlPlaneKit
import Foundation

/// Placement's flags, with Dapr's names and defaults.
public struct PlacementOptions: ParsableArguments, Sendable {
  @Option(name: .customLong("id"), help: "This replica's id.")
  public var id = "dapr-placement-0"

  @Option(
    name: .customLong("initial-cluster"),
    help:
      "Dapr's raft peers, id=host:port (comma-separated, repeatable); accepted for compatibility, leadership uses a Kubernetes Lease."
  )
  public var initialCluster: [String] = ["dapr-placement-0=127.0.0.1:8201"]

  @Flag(
    name: .customLong("inmem-store-enabled"), inversion: .prefixedNo,
    help: "Accepted for compatibility; placement keeps no raft log.")
  public var inmemStoreEnabled = true

  @Option(name: .customLong("raft-logstore-path"), help: "Accepted for compatibility; placement keeps no raft log.")
  public var raftLogstorePath = ""

  @Option(name: .customLong("port"), help: "The port of the gRPC placement service.")
  public var port: Int = 50005

  @Option(name: .customLong("listen-address"), help: "The address the gRPC service listens on (empty: all).")
  public var listenAddress = ""

  @Flag(name: .customLong("tls-enabled"), inversion: .prefixedNo, help: "Serve gRPC over mTLS with a sentry SVID.")
  public var tlsEnabled = false

  @Flag(
    name: .customLong("metadata-enabled"), inversion: .prefixedNo,
    help: "Serve /placement/state on the healthz port (default: $DAPR_PLACEMENT_METADATA_ENABLED).")
  public var metadataEnabledFlag: Bool?

  @Option(name: .customLong("max-api-level"), help: .hidden)
  public var maxAPILevel: Int = 10

  @Option(name: .customLong("min-api-level"), help: .hidden)
  public var minAPILevel: Int = 0

  @Option(name: .customLong("replicationFactor"), help: "Points per host on each actor type's hash ring.")
  public var replicationFactor: Int = 100

  @Option(name: .customLong("keepalive-time"), help: "How often to ping each sidecar stream (1s to 10s).")
  public var keepaliveTime: GoDuration = .seconds(2)

  @Option(
    name: .customLong("keepalive-timeout"),
    help: "How long to wait for a ping's answer before dropping the stream (1s to 10s).")
  public var keepaliveTimeout: GoDuration = .seconds(3)

  @Option(
    name: .customLong("disseminate-timeout"),
    help: "How long a lock/update/unlock round may take before laggards are dropped.")
  public var disseminateTimeout: GoDuration = .seconds(8)

  @Option(
    name: .customLong("disseminate-coalesce-window"),
    help: "Fold the changes that arrive within this window into one round (0: off).")
  public var disseminateCoalesceWindow: GoDuration = .seconds(0)

  @Option(name: .customLong("trust-domain"), help: "The control plane's trust domain.")
  public var trustDomain = "localhost"

  @Option(name: .customLong("trust-anchors-file"), help: "The control plane's trust anchors (PEM).")
  public var trustAnchorsFile = "/var/run/secrets/dapr.io/tls/ca.crt"

  @Option(name: .customLong("sentry-address"), help: "Sentry's address (default: dapr-sentry.<namespace>.svc:443).")
  public var sentryAddressFlag: String?

  @Option(name: .customLong("mode"), help: "kubernetes or standalone.")
  public var mode: DaprMode = .standalone

  @Option(name: .customLong("kubeconfig"), help: "A kubeconfig file (out of cluster), for the leader Lease.")
  public var kubeconfig: String?

  @OptionGroup public var observability: ObservabilityOptions

  public init() {}

  /// Boolean flags, for ``GoFlagSyntax``.
  public static let booleanFlags: Set<String> =
    ObservabilityOptions.booleanFlags.union(["inmem-store-enabled", "tls-enabled", "metadata-enabled"])

  /// `--metadata-enabled`, defaulting to `DAPR_PLACEMENT_METADATA_ENABLED`.
  public var metadataEnabled: Bool {
    metadataEnabledFlag ?? ProcessFacts.isTruthy(ProcessInfo.processInfo.environment["DAPR_PLACEMENT_METADATA_ENABLED"])
  }

  /// `--sentry-address`, defaulting to the sentry Service of the control-plane namespace.
  public var sentryAddress: String {
    sentryAddressFlag ?? "dapr-sentry.\(ProcessFacts.namespace()).svc:443"
  }

  public func validate() throws {
    guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535, not \(port)") }
    guard replicationFactor > 0 else {
      throw ValidationError("--replicationFactor must be greater than 0, not \(replicationFactor)")
    }
    let oneSecond = GoDuration.seconds(1)
    let tenSeconds = GoDuration.seconds(10)
    for (name, value) in [("keepalive-time", keepaliveTime), ("keepalive-timeout", keepaliveTimeout)]
    where value < oneSecond || value > tenSeconds {
      throw ValidationError("invalid value for \(name): value should be between 1s and 10s, got \(value)")
    }
    guard disseminateTimeout >= oneSecond else {
      throw ValidationError(
        "invalid value for disseminate-timeout: value should be at least 1s, got \(disseminateTimeout)")
    }
    guard disseminateCoalesceWindow >= .seconds(0) else {
      throw ValidationError("invalid value for disseminate-coalesce-window: value must not be negative")
    }
  }
}
