import ControlPlaneKit
import ControlPlaneTestSupport
import DaprProto
import GRPCCore
import Logging
import Placement
import Testing

/// The hub's timers on a manual clock: placement's 8 s dissemination timeout, tested in milliseconds of real time.
@Suite struct PlacementHubClockTests {
  static func makeHub(clock: ManualClock, timeout: Duration = .seconds(8), coalesce: Duration = .zero) -> PlacementHub {
    PlacementHub(
      configuration: .init(replicationFactor: 10, disseminateTimeout: timeout, coalesceWindow: coalesce),
      requirePeer: false, metrics: PlacementMetrics(registry: MetricsRegistry(includeProcessMetrics: false)),
      logger: Logger(label: "dapr.placement.test"), clock: clock)
  }

  /// The next thing the hub tells a stream: an order's operation and version, or how the stream was ended.
  static func next(_ iterator: inout AsyncStream<PlacementHub.Outbound>.Iterator) async throws -> String {
    switch await iterator.next() {
    case .order(let encoded):
      let order = try Dapr_Proto_Placement_V1_PlacementOrder(serializedBytes: encoded.bytes)
      return "\(order.operation) v\(order.version)"
    case .end(let status):
      return "end \(status.code): \(status.message)"
    case nil:
      return "finished"
    }
  }

  @Test func aSidecarThatNeverAcknowledgesIsEndedWhenTheTimeoutHasPassedOnTheClockAndNotBefore() async throws {
    let clock = ManualClock()
    let hub = Self.makeHub(clock: clock)
    let timers = Task { await hub.runTimers() }
    defer { timers.cancel() }
    let (good, goodOrders) = hub.open(peer: nil)
    let (stuck, stuckOrders) = hub.open(peer: nil)
    var goodIterator = goodOrders.makeAsyncIterator()
    var stuckIterator = stuckOrders.makeAsyncIterator()

    try hub.receive(good, makeHost("10.0.0.1:50002", types: ["T"]))
    #expect(try await Self.next(&goodIterator) == "lock v1")
    try hub.receive(good, makeHost("10.0.0.1:50002", types: ["T"], operation: .lock, version: 1))
    #expect(try await Self.next(&goodIterator) == "update v1")
    try hub.receive(good, makeHost("10.0.0.1:50002", types: ["T"], operation: .update, version: 1))
    #expect(try await Self.next(&goodIterator) == "unlock v1")
    try hub.receive(good, makeHost("10.0.0.1:50002", types: ["T"], operation: .unlock, version: 1))

    // The second host joins: a new round, whose LOCK it never acknowledges.
    try hub.receive(stuck, makeHost("10.0.0.2:50002", types: ["T"]))
    #expect(try await Self.next(&goodIterator) == "lock v2")
    #expect(try await Self.next(&stuckIterator) == "lock v2")
    try hub.receive(good, makeHost("10.0.0.1:50002", types: ["T"], operation: .lock, version: 2))

    await clock.sleepers(atLeast: 2)  // both rounds' timers, armed at the same instant; the first round is over
    clock.advance(by: .milliseconds(7_999))
    #expect(clock.sleeperCount == 2, "no timer fires before the timeout")
    clock.advance(by: .milliseconds(1))
    #expect(try await Self.next(&stuckIterator) == "end deadlineExceeded: dissemination timeout after 8s for version 2")
    #expect(try await Self.next(&stuckIterator) == "finished")
    // The survivor finishes a round of its own.
    #expect(try await Self.next(&goodIterator) == "lock v3")
    #expect(hub.snapshot()["default"]?.hosts.map(\.name) == ["10.0.0.1:50002"])
  }

  @Test func joinsWithinTheCoalescingWindowMakeOneRoundWhenTheWindowEndsOnTheClock() async throws {
    let clock = ManualClock()
    let hub = Self.makeHub(clock: clock, coalesce: .milliseconds(500))
    let timers = Task { await hub.runTimers() }
    defer { timers.cancel() }
    let (first, firstOrders) = hub.open(peer: nil)
    let (second, _) = hub.open(peer: nil)
    var iterator = firstOrders.makeAsyncIterator()
    try hub.receive(first, makeHost("10.0.0.1:50002", types: ["T"]))
    try hub.receive(second, makeHost("10.0.0.2:50002", types: ["T"]))
    await clock.sleepers(atLeast: 1)
    clock.advance(by: .milliseconds(499))
    #expect(hub.snapshot()["default"]?.version == 0, "no round before the window ends")
    clock.advance(by: .milliseconds(1))
    #expect(try await Self.next(&iterator) == "lock v1")
    #expect(hub.snapshot()["default"]?.version == 1)
  }
}
