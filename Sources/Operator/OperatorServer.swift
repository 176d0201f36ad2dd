import ArgumentParser
import ControlPlaneKit
import ServiceLifecycle

/// The operator: serves Dapr's resources to sidecars and keeps their `<app-id>-dapr` Services.
public enum OperatorServer {
  /// The `operator` command's description.
  public static let commandConfiguration = CommandConfiguration(
    commandName: "operator",
    abstract: "Dapr's operator: streams Components and other Dapr resources to sidecars over gRPC.",
    version: BuildInfo.version)

  /// Runs the operator until SIGTERM.
  public static func run(options: OperatorOptions) async throws {
    try await ControlPlaneProcess.run(
      component: .operator, options: options.observability, readinessTargets: []
    ) { _ in [] }
  }
}
