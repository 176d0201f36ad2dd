import ControlPlaneKit
import ControlPlaneTestSupport
import DaprProto
import Foundation
import GRPCCore
import Kubernetes
import Logging
import ServiceLifecycle
import Testing
@_spi(FixedExpiryValidationTime) import X509

@testable import Sentry
@testable import SentryCore

/// One sentry, run in-process against the test control plane, as `sentry --mode kubernetes` would run.
struct RunningSentry {
  let services: [any Service]
  let readiness: ReadinessTargets
  let metrics: MetricsRegistry
  let port: Int
  let namespace: String

  var manager: CAManager { services.compactMap { $0 as? CAManager }.first! }

  static func make(
    cluster: LocalKubernetes.Cluster, namespace: String, flags: [String] = []
  ) async throws -> RunningSentry {
    let port = freeLocalPort()
    let options = try SentryOptions.parse(
      [
        "--mode", "kubernetes", "--kubeconfig", cluster.kubeconfigPath, "--port", "\(port)", "--listen-address",
        "127.0.0.1", "--trust-domain", "cluster.local",
      ] + flags)
    let readiness = ReadinessTargets([
      CAManager.readinessTarget, SentryServer.serverTarget, InformerClusterDirectory.readinessTarget,
    ])
    let metrics = MetricsRegistry(includeProcessMetrics: false)
    var logger = Logger(label: "dapr.sentry")
    logger.logLevel = .info
    let environment = ProcessEnvironment(component: .sentry, logger: logger, metrics: metrics, readiness: readiness)
    let services = try await SentryServer.makeServices(options: options, environment: environment, namespace: namespace)
    return RunningSentry(services: services, readiness: readiness, metrics: metrics, port: port, namespace: namespace)
  }

  func waitUntilReady() async throws {
    try await eventually("sentry is ready: \(readiness.notReady)") { readiness.isReady }
  }

  var sentryID: SPIFFEID { try! SPIFFEID(trustDomain: "cluster.local", namespace: namespace, appID: "dapr-sentry") }
}

enum SentryFixture {
  /// A new namespace with a service account and a Dapr-annotated pod running under it (pods are refused until the
  /// service account is known to the API server, hence the retries).
  static func daprPod(
    _ client: KubernetesClient, namespacePrefix: String, name: String, appID: String, serviceAccount: String
  ) async throws -> Pod {
    let appNamespace = "\(namespacePrefix)-\(UInt32.random(in: 0...UInt32.max))"
    _ = try await client.create(Namespace(name: appNamespace))
    _ = try await client.create(ServiceAccount(name: serviceAccount, namespace: appNamespace))
    try await eventually("the pod can be created") {
      var pod = Pod(name: name, namespace: appNamespace)
      pod.metadata.annotations = ["dapr.io/app-id": appID, "dapr.io/enabled": "true"]
      pod.spec.serviceAccountName = serviceAccount
      pod.spec.containers = [Container(name: "app", image: "nginx")]
      _ = try await client.create(pod)
      return true
    }
    return try await client.get(Pod.self, namespace: appNamespace, name: name)
  }

  /// A namespace with the empty `dapr-trust-bundle` Secret and ConfigMap the chart creates.
  /// A token bound to `pod` for its service account, with sentry's audience, written to a file (removed by the
  /// caller) as the kubelet projects it.
  static func podTokenFile(_ client: KubernetesClient, pod: Pod, audience: SPIFFEID) async throws -> String {
    let token = try #require(
      try await client.requestToken(
        serviceAccount: pod.spec.serviceAccountName ?? "default", namespace: pod.metadata.namespace ?? "",
        TokenRequest(
          audiences: [audience.description], expirationSeconds: 600,
          boundPod: (pod.metadata.name ?? "", pod.metadata.uid ?? ""))
      ).token)
    let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID().uuidString)").path
    try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
    return tokenFile
  }

  static func sentryNamespace(_ client: KubernetesClient) async throws -> String {
    try await LocalKubernetes.shared.cluster().installDaprCRDs(client)
    let namespace = "sentry-\(UInt32.random(in: 0...UInt32.max))"
    _ = try await client.create(Namespace(name: namespace))
    _ = try await client.create(Secret(name: "dapr-trust-bundle", namespace: namespace))
    _ = try await client.create(ConfigMap(name: "dapr-trust-bundle", namespace: namespace))
    _ = try await client.create(Secret(name: KubernetesCAStore.rootKeySecretName, namespace: namespace))
    return namespace
  }

  static func secretValues(_ client: KubernetesClient, _ namespace: String) async throws -> [String: String] {
    let secret = try await client.get(Secret.self, namespace: namespace, name: "dapr-trust-bundle")
    return (secret.data ?? [:]).compactMapValues { Data(base64Encoded: $0).map { String(decoding: $0, as: UTF8.self) } }
  }

  static func store(
    _ material: CAMaterial, in namespace: String, publish anchors: String?, client: KubernetesClient
  )
    async throws
  {
    _ = try await client.patch(
      Secret.self, namespace: namespace, name: "dapr-trust-bundle",
      .merge([
        "data": [
          "ca.crt": .string(Data(material.trustAnchorsPEM.utf8).base64EncodedString()),
          "issuer.crt": .string(Data(material.issuerCertificatePEM.utf8).base64EncodedString()),
          "issuer.key": .string(Data(material.issuerKeyPEM.utf8).base64EncodedString()),
        ]
      ]))
    if let anchors {
      _ = try await client.patch(
        ConfigMap.self, namespace: namespace, name: "dapr-trust-bundle", .merge(["data": ["ca.crt": .string(anchors)]]))
    }
  }
}

@Suite(.serialized, .timeLimit(.minutes(3))) struct SentryIntegrationTests {
  @Test func anEmptyTrustBundleGetsAGeneratedCAThatIsReusedAfterARestart() async throws {
    let cluster = try await LocalKubernetes.shared.cluster()
    let client = try cluster.adminClient()
    let namespace = try await SentryFixture.sentryNamespace(client)

    let first = try await RunningSentry.make(cluster: cluster, namespace: namespace)
    let issuer = try await withRunningServices(first.services) {
      try await first.waitUntilReady()
      return try #require(first.manager.authority.current).issuer
    }
    let stored = try await SentryFixture.secretValues(client, namespace)
    #expect(Set(stored.keys) == ["ca.crt", "issuer.crt", "issuer.key"])
    let published = try await client.get(ConfigMap.self, namespace: namespace, name: "dapr-trust-bundle")
    #expect(published.data?["ca.crt"] == stored["ca.crt"])
    let version = try await client.get(Secret.self, namespace: namespace, name: "dapr-trust-bundle").metadata
      .resourceVersion

    let second = try await RunningSentry.make(cluster: cluster, namespace: namespace)
    try await withRunningServices(second.services) {
      try await second.waitUntilReady()
      #expect(second.manager.authority.current?.issuer == issuer)
    }
    #expect(
      try await client.get(Secret.self, namespace: namespace, name: "dapr-trust-bundle").metadata.resourceVersion
        == version)
    try await client.delete(Namespace.self, name: namespace)
    await client.shutdown()
  }

  @Test func aBundleBroughtByTheUserIsUsed() async throws {
    let cluster = try await LocalKubernetes.shared.cluster()
    let client = try cluster.adminClient()
    let namespace = try await SentryFixture.sentryNamespace(client)
    let root = try TestCertificateAuthority(trustDomain: "cluster.local")
    let issuer = try root.issueIntermediate(organization: "my issuer")
    let material = CAMaterial(
      trustAnchorsPEM: try root.trustBundle.pemEncoded(),
      issuerCertificatePEM: try issuer.certificate.serializeAsPEM().pemString,
      issuerKeyPEM: try issuer.privateKey.serializeAsPEM().pemString)
    try await SentryFixture.store(material, in: namespace, publish: material.trustAnchorsPEM, client: client)

    let sentry = try await RunningSentry.make(cluster: cluster, namespace: namespace)
    try await withRunningServices(sentry.services) {
      try await sentry.waitUntilReady()
      #expect(sentry.manager.authority.current?.issuer == issuer.certificate)
    }
    try await client.delete(Namespace.self, name: namespace)
    await client.shutdown()
  }

  @Test func aConfigMapThatDisagreesWithTheSecretKeepsSentryUnreadyWithAClearErrorAndChangesNothing() async throws {
    let cluster = try await LocalKubernetes.shared.cluster()
    let client = try cluster.adminClient()
    let namespace = try await SentryFixture.sentryNamespace(client)
    let mine = try IssuingAuthority.generate(
      trustDomain: "cluster.local", namespace: namespace, keyAlgorithm: .ed25519, now: Date())
    let stale = try IssuingAuthority.generate(
      trustDomain: "cluster.local", namespace: namespace, keyAlgorithm: .ed25519, now: Date())
    try await SentryFixture.store(try mine.material, in: namespace, publish: stale.anchorsPEM, client: client)
    let before = try await SentryFixture.secretValues(client, namespace)

    let sentry = try await RunningSentry.make(cluster: cluster, namespace: namespace)
    try await withRunningServices(sentry.services) {
      try await eventually("sentry reports the mismatch") { sentry.manager.problem.current != nil }
      let problem = try #require(sentry.manager.problem.current)
      #expect(
        problem.hasPrefix(
          "ConfigMap \(namespace)/dapr-trust-bundle key ca.crt differs from Secret \(namespace)/dapr-trust-bundle key ca.crt"
        ))
      #expect(sentry.readiness.notReady.contains(CAManager.readinessTarget))
      #expect(sentry.manager.authority.current == nil)

      // Fixing the ConfigMap is enough: sentry notices and becomes ready.
      _ = try await client.patch(
        ConfigMap.self, namespace: namespace, name: "dapr-trust-bundle",
        .merge(["data": ["ca.crt": .string(mine.anchorsPEM)]]))
      try await sentry.waitUntilReady()
      #expect(sentry.manager.authority.current?.issuer == mine.issuer)
    }
    #expect(try await SentryFixture.secretValues(client, namespace) == before)
    try await client.delete(Namespace.self, name: namespace)
    await client.shutdown()
  }

  @Test func aNewIssuerStoredThroughTheAPIIsUsedLiveAndOldAndNewLeavesVerify() async throws {
    let cluster = try await LocalKubernetes.shared.cluster()
    let client = try cluster.adminClient()
    let namespace = try await SentryFixture.sentryNamespace(client)
    let root = try TestCertificateAuthority(trustDomain: "cluster.local")
    let firstIssuer = try root.issueIntermediate(organization: "issuer one")
    let secondIssuer = try root.issueIntermediate(organization: "issuer two", keyType: .ed25519)
    func material(_ issuer: (certificate: Certificate, privateKey: Certificate.PrivateKey)) throws -> CAMaterial {
      CAMaterial(
        trustAnchorsPEM: try root.trustBundle.pemEncoded(),
        issuerCertificatePEM: try issuer.certificate.serializeAsPEM().pemString,
        issuerKeyPEM: try issuer.privateKey.serializeAsPEM().pemString)
    }
    try await SentryFixture.store(
      try material(firstIssuer), in: namespace, publish: try root.trustBundle.pemEncoded(), client: client)

    let sentry = try await RunningSentry.make(cluster: cluster, namespace: namespace)
    try await withRunningServices(sentry.services) {
      try await sentry.waitUntilReady()
      let before = try issueWithCurrentCA(sentry)
      #expect(before.leaf.issuer == firstIssuer.certificate.subject)

      try await SentryFixture.store(try material(secondIssuer), in: namespace, publish: nil, client: client)
      try await eventually("the new issuer is in use") {
        sentry.manager.authority.current?.issuer == secondIssuer.certificate
      }
      let after = try issueWithCurrentCA(sentry)
      #expect(after.leaf.issuer == secondIssuer.certificate.subject)
      let page = String(decoding: sentry.metrics.exposition(), as: UTF8.self)
      #expect(page.contains("dapr_sentry_issuercert_changed_total 1"))

      // Both leaves verify against the (unchanged) anchors.
      for signed in [before, after] {
        let verifier = SPIFFEPeerVerifier(trustAnchors: { root.trustBundle }, requirement: .anyIdentity)
        _ = try await verifier.verify(presented: signed.chain)
      }
    }
    try await client.delete(Namespace.self, name: namespace)
    await client.shutdown()
  }

  @Test func aPodsProjectedTokenGetsItsOwnIdentityAndNoOther() async throws {
    let cluster = try await LocalKubernetes.shared.cluster()
    let client = try cluster.adminClient()
    let namespace = try await SentryFixture.sentryNamespace(client)
    let pod = try await SentryFixture.daprPod(
      client, namespacePrefix: "shop", name: "checkout-0", appID: "checkout", serviceAccount: "checkout-sa")
    let appNamespace = pod.metadata.namespace ?? ""

    let sentry = try await RunningSentry.make(cluster: cluster, namespace: namespace)
    try await withRunningServices(sentry.services) {
      try await sentry.waitUntilReady()
      let tokenFile = try await SentryFixture.podTokenFile(client, pod: pod, audience: sentry.sentryID)
      defer { try? FileManager.default.removeItem(atPath: tokenFile) }
      let anchors =
        try await client.get(ConfigMap.self, namespace: namespace, name: "dapr-trust-bundle").data?["ca.crt"] ?? ""

      func svidClient(_ appID: String) throws -> SVIDClient {
        SVIDClient(
          request: .init(
            appID: appID, namespace: appNamespace, trustDomain: "", validator: .kubernetes, tokenFile: tokenFile),
          sentryHost: "127.0.0.1", sentryPort: sentry.port, sentryID: sentry.sentryID,
          trustAnchors: LatestValue(try TrustBundle(pemEncoded: anchors)), logger: Logger(label: "svid"))
      }
      let identity = try await svidClient("checkout").fetch()
      #expect(try identity.spiffeID.description == "spiffe://public/ns/\(appNamespace)/checkout")

      do {
        _ = try await svidClient("payments").fetch()
        Issue.record("a pod got another app's identity")
      } catch let error as RPCError {
        #expect(error.code == .permissionDenied)
        #expect(error.message == "app-id mismatch. expected: checkout, received: payments")
      }
    }
    try await client.delete(Namespace.self, name: namespace)
    try await client.delete(Namespace.self, name: appNamespace)
    await client.shutdown()
  }

  @Test func twoSentriesStartingTogetherEndWithOneCA() async throws {
    let cluster = try await LocalKubernetes.shared.cluster()
    let client = try cluster.adminClient()
    let namespace = try await SentryFixture.sentryNamespace(client)
    let first = try await RunningSentry.make(cluster: cluster, namespace: namespace)
    let second = try await RunningSentry.make(cluster: cluster, namespace: namespace)
    try await withRunningServices(first.services + second.services) {
      try await first.waitUntilReady()
      try await second.waitUntilReady()
      let issuers = [first.manager.authority.current?.issuer, second.manager.authority.current?.issuer]
      #expect(issuers[0] != nil && issuers[0] == issuers[1])
      let stored = try await SentryFixture.secretValues(client, namespace)
      #expect(stored["issuer.crt"] == first.manager.authority.current?.issuerChainPEM)
    }
    try await client.delete(Namespace.self, name: namespace)
    await client.shutdown()
  }
}

@Suite(.serialized, .timeLimit(.minutes(3))) struct SentryJWTIntegrationTests {
  @Test func twoSentriesWithJWTsShareOneGeneratedKeyPublishedInTheConfigMapAndFollowARotation() async throws {
    let cluster = try await LocalKubernetes.shared.cluster()
    let client = try cluster.adminClient()
    let namespace = try await SentryFixture.sentryNamespace(client)
    let first = try await RunningSentry.make(cluster: cluster, namespace: namespace, flags: ["--jwt-enabled"])
    let second = try await RunningSentry.make(cluster: cluster, namespace: namespace, flags: ["--jwt-enabled"])
    try await withRunningServices(first.services + second.services) {
      try await first.waitUntilReady()
      try await second.waitUntilReady()
      let stored = try await SentryFixture.secretValues(client, namespace)
      #expect(Set(stored.keys) == ["ca.crt", "issuer.crt", "issuer.key", "jwt.key", "jwks.json"])
      let published = try await client.get(ConfigMap.self, namespace: namespace, name: "dapr-trust-bundle")
      #expect(published.data?["jwks.json"] == stored["jwks.json"])
      let kid = try #require(first.manager.jwtIssuer.current?.key.keyID)
      #expect(second.manager.jwtIssuer.current?.key.keyID == kid)

      // `sentry ca rotate-jwt-key --publish-for 0s`: both replicas move to the new key; the old one stays published.
      let maintenance = CAMaintenance(
        client: client, namespace: namespace,
        keys: [.trustAnchors: "ca.crt", .issuerCertificate: "issuer.crt", .issuerKey: "issuer.key"])
      _ = try await maintenance.rotateJWTKey(publishFor: 0)
      try await eventually("both sentries sign with the new key") {
        let kids = [first.manager.jwtIssuer.current?.key.keyID, second.manager.jwtIssuer.current?.key.keyID]
        return kids[0] != kid && kids[0] == kids[1]
      }
      let rotated = try await client.get(ConfigMap.self, namespace: namespace, name: "dapr-trust-bundle")
      let keySet = try JWKSet(json: try #require(rotated.data?["jwks.json"]))
      #expect(keySet.keys.compactMap(\.keyID).contains(kid) && keySet.keys.count == 2)
      #expect(first.manager.jwtIssuer.current?.keySet == keySet)
    }
    try await client.delete(Namespace.self, name: namespace)
    await client.shutdown()
  }
}

@Suite(.serialized, .timeLimit(.minutes(3))) struct IssuerRenewalIntegrationTests {
  @Test func theIssuerRenewsItselfTwiceUnderTheSameRootWhileAWorkloadKeepsRenewingAndNoRequestFails() async throws {
    let cluster = try await LocalKubernetes.shared.cluster()
    let client = try cluster.adminClient()
    let namespace = try await SentryFixture.sentryNamespace(client)
    let pod = try await SentryFixture.daprPod(
      client, namespacePrefix: "renew", name: "orders-0", appID: "orders", serviceAccount: "orders")
    let appNamespace = pod.metadata.namespace ?? ""
    // Issuers live 16 s and renew at half life: two renewals within about 20 s.
    let flags = ["--keep-root-key", "--ca-issuer-validity", "16s", "--issuer-renewal-threshold", "0.5"]
    let first = try await RunningSentry.make(cluster: cluster, namespace: namespace, flags: flags)
    let second = try await RunningSentry.make(cluster: cluster, namespace: namespace, flags: flags)
    try await withRunningServices(first.services + second.services) {
      try await first.waitUntilReady()
      try await second.waitUntilReady()
      // The root's key is in its own Secret; the trust bundle never holds it.
      let rootKeySecret = try await client.get(
        Secret.self, namespace: namespace, name: KubernetesCAStore.rootKeySecretName)
      #expect(rootKeySecret.data?["root.key"] != nil)
      #expect(try await SentryFixture.secretValues(client, namespace)["root.key"] == nil)
      let anchorsPEM =
        try await client.get(ConfigMap.self, namespace: namespace, name: "dapr-trust-bundle").data?["ca.crt"] ?? ""
      let root = try #require(try CAMaterial.certificates(in: anchorsPEM).first)
      let tokenFile = try await SentryFixture.podTokenFile(client, pod: pod, audience: first.sentryID)
      defer { try? FileManager.default.removeItem(atPath: tokenFile) }
      let clients = try [first, second].map { sentry in
        SVIDClient(
          request: .init(
            appID: "orders", namespace: appNamespace, trustDomain: "", validator: .kubernetes, tokenFile: tokenFile),
          sentryHost: "127.0.0.1", sentryPort: sentry.port, sentryID: sentry.sentryID,
          trustAnchors: LatestValue(try TrustBundle(pemEncoded: anchorsPEM)), logger: Logger(label: "svid"))
      }
      // The workload renews every 200 ms, alternating between the replicas, until it has seen three issuers.
      var issuers: [Certificate] = []
      var leaves: [(chain: [Certificate], at: Date)] = []
      var failures: [String] = []
      let deadline = ContinuousClock.now + .seconds(60)
      var turn = 0
      while issuers.count < 3 && ContinuousClock.now < deadline {
        do {
          let identity = try await clients[turn % 2].fetch()
          leaves.append((identity.certificateChain, Date()))
          let issuer = identity.certificateChain[1]
          if issuers.last != issuer { issuers.append(issuer) }
        } catch {
          failures.append("\(error)")
        }
        turn += 1
        try await Task.sleep(for: .milliseconds(200))
      }
      #expect(failures.isEmpty, "\(failures.count) signing requests failed: \(failures.prefix(2))")
      #expect(issuers.count >= 3, "saw \(issuers.count) issuers")
      // Old and new leaves verify against the unchanged root, each at the time it was issued.
      for (chain, at) in leaves {
        var verifier = Verifier(rootCertificates: CertificateStore([root])) {
          // A second later: certificate times are whole seconds.
          RFC5280Policy(fixedExpiryValidationTime: at + 1)
          AcceptsSubjectAlternativeNames()
        }
        let result = await verifier.validate(leaf: chain[0], intermediates: CertificateStore(chain.dropFirst()))
        guard case .validCertificate = result else {
          Issue.record("a leaf issued at \(at) does not verify against the root: \(result)")
          break
        }
        #expect(chain[0].notValidAfter <= chain[1].notValidAfter)
      }
      // Both replicas end on one issuer, and each counted every change once.
      try await eventually("both sentries use the same issuer") {
        first.manager.authority.current?.issuer == second.manager.authority.current?.issuer
      }
      let changes = issuers.count - 1
      for sentry in [first, second] {
        let page = String(decoding: sentry.metrics.exposition(), as: UTF8.self)
        let line = page.split(separator: "\n").first { $0.hasPrefix("dapr_sentry_issuercert_changed_total") }
        let count = line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? -1
        #expect(count >= Double(changes) && count <= Double(changes + 1), "\(line ?? "no counter")")
      }
    }
    try await client.delete(Namespace.self, name: namespace)
    try await client.delete(Namespace.self, name: appNamespace)
    await client.shutdown()
  }
}

/// Issues a leaf from the CA sentry is using right now (the gRPC path is covered by the projected-token test).
func issueWithCurrentCA(_ sentry: RunningSentry) throws -> (leaf: Certificate, chain: [Certificate]) {
  let issuing = try #require(sentry.manager.authority.current)
  let parsed = try CSRReader.read(try makeCSR().pem)
  let issued = try issuing.issue(
    WorkloadCertificateRequest(
      publicKey: parsed.publicKey, spiffeID: try SPIFFEID(parsing: "spiffe://public/ns/shop/checkout"), now: Date(),
      ttl: 3600, allowedClockSkew: 60))
  return (issued.leaf, [issued.leaf] + issuing.issuerChain)
}

@Suite(.serialized, .timeLimit(.minutes(2))) struct CAMaintenanceIntegrationTests {
  @Test func expiryExportAndRenewWorkAgainstTheAPIServerAndARunningSentryFollowsTheRenewal() async throws {
    let cluster = try await LocalKubernetes.shared.cluster()
    let client = try cluster.adminClient()
    let namespace = try await SentryFixture.sentryNamespace(client)
    let maintenance = CAMaintenance(
      client: client, namespace: namespace,
      keys: [.trustAnchors: "ca.crt", .issuerCertificate: "issuer.crt", .issuerKey: "issuer.key"])
    let sentry = try await RunningSentry.make(cluster: cluster, namespace: namespace)
    try await withRunningServices(sentry.services) {
      try await sentry.waitUntilReady()
      let original = try #require(sentry.manager.authority.current)

      let report = try await maintenance.expiryReport()
      #expect(report.count == 2)
      #expect(report[0].hasPrefix("root 1: expires "))
      #expect(report[1].hasPrefix("issuer: expires "))
      // A root 20 days from expiry gets Dapr CLI's warning.
      let late = try await maintenance.expiryReport(now: original.issuer.notValidAfter - 20 * 86_400)
      #expect(
        late.contains {
          $0.hasPrefix("Dapr root certificate of your Kubernetes cluster expires in 20 days. Expiry date: ")
        })

      let folder = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(UUID().uuidString)").path
      defer { try? FileManager.default.removeItem(atPath: folder) }
      let written = try await maintenance.export(to: folder)
      #expect(written.map { ($0 as NSString).lastPathComponent } == ["ca.crt", "issuer.crt", "issuer.key"])
      #expect(try String(contentsOfFile: written[1], encoding: .utf8) == original.issuerChainPEM)

      let renewed = try await maintenance.renew(
        validFor: 30 * 86_400, trustDomain: "cluster.local", keyAlgorithm: .ecdsaP256)
      #expect(renewed.anchors.certificates.count == 2)
      #expect(renewed.anchors.certificates.contains(original.anchors.certificates[0]))
      try await eventually("sentry uses the renewed issuer") {
        sentry.manager.authority.current?.issuer == renewed.issuer
      }
      let published = try await client.get(ConfigMap.self, namespace: namespace, name: "dapr-trust-bundle")
      #expect(try TrustBundle(pemEncoded: published.data?["ca.crt"] ?? "").certificates == renewed.anchors.certificates)
    }
    try await client.delete(Namespace.self, name: namespace)
    await client.shutdown()
  }
}
