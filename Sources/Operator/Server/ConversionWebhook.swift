import ControlPlaneKit
import Foundation
import Hummingbird
import HummingbirdTLS
import Kubernetes
import Logging
import ServiceLifecycle

/// The Subscription conversion webhook: HTTPS `/convert` on `--webhook-server-port`.
struct ConversionWebhook: Service {
  let host: String
  let port: Int
  let identity: LatestValue<TLSIdentity>
  let logger: Logger
  var onListening: @Sendable (Int) async -> Void = { _ in }

  func run() async throws {
    let router = Router()
    router.post("convert") { request, _ -> Response in
      let body = try await request.body.collect(upTo: 16 << 20)
      let (status, answer) = SubscriptionConversion.review(Data(buffer: body))
      return Response(
        status: .init(code: status), headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(data: answer)))
    }
    let onListening = self.onListening
    try await Application(
      router: router,
      server: try .tls(.http1(), configuration: HummingbirdTLSConfigurations.server(identity: identity)),
      configuration: .init(address: .hostname(host, port: port), serverName: nil),
      onServerRunning: { await onListening($0.localAddress?.port ?? 0) },
      logger: logger
    ).run()
  }
}

/// Points the Subscription CRD's conversion at this operator's webhook Service (`dapr-webhook` in the operator's
/// namespace) with the trust anchors as its caBundle, at start-up and whenever the anchors change.
struct SubscriptionCRDPatcher: Service {
  let client: any ObjectWriting
  let anchors: LatestValue<TrustBundle>
  /// `service` (in-cluster) or `url` (tests) client configuration, without the caBundle.
  let clientConfig: JSONObject
  let logger: Logger
  /// What the retries wait on (a manual clock in tests).
  var clock: any Clock<Duration> = ContinuousClock()

  static func serviceConfig(namespace: String) -> JSONObject {
    ["service": ["namespace": .string(namespace), "name": "dapr-webhook", "path": "/convert", "port": 443]]
  }

  func run() async throws {
    try await untilShutdown {
      for await bundle in anchors.updates(includingCurrent: true) {
        var config = clientConfig
        config["caBundle"] = .string(Data(((try? bundle.pemEncoded()) ?? "").utf8).base64EncodedString())
        let conversion: JSONValue = [
          "strategy": "Webhook",
          "webhook": ["clientConfig": .object(config), "conversionReviewVersions": ["v1"]],
        ]
        try await Backoff(initial: .seconds(1)).retrying(on: clock) {
          _ = try await client.patch(
            CustomResourceDefinition.self, namespace: nil, name: "subscriptions.dapr.io",
            .merge(["spec": ["conversion": conversion]]), fieldManager: nil, force: false)
        } onFailure: { error, delay in
          logger.error("Cannot patch the Subscription CRD's conversion: \(error); retrying in \(delay)")
        }
        logger.info("Pointed the Subscription CRD's conversion at the operator's webhook")
      }
    }
  }
}
