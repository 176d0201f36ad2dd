import ArgumentParser
import ControlPlaneKit
import ServiceLifecycle

/// Placement: tracks which sidecars host which actor types and disseminates the hash tables.
public enum PlacementServer {
  /// The `placement` command's description.
  public static let commandConfiguration = CommandConfiguration(
    commandName: "placement",
    abstract: "Dapr's placement service: disseminates actor placement tables to sidecars.",
    version: BuildInfo.version)

  /// Runs placement until SIGTERM.
  public static func run(options: PlacementOptions) async throws {
    try await ControlPlaneProcess.run(
      component: .placement, options: options.observability, readinessTargets: []
    ) { _ in [] }
  }
}
