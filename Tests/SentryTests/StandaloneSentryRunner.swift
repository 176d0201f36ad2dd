import ControlPlaneKit
import ControlPlaneTestSupport
import Foundation
import Logging

@testable import Sentry
@testable import SentryCore

/// Runs `sentry --mode standalone` in this process with `arguments` for the body's length, once it is ready.
/// `targets` are the readiness targets beyond the CA's and the server's (the OIDC server's, say).
func runStandaloneSentry(
  arguments: [String], targets: [String] = [], readyWhen: String = "sentry is ready",
  _ body: (ReadinessTargets) async throws -> Void
) async throws {
  let options = try SentryOptions.parse(arguments)
  let readiness = ReadinessTargets([CAManager.readinessTarget, SentryServer.serverTarget] + targets)
  let environment = ProcessEnvironment(
    component: .sentry, logger: Logger(label: "dapr.sentry"), metrics: MetricsRegistry(includeProcessMetrics: false),
    readiness: readiness)
  let services = try await SentryServer.makeServices(options: options, environment: environment, namespace: "default")
  try await withRunningServices(services) {
    try await eventually(readyWhen) { readiness.isReady }
    try await body(readiness)
  }
}
