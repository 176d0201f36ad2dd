import ArgumentParser
import ControlPlaneKit
import ServiceLifecycle

/// The sidecar injector: a mutating admission webhook that adds `daprd` to annotated pods.
public enum InjectorServer {
  /// The `injector` command's description.
  public static let commandConfiguration = CommandConfiguration(
    commandName: "injector",
    abstract:
      "Dapr's sidecar injector: a mutating admission webhook that adds daprd to pods annotated dapr.io/enabled.",
    version: BuildInfo.version)

  /// Runs the injector until SIGTERM.
  public static func run(options: InjectorOptions) async throws {
    try await ControlPlaneProcess.run(
      component: .injector, options: options.observability, readinessTargets: []
    ) { _ in [] }
  }
}
