import Kubernetes
import Testing

typealias Machine = ReflectorStateMachine<ConfigMap>

func configMap(_ name: String, version: String, data: String = "") -> ConfigMap {
  var map = ConfigMap(name: name, namespace: "default")
  map.metadata.resourceVersion = version
  map.data = ["v": data]
  return map
}

func page(_ items: [ConfigMap], version: String, continue next: String? = nil) -> KubernetesList<ConfigMap> {
  var meta = ListMeta()
  meta.resourceVersion = version
  meta.continue = next
  return KubernetesList(items: items, metadata: meta)
}

/// A short form of events, for comparisons.
func describe(_ events: [InformerEvent<ConfigMap>]) -> [String] {
  events.map { event in
    switch event {
    case .added(let object): "added \(object.metadata.name ?? "")@\(object.metadata.resourceVersion ?? "")"
    case .updated(let old, let new):
      "updated \(new.metadata.name ?? "")@\(old.metadata.resourceVersion ?? "")->\(new.metadata.resourceVersion ?? "")"
    case .deleted(let object): "deleted \(object.metadata.name ?? "")"
    case .synced: "synced"
    }
  }
}

@Suite struct ReflectorStateMachineTests {
  @Test func itListsThenWatchesFromTheListsVersionAndReportsSyncedOnce() {
    var machine = Machine()
    #expect(machine.handle(.start, now: .zero, random: 0).next == .list(continueToken: nil))
    let (next, events) = machine.handle(
      .listed(page([configMap("a", version: "3")], version: "10")), now: .zero, random: 0)
    #expect(next == .watch(resourceVersion: "10"))
    #expect(describe(events) == ["added a@3", "synced"])
    #expect(machine.hasSynced)
    #expect(machine.store.keys.sorted() == ["default/a"])
  }

  @Test func pagesAreAccumulatedBeforeTheStoreIsReplaced() {
    var machine = Machine()
    _ = machine.handle(.start, now: .zero, random: 0)
    let first = machine.handle(
      .listed(page([configMap("a", version: "1")], version: "", continue: "t1")), now: .zero, random: 0)
    #expect(first.next == .list(continueToken: "t1"))
    #expect(first.events.isEmpty)
    #expect(machine.store.isEmpty)
    let last = machine.handle(.listed(page([configMap("b", version: "2")], version: "20")), now: .zero, random: 0)
    #expect(last.next == .watch(resourceVersion: "20"))
    #expect(describe(last.events) == ["added a@1", "added b@2", "synced"])
  }

  @Test func watchEventsUpdateTheStoreAndTheResumeVersion() {
    var machine = Machine()
    _ = machine.handle(.start, now: .zero, random: 0)
    _ = machine.handle(.listed(page([configMap("a", version: "3")], version: "10")), now: .zero, random: 0)

    let steps: [(WatchEvent<ConfigMap>, [String], String)] = [
      (.added(configMap("b", version: "11")), ["added b@11"], "11"),
      (.modified(configMap("a", version: "12", data: "x")), ["updated a@3->12"], "12"),
      (.modified(configMap("a", version: "12", data: "x")), [], "12"),
      (.deleted(configMap("b", version: "13")), ["deleted b"], "13"),
      (.bookmark(resourceVersion: "40"), [], "40"),
      (.modified(configMap("c", version: "41")), ["added c@41"], "41"),
    ]
    for (event, expected, version) in steps {
      let (next, events) = machine.handle(.watchEvent(event), now: .zero, random: 0)
      #expect(next == nil)
      #expect(describe(events) == expected)
      #expect(machine.resourceVersion == version)
    }
    #expect(machine.store.keys.sorted() == ["default/a", "default/c"])
    #expect(machine.statistics.bookmarks == 1)
  }

  @Test func aWatchThatEndsIsResumedAtOnceFromTheLastVersion() {
    var machine = Machine()
    _ = machine.handle(.start, now: .zero, random: 0)
    _ = machine.handle(.listed(page([], version: "10")), now: .zero, random: 0)
    _ = machine.handle(.watchEvent(.added(configMap("a", version: "15"))), now: .zero, random: 0)
    #expect(machine.handle(.watchEnded, now: .zero, random: 0).next == .watch(resourceVersion: "15"))
  }

  @Test func aBrokenWatchBacksOffThenResumesFromTheLastVersion() {
    var machine = Machine(backoff: Backoff(jitter: 0))
    _ = machine.handle(.start, now: .zero, random: 0)
    _ = machine.handle(.listed(page([], version: "10")), now: .zero, random: 0)
    let failure = KubernetesError(code: .unreachable, message: "connection reset")
    #expect(machine.handle(.watchFailed(failure), now: .seconds(1), random: 0).next == .wait(.milliseconds(800)))
    #expect(machine.handle(.waited, now: .seconds(2), random: 0).next == .watch(resourceVersion: "10"))
    #expect(machine.handle(.watchFailed(failure), now: .seconds(3), random: 0).next == .wait(.milliseconds(1600)))
  }

  @Test func aGoneWatchListsAgainAndReportsTheDifferences() {
    var machine = Machine()
    _ = machine.handle(.start, now: .zero, random: 0)
    _ = machine.handle(
      .listed(page([configMap("a", version: "1"), configMap("b", version: "2")], version: "10")), now: .zero, random: 0)
    let gone = KubernetesError(code: .gone, message: "too old resource version")
    #expect(machine.handle(.watchFailed(gone), now: .zero, random: 0).next == .list(continueToken: nil))
    let relisted = machine.handle(
      .listed(page([configMap("a", version: "5"), configMap("c", version: "6")], version: "30")), now: .zero, random: 0)
    #expect(relisted.next == .watch(resourceVersion: "30"))
    #expect(Set(describe(relisted.events)) == ["updated a@1->5", "added c@6", "deleted b"])
    #expect(machine.statistics.relistsAfterGone == 1)
  }

  @Test func aFailedListIsRetriedWithBackoff() {
    var machine = Machine(backoff: Backoff(jitter: 0))
    _ = machine.handle(.start, now: .zero, random: 0)
    let failure = KubernetesError(code: .notFound, message: "the server could not find the requested resource")
    #expect(machine.handle(.listFailed(failure), now: .zero, random: 0).next == .wait(.milliseconds(800)))
    #expect(machine.handle(.waited, now: .seconds(1), random: 0).next == .list(continueToken: nil))
    #expect(!machine.hasSynced)
  }

  @Test func inputsThatDoNotBelongToTheCurrentStateChangeNothing() {
    var machine = Machine()
    _ = machine.handle(.start, now: .zero, random: 0)
    let late = machine.handle(.watchEvent(.added(configMap("x", version: "1"))), now: .zero, random: 0)
    #expect(late.next == nil)
    #expect(late.events.isEmpty)
    #expect(machine.store.isEmpty)
  }
}

@Suite struct BackoffTests {
  @Test func delaysDoubleFromEightHundredMillisecondsUpToThirtySeconds() {
    var backoff = Backoff(jitter: 0)
    let delays = (0..<8).map { backoff.next(now: .seconds($0), random: 0) }
    #expect(
      delays == [
        .milliseconds(800), .milliseconds(1600), .milliseconds(3200), .milliseconds(6400), .milliseconds(12800),
        .milliseconds(25600), .seconds(30), .seconds(30),
      ])
  }

  @Test func jitterStretchesADelayByAtMostItsFraction() {
    var low = Backoff(jitter: 0.2)
    var high = Backoff(jitter: 0.2)
    #expect(low.next(now: .zero, random: 0) == .milliseconds(800))
    #expect(high.next(now: .zero, random: 0.999) < .milliseconds(961))
    #expect(high.next(now: .zero, random: 0.999) > .milliseconds(1600))
  }

  @Test func twoQuietMinutesResetTheDelay() {
    var backoff = Backoff(jitter: 0)
    _ = backoff.next(now: .seconds(0), random: 0)
    _ = backoff.next(now: .seconds(1), random: 0)
    #expect(backoff.next(now: .seconds(2), random: 0) == .milliseconds(3200))
    #expect(backoff.next(now: .seconds(200), random: 0) == .milliseconds(800))
  }
}

@Suite struct LeaderElectionStateMachineTests {
  let timings = LeaderElectionTimings(
    leaseDuration: .seconds(15), renewDeadline: .seconds(10), retryPeriod: .seconds(2))

  @Test func aFreeOrMissingLeaseIsClaimed() {
    var machine = LeaderElectionStateMachine(identity: "a", timings: timings)
    #expect(
      machine.observe(holder: nil, renewTime: nil, leaseDurationSeconds: nil, now: .zero) == .claim(transition: true))
    #expect(
      machine.observe(holder: "", renewTime: "t", leaseDurationSeconds: 1, now: .zero) == .claim(transition: true))
  }

  @Test func anotherHoldersLeaseIsTakenOnlyAfterItHasNotChangedForALeaseDuration() {
    var machine = LeaderElectionStateMachine(identity: "b", timings: timings)
    #expect(machine.observe(holder: "a", renewTime: "t1", leaseDurationSeconds: 15, now: .seconds(100)) == .wait)
    #expect(machine.observe(holder: "a", renewTime: "t1", leaseDurationSeconds: 15, now: .seconds(114)) == .wait)
    // A renewal restarts the clock, whatever the renewTime says.
    #expect(machine.observe(holder: "a", renewTime: "t2", leaseDurationSeconds: 15, now: .seconds(114)) == .wait)
    #expect(machine.observe(holder: "a", renewTime: "t2", leaseDurationSeconds: 15, now: .seconds(128)) == .wait)
    #expect(
      machine.observe(holder: "a", renewTime: "t2", leaseDurationSeconds: 15, now: .seconds(129))
        == .claim(transition: true))
  }

  @Test func aFollowerLooksAgainWhenTheLeaseItSawExpiresRatherThanAFullRetryLater() {
    var machine = LeaderElectionStateMachine(identity: "b", timings: timings)
    _ = machine.observe(holder: "a", renewTime: "t1", leaseDurationSeconds: 15, now: .seconds(100))
    #expect(machine.followerPause(now: .seconds(101), retry: .seconds(2)) == .seconds(2))
    #expect(machine.followerPause(now: .seconds(114), retry: .seconds(2)) == .seconds(1))
    #expect(machine.followerPause(now: .seconds(116), retry: .seconds(2)) == .milliseconds(10))
  }

  @Test func itsOwnLeaseIsRenewedWithoutATransition() {
    var machine = LeaderElectionStateMachine(identity: "a", timings: timings)
    #expect(
      machine.observe(holder: "a", renewTime: "t", leaseDurationSeconds: 15, now: .zero) == .claim(transition: false))
  }

  @Test func aLeaderThatCannotRenewStepsDownBeforeItsLeaseCanBeTaken() {
    var machine = LeaderElectionStateMachine(identity: "a", timings: timings)
    machine.claimSucceeded(sentAt: .seconds(10), renewTime: "t")
    #expect(machine.isLeader)
    #expect(!machine.mustStepDown(now: .seconds(19)))
    #expect(machine.renewalBudget(now: .seconds(15)) == .seconds(5))
    #expect(machine.mustStepDown(now: .seconds(20)))
    // Another candidate that saw the renewal no earlier than it was sent may take over only at 25 s.
    #expect(timings.renewDeadline < timings.leaseDuration)
    machine.steppedDown()
    #expect(!machine.isLeader)
  }
}
