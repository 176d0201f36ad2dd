import DaprProto
import Placement
import Testing

typealias Action = NamespaceDissemination.Action

func makeHost(
  _ name: String, id: String? = nil, namespace: String = "default", types: [String] = [],
  operation: Dapr_Proto_Placement_V1_HostOperation = .report, version: UInt64? = nil
) -> PlacementHost {
  var host = PlacementHost()
  host.name = name
  host.id = id ?? "app-\(name)"
  host.namespace = namespace
  host.entities = types
  host.operation = operation
  host.apiLevel = 20
  if let version { host.version = version }
  return host
}

/// The orders in `actions`, as (operation, version, streams).
func orders(_ actions: [Action]) -> [String] {
  actions.compactMap {
    if case .send(let order, let ids) = $0 { return "\(order.operation) v\(order.version) -> \(ids)" }
    return nil
  }
}

@Suite struct DisseminationRoundTests {
  /// A namespace with `count` actor hosts (streams 1...count) that all joined one round, now in its LOCK phase.
  static func lockedNamespace(count: Int, coalesce: Bool = true) -> NamespaceDissemination {
    var machine = NamespaceDissemination(settings: .init(replicationFactor: 10, coalesces: coalesce))
    for id in 1...count {
      _ = machine.connected(StreamID(id), report: makeHost("10.0.0.\(id):50002", types: ["A"]))
    }
    let actions = machine.coalesceWindowEnded()
    #expect(orders(actions) == ["lock v1 -> \(Array(1...StreamID(count)))"])
    return machine
  }

  @Test func theFirstRoundIsLockThenUpdateThenUnlockEachAfterItsAcknowledgement() throws {
    var machine = NamespaceDissemination(settings: .init(replicationFactor: 7))
    let start = machine.connected(1, report: makeHost("10.0.0.1:50002", id: "app1", types: ["B", "A"]))
    #expect(start == [.roundStarted(version: 1), .send(.lock(version: 1), to: [1])])

    let update = machine.acknowledged(1, operation: .lock, version: 1)
    #expect(orders(update) == ["update v1 -> [1]"])
    guard case .send(.update(_, let tables), _) = update.first else { throw Failure("no UPDATE") }
    #expect(tables.version == "1")
    #expect(tables.replicationFactor == 7)
    #expect(tables.entries.keys.sorted() == ["A", "B"])
    let entry = try #require(tables.entries["A"]?.loadMap["10.0.0.1:50002"])
    #expect(entry.name == "10.0.0.1:50002" && entry.id == "app1")
    #expect(entry.entities.isEmpty, "daprd does not read the entity list of a load-map entry")

    #expect(orders(machine.acknowledged(1, operation: .update, version: 1)) == ["unlock v1 -> [1]"])
    #expect(machine.acknowledged(1, operation: .unlock, version: 1) == [.roundCompleted(version: 1)])
    #expect(machine.phase == .idle)
    #expect(machine.storedHosts.map(\.entities) == [["A", "B"]])
  }

  @Test func noUpdateIsSentBeforeEveryLockAcknowledgementNorUnlockBeforeEveryUpdateAcknowledgement() {
    var machine = Self.lockedNamespace(count: 3)
    #expect(machine.acknowledged(1, operation: .lock, version: 1).isEmpty)
    #expect(machine.acknowledged(2, operation: .lock, version: 1).isEmpty)
    #expect(orders(machine.acknowledged(3, operation: .lock, version: 1)) == ["update v1 -> [1, 2, 3]"])
    #expect(machine.acknowledged(3, operation: .update, version: 1).isEmpty)
    #expect(machine.acknowledged(1, operation: .update, version: 1).isEmpty)
    #expect(orders(machine.acknowledged(2, operation: .update, version: 1)) == ["unlock v1 -> [1, 2, 3]"])
  }

  @Test(
    "Acknowledgements that are stale, for another phase, repeated or from strangers change nothing",
    arguments: [
      (StreamID(1), Dapr_Proto_Placement_V1_HostOperation.lock, UInt64?(0)),
      (1, .update, 1), (1, .unlock, 1), (9, .lock, 1), (2, .lock, 7),
    ])
  func ignoredAcknowledgements(id: StreamID, operation: Dapr_Proto_Placement_V1_HostOperation, version: UInt64?) {
    var machine = Self.lockedNamespace(count: 2)
    #expect(machine.acknowledged(id, operation: operation, version: version).isEmpty)
    #expect(machine.awaitedStreams == [1, 2])
  }

  @Test func aStaleAcknowledgementAfterAPreemptionIsIgnored() {
    var machine = Self.lockedNamespace(count: 2)
    _ = machine.reported(1, host: makeHost("10.0.0.1:50002", types: ["A", "B"]))
    #expect(machine.version == 2)
    #expect(machine.acknowledged(2, operation: .lock, version: 1).isEmpty)
    #expect(machine.awaitedStreams == [1, 2])
  }

  @Test func anUnknownAcknowledgementFromAnOldSidecarCountsForTheCurrentPhase() {
    var machine = Self.lockedNamespace(count: 1)
    #expect(orders(machine.acknowledged(1, operation: .unknown, version: nil)) == ["update v1 -> [1]"])
  }

  @Test func aStoreChangingReportMidRoundPreemptsIt() {
    var machine = Self.lockedNamespace(count: 2)
    _ = machine.acknowledged(1, operation: .lock, version: 1)
    let actions = machine.reported(2, host: makeHost("10.0.0.2:50002", types: ["A", "C"]))
    #expect(actions.first == .roundStarted(version: 2))
    #expect(orders(actions) == ["lock v2 -> [1, 2]"])
    #expect(machine.phase == .lock && machine.awaitedStreams == [1, 2])
  }

  @Test func aReportThatChangesNothingStartsNoRound() {
    var machine = Self.lockedNamespace(count: 1)
    // The same types in another order.
    #expect(machine.reported(1, host: makeHost("10.0.0.1:50002", types: ["A"])).isEmpty)
    #expect(machine.version == 1)
  }

  @Test func aNeverAcknowledgingStreamIsKickedAtTheTimeoutWhileTheOthersComplete() {
    var machine = Self.lockedNamespace(count: 3)
    _ = machine.acknowledged(1, operation: .lock, version: 1)
    _ = machine.acknowledged(2, operation: .lock, version: 1)
    #expect(machine.timeoutFired(version: 0).isEmpty, "a timer of an older round does nothing")
    let actions = machine.timeoutFired(version: 1)
    #expect(actions.first == .kick([3], version: 1))
    #expect(orders(actions) == ["lock v2 -> [1, 2]"])
    _ = machine.acknowledged(1, operation: .lock, version: 2)
    _ = machine.acknowledged(2, operation: .lock, version: 2)
    _ = machine.acknowledged(1, operation: .update, version: 2)
    _ = machine.acknowledged(2, operation: .update, version: 2)
    _ = machine.acknowledged(1, operation: .unlock, version: 2)
    #expect(machine.acknowledged(2, operation: .unlock, version: 2) == [.roundCompleted(version: 2)])
    #expect(machine.storedHosts.map(\.name) == ["10.0.0.1:50002", "10.0.0.2:50002"])
  }

  @Test func aStreamClosingMidRoundDoesNotStallItAndItsRemovalFollows() {
    var machine = Self.lockedNamespace(count: 2)
    _ = machine.acknowledged(1, operation: .lock, version: 1)
    #expect(orders(machine.closed(2)) == ["update v1 -> [1]"])
    _ = machine.acknowledged(1, operation: .update, version: 1)
    let end = machine.acknowledged(1, operation: .unlock, version: 1)
    // The closed host leaves the store in one more round (after the coalescing window this namespace uses).
    #expect(end == [.roundCompleted(version: 1), .armCoalesceTimer])
    #expect(orders(machine.coalesceWindowEnded()) == ["lock v2 -> [1]"])
    #expect(machine.storedHosts.map(\.name) == ["10.0.0.1:50002"])
  }

  @Test func fiftyConnectsInsideTheCoalescingWindowMakeOneRound() {
    var machine = NamespaceDissemination(settings: .init(coalesces: true))
    var actions: [Action] = []
    for id in 1...50 {
      actions += machine.connected(StreamID(id), report: makeHost("10.0.1.\(id):50002", types: ["A"]))
    }
    #expect(actions == [.armCoalesceTimer])
    let round = machine.coalesceWindowEnded()
    #expect(round.filter { if case .roundStarted = $0 { true } else { false } } == [.roundStarted(version: 1)])
    #expect(orders(round) == ["lock v1 -> \(Array(1...StreamID(50)))"])
  }

  @Test func withoutCoalescingConnectsDuringARoundJoinTheNextRoundTogether() {
    var machine = NamespaceDissemination(settings: .init())
    _ = machine.connected(1, report: makeHost("10.0.0.1:50002", types: ["A"]))
    for id in 2...50 {
      #expect(machine.connected(StreamID(id), report: makeHost("10.0.1.\(id):50002", types: ["A"])).isEmpty)
    }
    _ = machine.acknowledged(1, operation: .lock, version: 1)
    _ = machine.acknowledged(1, operation: .update, version: 1)
    let next = machine.acknowledged(1, operation: .unlock, version: 1)
    #expect(orders(next) == ["lock v2 -> \(Array(1...StreamID(50)))"])
  }

  @Test func aSidecarWithoutActorTypesGetsAPrivatePushAndChangesNoVersion() {
    var machine = Self.lockedNamespace(count: 1)
    _ = machine.acknowledged(1, operation: .lock, version: 1)
    _ = machine.acknowledged(1, operation: .update, version: 1)
    _ = machine.acknowledged(1, operation: .unlock, version: 1)
    let push = machine.connected(7, report: makeHost("10.0.0.7:50002"))
    #expect(orders(push) == ["lock v1 -> [7]", "update v1 -> [7]", "unlock v1 -> [7]"])
    #expect(machine.version == 1 && machine.phase == .idle)
    // Its acknowledgements are ignored; it is not stored.
    #expect(machine.acknowledged(7, operation: .lock, version: 1).isEmpty)
    #expect(machine.storedHosts.count == 1)
    #expect(machine.closed(7).isEmpty)
  }

  @Test func sidecarsWithoutActorTypesReceiveEveryOrderButAreNeverAwaited() {
    var machine = NamespaceDissemination(settings: .init())
    _ = machine.connected(1, report: makeHost("10.0.0.1:50002"))
    let round = machine.connected(2, report: makeHost("10.0.0.2:50002", types: ["A"]))
    #expect(orders(round) == ["lock v1 -> [1, 2]"])
    #expect(machine.awaitedStreams == [2])
    #expect(orders(machine.acknowledged(2, operation: .lock, version: 1)) == ["update v1 -> [1, 2]"])
  }

  @Test func tablesOverTheLimitAreNotSentAndTheLastGoodTablesStay() {
    var machine = NamespaceDissemination(settings: .init(maximumTableBytes: 200))
    _ = machine.connected(1, report: makeHost("10.0.0.1:50002", types: ["A"]))
    for phase in [Dapr_Proto_Placement_V1_HostOperation.lock, .update, .unlock] {
      _ = machine.acknowledged(1, operation: phase, version: 1)
    }
    let types = (0..<20).map { "actor-type-with-a-long-name-\($0)" }
    let actions = machine.connected(2, report: makeHost("10.0.0.2:50002", types: types))
    guard case .tablesTooLarge(let version, let bytes) = actions.first else {
      Issue.record("expected a refusal, got \(actions)")
      return
    }
    #expect(version == 2 && bytes > 200)
    #expect(machine.version == 1 && machine.tables.entries.keys.sorted() == ["A"])
  }

  @Test func theNamespaceIsEmptyOnceItsLastStreamCloses() {
    var machine = Self.lockedNamespace(count: 2)
    _ = machine.closed(1)
    _ = machine.closed(2)
    #expect(machine.isEmpty && machine.streamCount == 0)
  }
}

struct Failure: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
