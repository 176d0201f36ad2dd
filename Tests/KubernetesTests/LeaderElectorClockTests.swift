import ControlPlaneTestSupport
import Foundation
import Kubernetes
import Logging
import Synchronization
import Testing

/// The API server as one elector reaches it, until the test cuts it off: a leader partitioned from the API server
/// (or frozen) that can neither renew nor release its lease.
final class PartitionableStore: ObjectReading, ObjectWriting {
  let store: FakeObjectStore
  private let cut = Mutex(false)

  init(_ store: FakeObjectStore) { self.store = store }

  func cutOff() { cut.withLock { $0 = true } }

  private func check() throws(KubernetesError) {
    if cut.withLock({ $0 }) { throw KubernetesError(code: .unreachable, message: "partitioned from the API server") }
  }

  func get<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String?, name: String
  ) async throws(KubernetesError) -> Object {
    try check()
    return try await store.get(type, namespace: namespace, name: name)
  }

  func create<Object: KubernetesObject>(_ object: Object) async throws(KubernetesError) -> Object {
    try check()
    return try await store.create(object)
  }

  func update<Object: KubernetesObject>(_ object: Object) async throws(KubernetesError) -> Object {
    try check()
    return try await store.update(object)
  }

  func patch<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String?, name: String, _ patch: Patch, fieldManager: String?, force: Bool
  ) async throws(KubernetesError) -> Object {
    try check()
    return try await store.patch(
      type, namespace: namespace, name: name, patch, fieldManager: fieldManager, force: force)
  }

  func delete<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String?, name: String, resourceVersion: String?, propagationPolicy: String?
  ) async throws(KubernetesError) {
    try check()
    try await store.delete(
      type, namespace: namespace, name: name, resourceVersion: resourceVersion, propagationPolicy: propagationPolicy)
  }
}

/// Lease expiry on a manual clock, with client-go's timings (a 15 s lease, renewed within 10 s, retried every 2 s),
/// in well under a second of real time.
@Suite struct LeaderElectorClockTests {
  static let step = Duration.milliseconds(100)

  @Test func aLeaderCutOffStepsDownAtItsRenewDeadlineAndTheOtherLeadsOnlyOnceTheLeaseHasExpired() async throws {
    let clock = ManualClock()
    let store = FakeObjectStore()
    let toA = PartitionableStore(store)
    let logger = Logger(label: "dapr.test")
    // The lease's timestamps come from the same clock: real time hardly moves while the test runs.
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    let wallClock: @Sendable () -> Date = {
      let (seconds, attoseconds) = clock.now.offset.components
      return start + Double(seconds) + Double(attoseconds) / 1e18
    }
    let a = LeaderElector(
      client: toA, leaseName: "dapr-placement-server", namespace: "dapr-system", identity: "a", logger: logger,
      clock: clock, wallClock: wallClock)
    let b = LeaderElector(
      client: store, leaseName: "dapr-placement-server", namespace: "dapr-system", identity: "b", logger: logger,
      clock: clock, wallClock: wallClock)
    let runningA = Task { try await a.run() }
    defer { runningA.cancel() }
    // The first candidate takes the free lease at once, before the clock moves.
    for await leading in a.isLeader.updates(includingCurrent: true) where leading { break }
    let runningB = Task { try await b.run() }
    defer { runningB.cancel() }

    /// Advances the clock a step at a time, each once both electors are in their pause between attempts (due within
    /// a retry period, unlike the 10 s deadline of a call in flight), until `until` holds or `limit` has passed;
    /// never may both lead. Returns the clock's reading when `until` first held.
    func advance(for limit: Duration, until: () -> Bool = { false }) async -> Duration? {
      let end = clock.now.offset + limit
      while clock.now.offset < end {
        await clock.sleepers(atLeast: 2, dueWithin: .seconds(3))
        #expect(!(a.isLeader.current && b.isLeader.current), "two leaders at \(clock.now)")
        if until() { return clock.now.offset }
        clock.advance(by: Self.step)
      }
      return nil
    }

    // Ten seconds of renewals: the leader stays, the other waits.
    #expect(await advance(for: .seconds(10), until: { b.isLeader.current || !a.isLeader.current }) == nil)
    let cut = clock.now.offset
    toA.cutOff()
    // Its last renewal was at most one retry period (2 s) before the cut; it steps down 10 s after that renewal, at
    // the first check after the deadline.
    let steppedDown = try #require(await advance(for: .seconds(20), until: { !a.isLeader.current }))
    #expect(
      steppedDown - cut >= .seconds(8) && steppedDown - cut <= .milliseconds(12_500),
      "stepped down \(steppedDown - cut) after the cut")
    #expect(!b.isLeader.current, "the lease has not expired yet")
    // The other candidate takes the lease 15 s after it last saw it change, never sooner.
    let taken = try #require(await advance(for: .seconds(20), until: { b.isLeader.current }))
    #expect(taken - cut >= .seconds(13) && taken - cut <= .milliseconds(17_800), "taken \(taken - cut) after the cut")
    #expect(
      try await store.get(Lease.self, namespace: "dapr-system", name: "dapr-placement-server").spec.holderIdentity
        == "b")
  }
}
