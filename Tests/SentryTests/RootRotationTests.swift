import ControlPlaneKit
import ControlPlaneTestSupport
import Foundation
import Kubernetes
import Logging
import ServiceLifecycle
import Testing
import X509

@testable import Sentry
@testable import SentryCore

/// The pure steps of a root rotation.
@Suite struct RootRotationStepTests {
  static let start = Date(timeIntervalSince1970: 1_800_000_000)

  static func generated() throws -> (authority: IssuingAuthority, rootKey: Certificate.PrivateKey) {
    try IssuingAuthority.generateWithRootKey(
      trustDomain: "cluster.local", namespace: "dapr-system", keyAlgorithm: .ed25519, now: start,
      rootValidity: 10 * 365 * 86_400, issuerValidity: 365 * 86_400, allowedClockSkew: 900)
  }

  /// What is stored after `update` is applied over `stored`.
  static func applying(_ update: CAStoreUpdate, to stored: StoredCA) -> StoredCA {
    var next = stored
    for (entry, value) in update.entries { next[entry] = value }
    for (entry, value) in update.published { next.published[entry] = value }
    return next
  }

  @Test func theStagesFollowEachOtherAndEachRunWhenNothingIsDueChangesNothing() async throws {
    let (old, oldRootKey) = try Self.generated()
    var stored = StoredCA(publishesAnchors: true)
    let material = try old.material
    stored.trustAnchors = material.trustAnchorsPEM
    stored.publishedAnchors = material.trustAnchorsPEM
    stored.issuerCertificate = material.issuerCertificatePEM
    stored.issuerKey = material.issuerKeyPEM
    stored[.rootKey] = try oldRootKey.serializeAsPEM().pemString
    let fresh = try Self.generated()
    func next(_ stored: StoredCA, at now: Date) async throws -> RootRotationStep {
      let material = CAMaterial(
        trustAnchorsPEM: stored.trustAnchors!, issuerCertificatePEM: stored.issuerCertificate!,
        issuerKeyPEM: stored.issuerKey!)
      let current = try await IssuingAuthority(material: material, now: now)
      return try RootRotation.next(
        stored: stored, current: current, now: now, workloadTTL: 86_400, allowedClockSkew: 900
      ) { fresh }
    }

    // Stage 1: both roots in the Secret and the ConfigMap, the old issuer kept, the new one waiting.
    guard case .begin(let begin, let state) = try await next(stored, at: Self.start) else {
      Issue.record("a rotation did not begin")
      return
    }
    #expect(state.stage == .trusting)
    stored = Self.applying(begin, to: stored)
    let both = try CAMaterial.certificates(in: stored.trustAnchors!)
    #expect(both == old.anchors.certificates + fresh.authority.anchors.certificates)
    #expect(stored.publishedAnchors == stored.trustAnchors)
    #expect(stored.issuerCertificate == material.issuerCertificatePEM)
    #expect(stored[.nextIssuerCertificate] == (try fresh.authority.material.issuerCertificatePEM))
    #expect(stored[.nextRootKey] != nil)

    // A run that stopped before the ConfigMap: the next run publishes.
    var unpublished = stored
    unpublished.publishedAnchors = material.trustAnchorsPEM
    guard case .publish(let publish) = try await next(unpublished, at: Self.start) else {
      Issue.record("an unpublished stage 1 was not published")
      return
    }
    #expect(publish.published[.trustAnchors] == .some(stored.trustAnchors))

    // Stage 3 (waits on the pods): the new issuer and root key replace the old ones; the waiting entries go.
    let switchTime = Self.start + 3600
    guard
      case .switchWhenNoPodIsLeft(let newRoot, let switchUpdate, let switched) = try await next(stored, at: switchTime)
    else {
      Issue.record("stage 1 did not lead to the switch")
      return
    }
    #expect(newRoot == fresh.authority.anchors.certificates.first)
    #expect(switched.oldRootsLeaveAt == switchTime + 86_400 + 900)
    stored = Self.applying(switchUpdate, to: stored)
    #expect(stored.issuerCertificate == (try fresh.authority.material.issuerCertificatePEM))
    #expect(stored[.rootKey] == (try fresh.rootKey.serializeAsPEM().pemString + "\n"))
    #expect(stored[.nextIssuerCertificate] == nil && stored[.nextIssuerKey] == nil && stored[.nextRootKey] == nil)

    // Stage 4 waits for the last certificate under the old root, then drops it from both copies.
    #expect(try await next(stored, at: switchTime + 86_400) == .waitUntil(switchTime + 86_400 + 900))
    guard case .dropOldRoots(let drop) = try await next(stored, at: switchTime + 86_400 + 900) else {
      Issue.record("stage 4 did not come")
      return
    }
    stored = Self.applying(drop, to: stored)
    #expect(try CAMaterial.certificates(in: stored.trustAnchors!) == fresh.authority.anchors.certificates)
    #expect(stored.publishedAnchors == stored.trustAnchors)
    // The state goes last, once both copies hold the new root alone.
    guard case .finish(let finish) = try await next(stored, at: switchTime + 86_400 + 900) else {
      Issue.record("the rotation did not finish")
      return
    }
    stored = Self.applying(finish, to: stored)
    #expect(stored[.rootRotation] == nil)
  }

  @Test(arguments: [
    ("old anchors only", "old", true),
    ("both roots", "both", false),
    ("the new root only", "new", false),
    ("no daprd container", "none", false),
    ("unreadable anchors", "garbage", true),
  ])
  func aPodIsReportedWhenItsInjectedAnchorsLackTheNewRoot(_ what: String, _ held: String, _ reported: Bool) throws {
    let old = try Self.generated().authority.anchors.certificates[0]
    let new = try Self.generated().authority.anchors.certificates[0]
    let anchors: String? =
      switch held {
      case "old": try TrustBundle(certificates: [old]).pemEncoded()
      case "both": try TrustBundle(certificates: [old, new]).pemEncoded()
      case "new": try TrustBundle(certificates: [new]).pemEncoded()
      case "garbage": "not a certificate"
      default: nil
      }
    #expect(RootRotation.podsLacking(new, in: [("shop/a", anchors)]) == (reported ? ["shop/a"] : []), "\(what)")
  }

  @Test(arguments: [
    (["--root-validity", "1h", "--issuer-validity", "2h"], "--issuer-validity must not exceed --root-validity"),
    (["--root-validity", "0s"], "--root-validity and --issuer-validity must be positive"),
    (["--restart-interval=-1s"], "--restart-interval must not be negative"),
  ])
  func rotateRootRefusesBadFlagsSayingWhich(_ arguments: [String], _ message: String) {
    do {
      _ = try SentryCACommand.RotateRoot.parse(arguments)
      Issue.record("\(arguments) was accepted")
    } catch {
      #expect(SentryCACommand.RotateRoot.message(for: error).contains(message))
    }
  }

  @Test func anUnreadableStateIsRefusedNamingTheKey() {
    #expect(throws: RootRotationError.self) { _ = try RootRotationState(json: "{") }
  }
}

/// A root rotation end to end on the test control plane: sentry running, pods holding injected anchors, the
/// command run stage by stage.
@Suite(.serialized, .timeLimit(.minutes(3))) struct RootRotationIntegrationTests {
  /// A pod as the injector leaves it: a daprd container whose DAPR_TRUST_ANCHORS is the bundle of the time.
  static func injectedPod(
    _ client: KubernetesClient, namespace: String, name: String, anchors: String, controlPlane: String
  ) async throws {
    try await eventually("pod \(name) can be created") {
      var pod = Pod(name: name, namespace: namespace)
      pod.metadata.annotations = ["dapr.io/app-id": name, "dapr.io/enabled": "true"]
      pod.spec.serviceAccountName = "app"
      var daprd = Container(name: "daprd", image: "daprio/daprd")
      daprd.env = [
        EnvVar(name: "DAPR_TRUST_ANCHORS", value: anchors),
        EnvVar(name: "DAPR_CONTROLPLANE_NAMESPACE", value: controlPlane),
      ]
      pod.spec.containers = [Container(name: "app", image: "nginx"), daprd]
      _ = try await client.create(pod)
      return true
    }
  }

  static func verifies(_ chain: [Certificate], against anchors: String) async -> Bool {
    guard let bundle = try? TrustBundle(pemEncoded: anchors) else { return false }
    let verifier = SPIFFEPeerVerifier(trustAnchors: { bundle }, requirement: .anyIdentity)
    return (try? await verifier.verify(presented: chain)) != nil
  }

  @Test func aStagedRootRotationReportsExactlyTheOlderPodsAndEveryLeafVerifiesAgainstTheBundleSidecarsHold()
    async throws
  {
    let cluster = try await LocalKubernetes.shared.cluster()
    let client = try cluster.adminClient()
    let namespace = try await SentryFixture.sentryNamespace(client)
    let signer = try await SentryFixture.daprPod(
      client, namespacePrefix: "rotate", name: "signer-0", appID: "signer", serviceAccount: "signer")
    let apps = "apps-\(UInt32.random(in: 0...UInt32.max))"
    _ = try await client.create(Namespace(name: apps))
    _ = try await client.create(ServiceAccount(name: "app", namespace: apps))
    let sentry = try await RunningSentry.make(cluster: cluster, namespace: namespace, flags: ["--keep-root-key"])
    let maintenance = CAMaintenance(client: client, namespace: namespace, keys: [:])
    func published() async throws -> String {
      try await client.get(ConfigMap.self, namespace: namespace, name: "dapr-trust-bundle").data?["ca.crt"] ?? ""
    }
    func stageGauge() -> Double? {
      String(decoding: sentry.metrics.exposition(), as: UTF8.self).split(separator: "\n")
        .first { $0.hasPrefix("dapr_sentry_root_rotation_stage ") }
        .flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    try await withRunningServices(sentry.services) {
      try await sentry.waitUntilReady()
      let oldAnchors = try await published()
      let oldIssuer = try #require(sentry.manager.authority.current?.issuer)
      // Pods injected before the rotation, and one that is not a Dapr pod.
      for name in ["before-0", "before-1"] {
        try await Self.injectedPod(
          client, namespace: apps, name: name, anchors: oldAnchors, controlPlane: namespace)
      }
      // A pod of another control plane (its own sentry, its own anchors) is not this rotation's concern.
      try await Self.injectedPod(
        client, namespace: apps, name: "elsewhere", anchors: oldAnchors, controlPlane: "another-control-plane")
      var plain = Pod(name: "plain", namespace: apps)
      plain.spec.serviceAccountName = "app"
      plain.spec.containers = [Container(name: "app", image: "nginx")]
      _ = try await client.create(plain)
      let tokenFile = try await SentryFixture.podTokenFile(client, pod: signer, audience: sentry.sentryID)
      defer { try? FileManager.default.removeItem(atPath: tokenFile) }
      let clientAnchors = LatestValue(try TrustBundle(pemEncoded: oldAnchors))
      let svids = SVIDClient(
        request: .init(
          appID: "signer", namespace: signer.metadata.namespace ?? "", trustDomain: "", validator: .kubernetes,
          tokenFile: tokenFile),
        sentryHost: "127.0.0.1", sentryPort: sentry.port, sentryID: sentry.sentryID, trustAnchors: clientAnchors,
        logger: Logger(label: "svid"))
      #expect(await Self.verifies(try await svids.fetch().certificateChain, against: oldAnchors))

      // Stage 1, then the stage 2 report: exactly the pods injected before.
      let first = try await maintenance.rotateRoot(RootRotationOptions())
      #expect(first.stage == 2, "\(first.lines)")
      #expect(first.podsLacking == ["\(apps)/before-0", "\(apps)/before-1"])
      let bothAnchors = try await published()
      #expect(try CAMaterial.certificates(in: bothAnchors).count == 2)
      #expect(try CAMaterial.certificates(in: bothAnchors).first == CAMaterial.certificates(in: oldAnchors).first)
      try await eventually("the stage gauge reads 1") { stageGauge() == 1 }
      #expect(try await maintenance.expiryReport().contains { $0.hasPrefix("root rotation: stage 1") })
      clientAnchors.set(try TrustBundle(pemEncoded: bothAnchors))
      // Sentry still signs with the old issuer: the leaf verifies for the old pods and the new ones alike.
      try await Self.injectedPod(
        client, namespace: apps, name: "after-0", anchors: bothAnchors, controlPlane: namespace)
      let stage1Leaf = try await svids.fetch().certificateChain
      #expect(stage1Leaf[1] == oldIssuer)
      #expect(await Self.verifies(stage1Leaf, against: oldAnchors))
      #expect(await Self.verifies(stage1Leaf, against: bothAnchors))

      // Run again without restarts: the same report, nothing changed.
      let again = try await maintenance.rotateRoot(RootRotationOptions())
      #expect(again.podsLacking == first.podsLacking && again.stage == 2)
      #expect(try await published() == bothAnchors)

      // With --restart-pods the two are restarted, none is left, and signing switches to the new root.
      let third = try await maintenance.rotateRoot(RootRotationOptions(restartPods: true, restartInterval: .zero))
      #expect(third.restarted == first.podsLacking)
      #expect(third.stage == 3, "\(third.lines)")
      try await eventually("sentry signs under the new root") { sentry.manager.authority.current?.issuer != oldIssuer }
      try await eventually("the stage gauge reads 3") { stageGauge() == 3 }
      let stage3Leaf = try await svids.fetch().certificateChain
      #expect(stage3Leaf[1] != oldIssuer)
      #expect(await Self.verifies(stage3Leaf, against: bothAnchors))
      // (This is why the old pods had to go: their anchors do not reach the new issuer.)
      #expect(await Self.verifies(stage3Leaf, against: oldAnchors) == false)
      // The new root's key is the one kept: the issuer can go on renewing itself.
      let rootKeyPEM = try #require(
        try await client.get(Secret.self, namespace: namespace, name: KubernetesCAStore.rootKeySecretName)
          .data?["root.key"].flatMap { Data(base64Encoded: $0) })
      let newRoot = try #require(try CAMaterial.certificates(in: bothAnchors).last)
      #expect(
        try Certificate.PrivateKey(pemEncoded: String(decoding: rootKeyPEM, as: UTF8.self)).publicKey
          == newRoot.publicKey)

      // Stage 4 waits for the last leaf under the old root (24 h + 15 min by default), then drops the old root.
      let early = try await maintenance.rotateRoot(RootRotationOptions())
      #expect(early.stage == 3 && early.lines.last?.contains("run this command again") == true, "\(early.lines)")
      #expect(try await published() == bothAnchors)
      let later = try await maintenance.rotateRoot(RootRotationOptions(), now: { Date() + 25 * 3600 })
      #expect(later.stage == 0, "\(later.lines)")
      let newAnchors = try await published()
      #expect(try CAMaterial.certificates(in: newAnchors) == [newRoot])
      try await eventually("the stage gauge reads 0") { stageGauge() == 0 }
      try await eventually("sentry has loaded the bundle without the old root") {
        sentry.manager.authority.current?.anchors.certificates == [newRoot]
      }
      clientAnchors.set(try TrustBundle(pemEncoded: newAnchors))
      let stage4Leaf = try await svids.fetch().certificateChain
      #expect(await Self.verifies(stage4Leaf, against: newAnchors))
      #expect(await Self.verifies(stage4Leaf, against: bothAnchors))
    }
    try await client.delete(Namespace.self, name: namespace)
    try await client.delete(Namespace.self, name: apps)
    await client.shutdown()
  }
}
