import ControlPlaneTestSupport
import Kubernetes
import Logging
import Testing

/// The informer on the in-memory API server: lists in pages, watches, resumes, backs off on its own clock and lists
/// again after a 410, in milliseconds and without sleeping. `InformerIntegrationTests` runs it against the real API
/// server.
@Suite(.timeLimit(.minutes(1)))
struct InformerTests {
  let store = FakeObjectStore()
  let clock = ManualClock()

  func informer(pageSize: Int? = 500) -> Informer<ConfigMap> {
    var configuration = InformerConfiguration<ConfigMap>()
    configuration.pageSize = pageSize
    return Informer(
      client: store, namespace: "shop", configuration: configuration, clock: clock, logger: Logger(label: "test"))
  }

  func seed(_ names: String..., namespace: String = "shop") {
    for name in names { store.seed(ConfigMap(name: name, namespace: namespace)) }
  }

  /// Runs `informer` while `body` looks at it; stops it afterwards.
  func running(
    _ informer: Informer<ConfigMap>,
    _ body: (inout AsyncStream<InformerEvent<ConfigMap>>.Iterator) async throws -> Void
  ) async throws {
    var events = informer.events().makeAsyncIterator()
    let task = Task { try await informer.run() }
    defer { task.cancel() }
    try await body(&events)
  }

  func next(_ count: Int, of events: inout AsyncStream<InformerEvent<ConfigMap>>.Iterator) async -> [String] {
    var seen: [String] = []
    while seen.count < count, let event = await events.next() {
      switch event {
      case .added(let map): seen.append("added \(map.metadata.name ?? "")")
      case .updated(_, let map): seen.append("updated \(map.metadata.name ?? "")")
      case .deleted(let map): seen.append("deleted \(map.metadata.name ?? "")")
      case .synced: seen.append("synced")
      }
    }
    return seen
  }

  func calls(_ verb: String) -> Int { store.log.count { $0.hasPrefix("\(verb) ") } }

  @Test func anInformerListsInPagesThenReportsEachWriteInOrder() async throws {
    seed("a", "b", "c", "d", "e")
    seed("elsewhere", namespace: "other")
    let informer = informer(pageSize: 2)
    try await running(informer) { events in
      #expect(await next(6, of: &events) == ["added a", "added b", "added c", "added d", "added e", "synced"])
      #expect(calls("list") == 3)
      await store.waitUntil { store.watchCount == 1 }

      var changed = try #require(store.stored(ConfigMap.self, namespace: "shop", name: "a"))
      changed.data = ["color": "blue"]
      _ = try await store.update(changed)
      _ = try await store.create(ConfigMap(name: "f", namespace: "shop"))
      _ = try await store.create(ConfigMap(name: "ignored", namespace: "other"))
      try await store.delete(ConfigMap.self, namespace: "shop", name: "b", resourceVersion: nil, propagationPolicy: nil)

      #expect(await next(3, of: &events) == ["updated a", "added f", "deleted b"])
      #expect(informer.store.keys.sorted() == ["shop/a", "shop/c", "shop/d", "shop/e", "shop/f"])
      #expect(informer.get(namespace: "shop", name: "a")?.data == ["color": "blue"])
      // The delete was the last write, so the informer reflects the store's current version.
      let current = try await store.listAll(ConfigMap.self, namespace: nil, options: ListOptions())
      #expect(informer.resourceVersion == current.metadata.resourceVersion)
    }
  }

  @Test func aWatchTheServerEndedResumesFromItsVersionWithoutListingAgain() async throws {
    seed("a")
    let informer = informer()
    try await running(informer) { events in
      #expect(await next(2, of: &events) == ["added a", "synced"])
      await store.waitUntil { store.watchCount == 1 }
      _ = try await store.create(ConfigMap(name: "b", namespace: "shop"))
      #expect(await next(1, of: &events) == ["added b"])

      store.endWatches()
      await store.waitUntil { store.watchCount == 1 }
      _ = try await store.create(ConfigMap(name: "c", namespace: "shop"))

      #expect(await next(1, of: &events) == ["added c"])
      #expect(calls("list") == 1)
      #expect(calls("watch") == 2)
      #expect(informer.statistics.failures == 0)
    }
  }

  @Test func aBrokenWatchWaitsOutItsBackoffOnTheClockThenListsAgainWhenItsVersionIsGone() async throws {
    seed("a", "b")
    let informer = informer()
    try await running(informer) { events in
      #expect(await next(3, of: &events) == ["added a", "added b", "synced"])
      await store.waitUntil { store.watchCount == 1 }

      store.breakWatches(with: .internalError)
      await clock.sleepers(atLeast: 1)
      // While the informer waits, the object changes and the server forgets the history it would have replayed.
      _ = try await store.create(ConfigMap(name: "late", namespace: "shop"))
      try await store.delete(ConfigMap.self, namespace: "shop", name: "a", resourceVersion: nil, propagationPolicy: nil)
      store.compact()
      #expect(calls("watch") == 1)
      #expect(informer.store.keys.sorted() == ["shop/a", "shop/b"])

      // The first backoff is 0.8 s plus up to 20%.
      clock.advance(by: .milliseconds(960))

      #expect(await next(2, of: &events) == ["added late", "deleted a"])
      #expect(informer.store.keys.sorted() == ["shop/b", "shop/late"])
      #expect(calls("list") == 2)
      #expect(informer.statistics.relistsAfterGone == 1)
      #expect(informer.statistics.failures == 1)
    }
  }

  @Test func aFailingListIsRetriedAfterAGrowingBackoffAndTheInformerSyncsThen() async throws {
    seed("a")
    store.fail(.list, with: .internalError, times: 2)
    let informer = informer()
    try await running(informer) { events in
      await clock.sleepers(atLeast: 1)
      #expect(!informer.hasSynced)
      clock.advance(by: .milliseconds(960))

      // The second delay doubles: 1.6 s plus up to 20%, so 1.5 s is not enough.
      await store.waitUntil { calls("list") == 2 }
      await clock.sleepers(atLeast: 1)
      clock.advance(by: .milliseconds(1_500))
      #expect(clock.sleeperCount == 1)
      #expect(calls("list") == 2)
      clock.advance(by: .milliseconds(500))

      #expect(await next(2, of: &events) == ["added a", "synced"])
      #expect(calls("list") == 3)
      #expect(informer.statistics.failures == 2)
    }
  }
}
