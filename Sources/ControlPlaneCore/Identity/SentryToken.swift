import Foundation

/// Where a control-plane service finds the token that proves its identity to sentry.
public enum SentryToken {
  /// The projected service-account token Dapr's chart mounts (audience `spiffe://<td>/ns/<ns>/dapr-sentry`).
  public static let projectedPath = "/var/run/secrets/dapr.io/sentrytoken/token"
  /// The pod's own service-account token, used only when the projected one is absent (clusters or charts that do
  /// not project it), as Dapr does.
  public static let legacyPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"

  /// `DAPR_SENTRY_TOKEN_FILE` when set (the local runner and tests point it at a token bound to a stand-in pod),
  /// else Dapr's projected path when it exists, else the legacy service-account token.
  ///
  /// Differs from Dapr in one way: Dapr sends a `DAPR_SENTRY_TOKEN_FILE` token with the JWKS validator; the control
  /// plane's own services here send it with the Kubernetes validator, since a control-plane service always runs in
  /// Kubernetes mode with a service-account token.
  public static func file(
    environment: [String: String], fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }
  ) -> String {
    if let path = environment["DAPR_SENTRY_TOKEN_FILE"], !path.isEmpty { return path }
    return fileExists(projectedPath) || !fileExists(legacyPath) ? projectedPath : legacyPath
  }
}
