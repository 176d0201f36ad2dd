import ControlPlaneTestSupport
import Foundation
import Kubernetes
import Logging
import Testing

@testable import Operator
@testable import OperatorCore

/// Warning Events through the recorder's bounded queue, on the in-memory fake and a manual clock.
@Suite struct EventRecorderTests {
  static func component(_ name: String) -> JSONValue {
    [
      "apiVersion": "dapr.io/v1alpha1", "kind": "Component",
      "metadata": ["name": .string(name), "namespace": "shop", "uid": .string("uid-\(name)")],
    ]
  }

  static func recorder(
    _ store: FakeObjectStore, clock: ManualClock = ManualClock(), capacity: Int = 100
  )
    -> EventRecorder
  {
    EventRecorder(
      client: store, capacity: capacity, clock: clock, wallClock: { Date(timeIntervalSince1970: 1_800_000_000) },
      logger: Logger(label: "dapr.operator.test"))
  }

  /// Lets the recorder write everything queued so far, then returns the Events stored.
  static func drained(_ recorder: EventRecorder, _ store: FakeObjectStore) async -> [Event] {
    recorder.finish()
    await recorder.run()
    return store.list(Event.self)
  }

  @Test func aWarningBecomesAWarningEventOnTheResourceAsKubectlDescribeShowsIt() async throws {
    let store = FakeObjectStore()
    let recorder = Self.recorder(store)
    #expect(recorder.warn(about: Self.component("broken"), key: "k", reason: "SecretNotFound", message: "no Secret"))
    let events = await Self.drained(recorder, store)
    let event = try #require(events.first)
    #expect(events.count == 1)
    #expect(event.metadata.namespace == "shop")
    #expect(event.type == "Warning" && event.reason == "SecretNotFound" && event.message == "no Secret")
    #expect(event.involvedObject.kind == "Component" && event.involvedObject.name == "broken")
    #expect(event.involvedObject.uid == "uid-broken")
    #expect(event.firstTimestamp == "2027-01-15T08:00:00Z")
  }

  @Test func theSameWarningIsRecordedOnceInTenMinutesOnTheClock() async throws {
    let store = FakeObjectStore()
    let clock = ManualClock()
    let recorder = Self.recorder(store, clock: clock)
    let broken = Self.component("broken")
    // (clock advance before the warning, key, whether it is recorded)
    let steps: [(advance: Duration, key: String, recorded: Bool)] = [
      (.zero, "broken/db-password", true),
      (.seconds(1), "broken/db-password", false),
      (.seconds(1), "broken/api-key", true),
      (.seconds(597), "broken/db-password", false),
      (.seconds(1), "broken/db-password", true),
    ]
    for (advance, key, recorded) in steps {
      clock.advance(by: advance)
      #expect(
        recorder.warn(about: broken, key: key, reason: "SecretNotFound", message: key) == recorded,
        "\(key) at \(clock.now)")
    }
    let events = await Self.drained(recorder, store)
    #expect(events.compactMap(\.message).sorted() == ["broken/api-key", "broken/db-password", "broken/db-password"])
  }

  @Test func aFullQueueDropsTheOldestWarningsAndCountsThem() async throws {
    let store = FakeObjectStore()
    let recorder = Self.recorder(store, capacity: 2)
    for index in 1...5 {
      recorder.warn(
        about: Self.component("c\(index)"), key: "c\(index)", reason: "SecretNotFound", message: "c\(index)")
    }
    #expect(recorder.dropped == 3)
    let events = await Self.drained(recorder, store)
    #expect(events.compactMap(\.message).sorted() == ["c4", "c5"])
  }

  @Test func anEventTheAPIServerRefusesIsLoggedAndTheNextIsStillWritten() async throws {
    let store = FakeObjectStore()
    store.fail(.create, with: .forbidden)
    let recorder = Self.recorder(store)
    recorder.warn(about: Self.component("a"), key: "a", reason: "SecretNotFound", message: "a")
    recorder.warn(about: Self.component("b"), key: "b", reason: "SecretNotFound", message: "b")
    let events = await Self.drained(recorder, store)
    #expect(events.compactMap(\.message) == ["b"])
    #expect(store.log.filter { $0.hasPrefix("create events shop/") }.count == 2)
  }
}
