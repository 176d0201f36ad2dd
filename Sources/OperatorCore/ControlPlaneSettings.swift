import KubernetesCore

/// The trust domain and sentry address the operator uses for its own identity, decided as Dapr's operator does from
/// the Configuration named by `--config` (`daprsystem`: `spec.mtls.controlPlaneTrustDomain` and
/// `spec.mtls.sentryAddress`), with two differences:
///
/// - `DAPR_CONTROL_PLANE_TRUST_DOMAIN` and `DAPR_SENTRY_ADDRESS`, when set, win over the Configuration (the local
///   runner and tests reach sentry on loopback while the chart's Configuration names the Service);
/// - a missing Configuration is not fatal (Dapr exits, dapr/cli#396): the defaults apply and the reason is given.
public struct ControlPlaneSettings: Hashable, Sendable {
  public var trustDomain: String
  public var sentryAddress: String
  /// Why a default was used, for the log; nil when the Configuration was found.
  public var note: String?

  public static let defaultTrustDomain = "cluster.local"

  public static func resolve(
    configuration: DaprConfiguration?, configurationName: String, namespace: String, environment: [String: String]
  ) -> ControlPlaneSettings {
    func nonEmpty(_ value: String?) -> String? { value.flatMap { $0.isEmpty ? nil : $0 } }
    let mtls = configuration?.mtls
    return ControlPlaneSettings(
      trustDomain: nonEmpty(environment["DAPR_CONTROL_PLANE_TRUST_DOMAIN"]) ?? nonEmpty(mtls?.controlPlaneTrustDomain)
        ?? defaultTrustDomain,
      sentryAddress: nonEmpty(environment["DAPR_SENTRY_ADDRESS"]) ?? nonEmpty(mtls?.sentryAddress)
        ?? "dapr-sentry.\(namespace).svc:443",
      note: configuration == nil
        ? "Configuration \(namespace)/\(configurationName) (--config) not found; using trust domain "
          + "\(defaultTrustDomain) and sentry at dapr-sentry.\(namespace).svc:443 unless the environment says otherwise"
        : nil)
  }
}
