import AsyncHTTPClient
import ControlPlaneTestSupport
import Foundation
import Kubernetes
import Logging
import NIOCore
import Testing

/// A client of the test control plane whose connections pass through a proxy the test can cut.
struct ProxiedClient {
  let proxy: TCPProxy
  let client: KubernetesClient

  static func make(_ cluster: LocalKubernetes.Cluster) async throws -> ProxiedClient {
    var configuration = try cluster.configuration()
    let target = try #require(URL(string: configuration.server))
    let proxy = try await TCPProxy(targetHost: "127.0.0.1", targetPort: try #require(target.port))
    configuration.server = "https://127.0.0.1:\(proxy.port)"
    return ProxiedClient(proxy: proxy, client: try KubernetesClient(configuration: configuration))
  }

  func close() async {
    await client.shutdown()
    await proxy.close()
  }

  /// An informer of the ConfigMaps of `namespace` through the proxy, quick to retry.
  func configMapInformer(namespace: String) -> Informer<ConfigMap> {
    var configuration = InformerConfiguration<ConfigMap>()
    configuration.backoff = Backoff(initial: .milliseconds(50), maximum: .milliseconds(400))
    configuration.pageSize = 50
    return Informer<ConfigMap>(
      client: client, namespace: namespace, configuration: configuration, logger: Logger(label: "test"))
  }
}

/// Applies informer events to a plain dictionary, to check that the events alone tell the whole story.
struct EventLedger {
  var state: [String: String] = [:]

  mutating func apply(_ event: InformerEvent<ConfigMap>) {
    switch event {
    case .added(let object), .updated(_, let object): state[object.key] = object.metadata.resourceVersion
    case .deleted(let object): state.removeValue(forKey: object.key)
    case .synced: break
    }
  }
}

/// The server's view of the ConfigMaps of a namespace: key to resource version.
func serverState(_ client: KubernetesClient, namespace: String) async throws -> [String: String] {
  let list = try await client.listAll(ConfigMap.self, namespace: namespace)
  return Dictionary(uniqueKeysWithValues: list.items.map { ($0.key, $0.metadata.resourceVersion ?? "") })
}

/// Waits, event by event, until the ledger equals `expected`.
func waitUntilLedger(
  _ ledger: inout EventLedger, equals expected: [String: String],
  events iterator: inout AsyncStream<InformerEvent<ConfigMap>>.Iterator, within limit: Duration = .seconds(60)
) async throws {
  let deadline = ContinuousClock.now + limit
  while ledger.state != expected {
    guard ContinuousClock.now < deadline, let event = await iterator.next() else {
      Issue.record("the informer's events never reached the server's state")
      return
    }
    ledger.apply(event)
  }
}

@Suite(.serialized, .timeLimit(.minutes(4))) struct InformerIntegrationTests {
  @Test func aWatchCutManyTimesResumesAndMissesNoneOfAThousandChanges() async throws {
    try await ClusterFixtures.withAdmin { admin, cluster in
      let ns = try await ClusterFixtures.namespace(admin)
      let proxied = try await ProxiedClient.make(cluster)
      let informer = proxied.configMapInformer(namespace: ns)
      var events = informer.events().makeAsyncIterator()
      var ledger = EventLedger()

      try await withRunningServices([informer]) {
        await informer.waitUntilSynced()
        var cuts = 0
        for change in 0..<1000 {
          let name = "item-\(change % 100)"
          switch change % 10 {
          case 9:
            try? await admin.delete(ConfigMap.self, namespace: ns, name: name)
          default:
            var map = ConfigMap(name: name, namespace: ns)
            map.data = ["change": String(change)]
            do {
              _ = try await admin.create(map)
            } catch let error as KubernetesError where error.code == .alreadyExists {
              _ = try await admin.patch(
                ConfigMap.self, namespace: ns, name: name, .merge(["data": ["change": .string(String(change))]]))
            }
          }
          if change % 97 == 50 {
            proxied.proxy.dropAllConnections()
            cuts += 1
          }
        }
        let expected = try await serverState(admin, namespace: ns)
        try await waitUntilLedger(&ledger, equals: expected, events: &events)
        #expect(informer.store.mapValues { $0.metadata.resourceVersion ?? "" } == expected)
        #expect(cuts >= 10)
        #expect(informer.statistics.watches > cuts)
        #expect(informer.statistics.relistsAfterGone == 0)
        #expect(proxied.proxy.acceptedConnections > 1)
      }
      await proxied.close()
      try await admin.delete(Namespace.self, name: ns)
    }
  }

  @Test func aVersionCompactedAwayWhileDisconnectedLeadsToARelist() async throws {
    try await ClusterFixtures.withAdmin { admin, cluster in
      let etcd = try #require(cluster.etcdURL, "the test control plane did not report its etcd URL")
      let ns = try await ClusterFixtures.namespace(admin)
      for index in 0..<5 {
        _ = try await admin.create(ConfigMap(name: "before-\(index)", namespace: ns))
      }
      let proxied = try await ProxiedClient.make(cluster)
      let informer = proxied.configMapInformer(namespace: ns)
      var events = informer.events().makeAsyncIterator()
      var ledger = EventLedger()

      try await withRunningServices([informer]) {
        await informer.waitUntilSynced()
        proxied.proxy.refuseConnections = true
        proxied.proxy.dropAllConnections()

        try await admin.delete(ConfigMap.self, namespace: ns, name: "before-0")
        _ = try await admin.create(ConfigMap(name: "while-away", namespace: ns))
        _ = try await admin.patch(ConfigMap.self, namespace: ns, name: "before-1", .merge(["data": ["x": "y"]]))
        try await Etcd.compactToCurrentRevision(etcd)

        proxied.proxy.refuseConnections = false
        let expected = try await serverState(admin, namespace: ns)
        try await waitUntilLedger(&ledger, equals: expected, events: &events)
        #expect(informer.statistics.relistsAfterGone >= 1)
        #expect(informer.store.keys.sorted() == expected.keys.sorted())
      }
      await proxied.close()
      try await admin.delete(Namespace.self, name: ns)
    }
  }

  @Test func bookmarksAdvanceTheResumeVersionWhileNothingChanges() async throws {
    try await ClusterFixtures.withAdmin { admin, cluster in
      let quiet = try await ClusterFixtures.namespace(admin, prefix: "quiet")
      let busy = try await ClusterFixtures.namespace(admin, prefix: "busy")
      let start = try await admin.list(Secret.self, namespace: quiet)
      let startVersion = try #require(start.metadata.resourceVersion.flatMap { UInt64($0) })

      // The watch cache sends a bookmark two seconds before a watch's timeout, carrying the version of the last
      // Secret change it processed (in any namespace): changes to Secrets elsewhere move it on while the quiet
      // namespace sees none of them.
      let events = try await admin.watch(
        Secret.self, namespace: quiet, options: WatchOptions(resourceVersion: String(startVersion), timeoutSeconds: 4))
      for index in 0..<3 {
        _ = try await admin.create(Secret(name: "noise-\(index)", namespace: busy))
      }
      var bookmarks: [UInt64] = []
      for try await event in events {
        switch event {
        case .bookmark(let version): bookmarks.append(UInt64(version) ?? 0)
        case .added(let secret), .modified(let secret), .deleted(let secret):
          // The service-account token controller may write a token Secret into a new namespace.
          #expect(secret.metadata.namespace == quiet)
        }
      }
      #expect(!bookmarks.isEmpty)
      #expect((bookmarks.max() ?? 0) > startVersion)

      // An informer keeps the bookmark's version as its resume point.
      var configuration = InformerConfiguration<Secret>()
      configuration.watchTimeout = 3...3
      let informer = Informer<Secret>(
        client: admin, namespace: quiet, configuration: configuration, logger: Logger(label: "test"))
      try await withRunningServices([informer]) {
        await informer.waitUntilSynced()
        let synced = UInt64(informer.resourceVersion ?? "") ?? 0
        _ = try await admin.create(Secret(name: "more-noise", namespace: busy))
        try await eventually("a bookmark moved the informer's version on", within: .seconds(20)) {
          informer.statistics.bookmarks > 0 && (UInt64(informer.resourceVersion ?? "") ?? 0) > synced
        }
      }
      try await admin.delete(Namespace.self, name: quiet)
      try await admin.delete(Namespace.self, name: busy)
    }
  }
}

/// etcd's HTTP gateway, for forcing compactions.
enum Etcd {
  static func compactToCurrentRevision(_ url: String) async throws {
    let range = try await post(url + "/v3/kv/range", body: #"{"key":"AA=="}"#)
    let revision = try #require(range["header"]?["revision"]?.stringValue)
    _ = try await post(url + "/v3/kv/compaction", body: #"{"revision":"\#(revision)","physical":true}"#)
  }

  static func post(_ url: String, body: String) async throws -> JSONValue {
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    request.body = .bytes(ByteBuffer(string: body))
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
    let bytes = try await response.body.collect(upTo: 1 << 20)
    return try JSONCoding.decode(JSONValue.self, from: Data(buffer: bytes))
  }
}
