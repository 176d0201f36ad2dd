import ArgumentParser
import ControlPlaneKit

/// The sidecar injector's flags, with Dapr's names and defaults. The rest of its configuration comes from
/// environment variables (`SIDECAR_IMAGE`, `NAMESPACE`, ...), as in Dapr.
public struct InjectorOptions: ParsableArguments, Sendable {
  @Option(name: .customLong("port"), help: "The HTTPS port of the admission webhook.")
  public var port: Int = 4000

  @Option(name: .customLong("listen-address"), help: "The address the webhook listens on (empty: all).")
  public var listenAddress = ""

  @Flag(
    name: .customLong("scheduler-enabled"), inversion: .prefixedNo,
    help: "Point sidecars at dapr-scheduler-server-a (off: this control plane ships no scheduler).")
  public var schedulerEnabled = false

  @Option(name: .customLong("kubeconfig"), help: "A kubeconfig file (out of cluster).")
  public var kubeconfig: String?

  @OptionGroup public var observability: ObservabilityOptions

  public init() {}

  /// Boolean flags, for ``GoFlagSyntax``.
  public static let booleanFlags: Set<String> = ObservabilityOptions.booleanFlags.union(["scheduler-enabled"])

  public func validate() throws {
    guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535, not \(port)") }
  }
}
