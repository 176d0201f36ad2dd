import ControlPlaneKit
import ControlPlaneTestSupport
import Foundation
import Kubernetes
import Logging
import Testing

@testable import Operator
@testable import OperatorCore

/// The Subscription CRD's conversion against the in-memory fake, on a manual clock.
@Suite struct SubscriptionCRDPatcherTests {
  static func store() -> FakeObjectStore {
    let store = FakeObjectStore()
    store.seed(
      CustomResourceDefinition(json: [
        "metadata": ["name": "subscriptions.dapr.io"],
        "spec": ["group": "dapr.io", "conversion": ["strategy": "None"]],
      ]))
    return store
  }

  static func conversion(in store: FakeObjectStore) -> JSONValue? {
    store.stored(CustomResourceDefinition.self, namespace: nil, name: "subscriptions.dapr.io")?
      .json["spec"]?["conversion"]
  }

  @Test func theConversionPointsAtTheWebhookServiceWithTheAnchorsAndFollowsThemAfterAFailedPatch() async throws {
    let store = Self.store()
    store.fail(.patch, with: .serviceUnavailable)
    let clock = ManualClock()
    let first = TrustBundle(certificates: [try TestCertificateAuthority().certificate])
    let second = TrustBundle(certificates: [try TestCertificateAuthority().certificate])
    let anchors = LatestValue(first)
    var patcher = SubscriptionCRDPatcher(
      client: store, anchors: anchors, clientConfig: SubscriptionCRDPatcher.serviceConfig(namespace: "dapr-system"),
      logger: Logger(label: "dapr.operator.test"))
    patcher.clock = clock
    let configured = patcher
    let running = Task { try await configured.run() }
    defer { running.cancel() }

    await clock.sleepers(atLeast: 1)
    #expect(Self.conversion(in: store)?["strategy"]?.stringValue == "None", "the failed patch changed nothing")
    clock.advance(by: .seconds(60))
    let firstBundle = Data(try first.pemEncoded().utf8).base64EncodedString()
    await store.waitUntil {
      Self.conversion(in: store)?["webhook"]?["clientConfig"]?["caBundle"]?.stringValue == firstBundle
    }
    let conversion = try #require(Self.conversion(in: store))
    #expect(conversion["strategy"]?.stringValue == "Webhook")
    #expect(conversion["webhook"]?["conversionReviewVersions"] == ["v1"])
    let service = conversion["webhook"]?["clientConfig"]?["service"]
    #expect(service?["namespace"]?.stringValue == "dapr-system" && service?["name"]?.stringValue == "dapr-webhook")
    #expect(service?["path"]?.stringValue == "/convert" && service?["port"]?.intValue == 443)
    let crd = store.stored(CustomResourceDefinition.self, namespace: nil, name: "subscriptions.dapr.io")
    #expect(crd?.json["spec"]?["group"]?.stringValue == "dapr.io", "the rest of the CRD is kept")

    anchors.set(second)
    let secondBundle = Data(try second.pemEncoded().utf8).base64EncodedString()
    await store.waitUntil {
      Self.conversion(in: store)?["webhook"]?["clientConfig"]?["caBundle"]?.stringValue == secondBundle
    }
  }
}
