import ArgumentParser
import ControlPlaneKit
import ServiceLifecycle

/// Sentry: Dapr's certificate authority.
public enum SentryServer {
  /// The `sentry` command's description.
  public static let commandConfiguration = CommandConfiguration(
    commandName: "sentry",
    abstract: "Dapr's certificate authority: signs sidecar CSRs into SPIFFE certificates and keeps the trust bundle.",
    version: BuildInfo.version)

  /// Runs sentry until SIGTERM.
  public static func run(options: SentryOptions) async throws {
    try await ControlPlaneProcess.run(
      component: .sentry, options: options.observability, readinessTargets: []
    ) { _ in [] }
  }
}
