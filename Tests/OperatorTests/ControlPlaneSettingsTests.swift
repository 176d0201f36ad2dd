import Kubernetes
import Operator
import Testing

@Suite struct ControlPlaneSettingsTests {
  static func configuration(trustDomain: String?, sentryAddress: String?) -> DaprConfiguration {
    var mtls: JSONObject = [:]
    if let trustDomain { mtls["controlPlaneTrustDomain"] = .string(trustDomain) }
    if let sentryAddress { mtls["sentryAddress"] = .string(sentryAddress) }
    return DaprConfiguration(json: [
      "metadata": ["name": "daprsystem", "namespace": "dapr-system"], "spec": ["mtls": .object(mtls)],
    ])
  }

  @Test(
    "The environment wins over the --config Configuration, which wins over Dapr's defaults",
    arguments: [
      (
        configuration(trustDomain: "example.org", sentryAddress: "sentry.example:443"), [:],
        "example.org", "sentry.example:443", false
      ),
      (
        configuration(trustDomain: "example.org", sentryAddress: "sentry.example:443"),
        ["DAPR_CONTROL_PLANE_TRUST_DOMAIN": "local.test", "DAPR_SENTRY_ADDRESS": "127.0.0.1:50001"],
        "local.test", "127.0.0.1:50001", false
      ),
      (
        configuration(trustDomain: "", sentryAddress: nil), [:], "cluster.local", "dapr-sentry.dapr-system.svc:443",
        false
      ),
      (nil, [:], "cluster.local", "dapr-sentry.dapr-system.svc:443", true),
      (nil, ["DAPR_SENTRY_ADDRESS": ""], "cluster.local", "dapr-sentry.dapr-system.svc:443", true),
    ] as [(DaprConfiguration?, [String: String], String, String, Bool)])
  func resolve(
    configuration: DaprConfiguration?, environment: [String: String], trustDomain: String, sentryAddress: String,
    noted: Bool
  ) {
    let settings = ControlPlaneSettings.resolve(
      configuration: configuration, configurationName: "daprsystem", namespace: "dapr-system",
      environment: environment)
    #expect(settings.trustDomain == trustDomain)
    #expect(settings.sentryAddress == sentryAddress)
    #expect((settings.note != nil) == noted)
    if noted { #expect(settings.note?.contains("dapr-system/daprsystem (--config) not found") == true) }
  }
}
