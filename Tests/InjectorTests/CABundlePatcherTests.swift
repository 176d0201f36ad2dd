import ControlPlaneKit
import ControlPlaneTestSupport
import Foundation
import Kubernetes
import Logging
import Testing

@testable import Injector
@testable import InjectorCore

/// The caBundle patcher against the in-memory fake: the webhook configuration follows the trust anchors, and a
/// failed patch is retried on the backoff, on a manual clock.
@Suite struct CABundlePatcherTests {
  static let name = InjectorServer.webhookConfigurationName

  static func store() -> FakeObjectStore {
    let store = FakeObjectStore()
    store.seed(
      MutatingWebhookConfiguration(json: [
        "metadata": ["name": .string(name)],
        "webhooks": [
          ["name": "sidecar-injector.dapr.io", "clientConfig": ["service": ["name": "dapr-sidecar-injector"]]]
        ],
      ]))
    return store
  }

  static func caBundle(in store: FakeObjectStore) -> String? {
    store.stored(MutatingWebhookConfiguration.self, namespace: nil, name: name)?
      .json["webhooks"]?.arrayValue?.first?["clientConfig"]?["caBundle"]?.stringValue
  }

  static func encoded(_ bundle: TrustBundle) throws -> String {
    Data(try bundle.pemEncoded().utf8).base64EncodedString()
  }

  @Test func theWebhooksCABundleHoldsTheTrustAnchorsAndFollowsEachChange() async throws {
    let store = Self.store()
    let first = TrustBundle(certificates: [try TestCertificateAuthority().certificate])
    let second = TrustBundle(certificates: [try TestCertificateAuthority().certificate])
    let anchors = LatestValue(first)
    let readiness = ReadinessTargets([InjectorServer.webhookConfigurationTarget])
    let patcher = CABundlePatcher(
      client: store, anchors: anchors, readiness: readiness, logger: Logger(label: "dapr.injector.test"))
    let running = Task { try await patcher.run() }
    defer { running.cancel() }

    let firstValue = try Self.encoded(first)
    await store.waitUntil { Self.caBundle(in: store) == firstValue }
    anchors.set(second)
    let secondValue = try Self.encoded(second)
    await store.waitUntil { Self.caBundle(in: store) == secondValue }
    #expect(readiness.isReady, "ready after the first patch")
    #expect(
      store.log == [
        "patch mutatingwebhookconfigurations \(Self.name)", "patch mutatingwebhookconfigurations \(Self.name)",
      ])
    let webhook = store.stored(MutatingWebhookConfiguration.self, namespace: nil, name: Self.name)?.json["webhooks"]?
      .arrayValue?.first
    #expect(webhook?["clientConfig"]?["service"]?["name"]?.stringValue == "dapr-sidecar-injector", "the rest is kept")
  }

  @Test func aFailedPatchIsRetriedOnTheBackoffAndOnlyThenIsTheWebhookReady() async throws {
    let store = Self.store()
    store.fail(.patch, with: .internalError, times: 2)
    let clock = ManualClock()
    let bundle = TrustBundle(certificates: [try TestCertificateAuthority().certificate])
    let readiness = ReadinessTargets([InjectorServer.webhookConfigurationTarget])
    var patcher = CABundlePatcher(
      client: store, anchors: LatestValue(bundle), readiness: readiness, logger: Logger(label: "dapr.injector.test"))
    patcher.clock = clock
    let configured = patcher
    let running = Task { try await configured.run() }
    defer { running.cancel() }

    for attempt in 1...2 {
      await clock.sleepers(atLeast: 1)
      #expect(store.log.count == attempt)
      #expect(Self.caBundle(in: store) == nil && !readiness.isReady, "attempt \(attempt) failed")
      clock.advance(by: .seconds(60))
    }
    let value = try Self.encoded(bundle)
    await store.waitUntil { Self.caBundle(in: store) == value }
    #expect(store.log.count == 3)
  }
}
