import ArgumentParser
import ControlPlaneKit

/// The operator's flags, with Dapr's names and defaults.
public struct OperatorOptions: ParsableArguments, Sendable {
  @Option(name: .customLong("config"), help: "The Configuration holding the control plane's settings.")
  public var config = "daprsystem"

  @Option(
    name: .customLong("watch-interval"),
    help: "How often the watchdog looks for pods without a sidecar: 0 (off), once, or a duration of at least 1s.")
  public var watchInterval = "0"

  @Option(name: .customLong("max-pod-restarts-per-minute"), help: "How many pods the watchdog may delete per minute.")
  public var maxPodRestartsPerMinute: Int = 20

  @Flag(
    name: .customLong("disable-leader-election"), inversion: .prefixedNo,
    help: "Run the leader-only controllers without a Lease.")
  public var disableLeaderElection = false

  @Flag(
    name: .customLong("disable-service-reconciler"), inversion: .prefixedNo,
    help: "Do not manage <app-id>-dapr Services.")
  public var disableServiceReconciler = false

  @Option(name: .customLong("watch-namespace"), help: "Watch only these namespaces (comma-separated; empty: all).")
  public var watchNamespace = ""

  @Flag(
    name: .customLong("enable-argo-rollout-service-reconciler"), inversion: .prefixedNo,
    help: "Also manage Services for Argo Rollouts.")
  public var enableArgoRolloutServiceReconciler = false

  @Flag(
    name: .customLong("watchdog-can-patch-pod-labels"), inversion: .prefixedNo,
    help: "Let the watchdog label the pods it checked.")
  public var watchdogCanPatchPodLabels = false

  @Option(
    name: .customLong("secret-namespaces"),
    help:
      "Read Secrets only in these namespaces (comma-separated; default: $DAPR_OPERATOR_SECRET_NAMESPACES, else all). Beyond Dapr (dapr#4969): the chart sets it from dapr_rbac.secretReader.namespaces, whose RBAC grants no cluster-wide Secret access."
  )
  public var secretNamespaces = ""

  @Option(name: .customLong("trust-anchors-file"), help: "The control plane's trust anchors (PEM).")
  public var trustAnchorsFile = "/var/run/secrets/dapr.io/tls/ca.crt"

  @Option(name: .customLong("port"), help: "The port of the gRPC operator API.")
  public var port: Int = 6500

  @Option(name: .customLong("listen-address"), help: "The address the gRPC API listens on (empty: all).")
  public var listenAddress = ""

  @Option(name: .customLong("webhook-server-port"), help: "The port of the Subscription conversion webhook.")
  public var webhookServerPort: Int = 19443

  @Option(
    name: .customLong("webhook-server-listen-address"),
    help: "The address the conversion webhook listens on (empty: all).")
  public var webhookServerListenAddress = ""

  @Option(name: .customLong("cache-sync-period"), help: "How often the informers resync their caches (0: never).")
  public var cacheSyncPeriod: GoDuration = .seconds(0)

  @Option(name: .customLong("kubeconfig"), help: "A kubeconfig file (out of cluster).")
  public var kubeconfig: String?

  @OptionGroup public var observability: ObservabilityOptions

  public init() {}

  /// Boolean flags, for ``GoFlagSyntax``.
  public static let booleanFlags: Set<String> = ObservabilityOptions.booleanFlags.union([
    "disable-leader-election", "disable-service-reconciler", "enable-argo-rollout-service-reconciler",
    "watchdog-can-patch-pod-labels",
  ])

  /// `--secret-namespaces` as a set, else `DAPR_OPERATOR_SECRET_NAMESPACES` (the chart sets it from
  /// `dapr_rbac.secretReader.namespaces`); empty: every namespace.
  public func secretNamespaceSet(environment: [String: String]) -> Set<String> {
    let list = secretNamespaces.isEmpty ? environment["DAPR_OPERATOR_SECRET_NAMESPACES"] ?? "" : secretNamespaces
    return Set(list.split(separator: ",").map { String($0).trimmingWhitespace }.filter { !$0.isEmpty })
  }

  public func validate() throws {
    do {
      _ = try WatchdogSchedule(parsing: watchInterval)
    } catch {
      throw ValidationError(error.message)
    }
    for (name, value) in [("port", port), ("webhook-server-port", webhookServerPort)] where !(0...65535).contains(value)
    {
      throw ValidationError("--\(name) must be between 0 and 65535, not \(value)")
    }
  }
}
