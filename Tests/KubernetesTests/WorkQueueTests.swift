import ControlPlaneTestSupport
import Kubernetes
import Synchronization
import Testing

/// The keyed work queue's rules, on a clock the test sets.
@Suite struct WorkQueueTests {
  /// One step of a scenario: an action at a time (milliseconds), and the key `next` returns then (if asked).
  enum Step {
    case add(String)
    case next(at: Int, expect: String?)
    case done(String, ReconcileResult, at: Int)
  }

  static let backoff = Backoff(initial: .milliseconds(100), maximum: .milliseconds(400), jitter: 0)

  @Test(arguments: [
    (
      "a key added many times before it runs runs once",
      [
        Step.add("a"), .add("a"), .add("b"), .add("a"), .next(at: 0, expect: "a"), .next(at: 0, expect: "b"),
        .next(at: 0, expect: nil),
      ]
    ),
    (
      "a key added while it runs runs again afterwards, never twice at once",
      [
        .add("a"), .next(at: 0, expect: "a"), .add("a"), .next(at: 0, expect: nil), .done("a", .done, at: 5),
        .next(at: 5, expect: "a"),
      ]
    ),
    (
      "a failed key comes back after its backoff: 100 ms, then 200, then 400 at most",
      [
        .add("a"), .next(at: 0, expect: "a"), .done("a", .failed, at: 0), .next(at: 99, expect: nil),
        .next(at: 100, expect: "a"), .done("a", .failed, at: 100), .next(at: 299, expect: nil),
        .next(at: 300, expect: "a"), .done("a", .failed, at: 300), .next(at: 700, expect: "a"),
        .done("a", .failed, at: 700), .next(at: 1099, expect: nil), .next(at: 1100, expect: "a"),
      ]
    ),
    (
      "a success resets the key's backoff",
      [
        .add("a"), .next(at: 0, expect: "a"), .done("a", .failed, at: 0), .next(at: 100, expect: "a"),
        .done("a", .done, at: 100), .add("a"), .next(at: 100, expect: "a"), .done("a", .failed, at: 100),
        .next(at: 199, expect: nil), .next(at: 200, expect: "a"),
      ]
    ),
    (
      "a requeue comes back after the time asked, and a change brings it sooner",
      [
        .add("a"), .next(at: 0, expect: "a"), .done("a", .requeue(after: .seconds(5)), at: 0),
        .next(at: 4999, expect: nil), .next(at: 5000, expect: "a"), .done("a", .requeue(after: .seconds(5)), at: 5000),
        .add("a"), .next(at: 5001, expect: "a"),
      ]
    ),
    (
      "one key's failures do not hold back another",
      [
        .add("a"), .add("b"), .next(at: 0, expect: "a"), .done("a", .failed, at: 0), .next(at: 0, expect: "b"),
        .done("b", .done, at: 0), .next(at: 50, expect: nil), .next(at: 100, expect: "a"),
      ]
    ),
  ])
  func theQueueFollowsItsRules(_ what: String, _ steps: [Step]) {
    var queue = WorkQueue<String>(backoff: Self.backoff)
    for (index, step) in steps.enumerated() {
      switch step {
      case .add(let key): queue.add(key)
      case .next(let at, let expected):
        #expect(queue.next(now: .milliseconds(at)) == expected, "\(what): step \(index)")
      case .done(let key, let result, let at): queue.done(key, result, now: .milliseconds(at), random: 0)
      }
    }
  }

  @Test func theNextDueTimeIsTheEarliestWaitingKey() {
    var queue = WorkQueue<String>(backoff: Self.backoff)
    #expect(queue.nextDue == nil)
    queue.add("a")
    queue.add("b")
    _ = queue.next(now: .zero)
    _ = queue.next(now: .zero)
    queue.done("a", .requeue(after: .seconds(3)), now: .zero, random: 0)
    queue.done("b", .failed, now: .zero, random: 0)
    #expect(queue.nextDue == .milliseconds(100))
    #expect(queue.count == 2)
  }
}

/// The loop around the queue, on a manual clock.
@Suite(.timeLimit(.minutes(1))) struct ReconcileLoopTests {
  @Test func aFailingKeyComesBackAfterItsGrowingBackoffOnTheClockWhileOthersAreReconciled() async throws {
    let clock = ManualClock()
    let attempts = Mutex<[String: Int]>([:])
    let (reconciled, report) = AsyncStream.makeStream(of: String.self)
    let loop = ReconcileLoop<String>(
      queue: WorkQueue(backoff: Backoff(initial: .seconds(1), maximum: .seconds(4), jitter: 0)), clock: clock
    ) { key in
      let attempt = attempts.withLock { counts in
        counts[key, default: 0] += 1
        return counts[key]!
      }
      report.yield("\(key) \(attempt)")
      // "flaky" fails twice (a 409, a 500), then succeeds.
      return key == "flaky" && attempt < 3 ? .failed : .done
    }
    let running = Task { await loop.run() }
    var seen = reconciled.makeAsyncIterator()
    loop.add("flaky")
    loop.add("steady")
    #expect(await seen.next() == "flaky 1")
    #expect(await seen.next() == "steady 1")

    // (how far to move the clock, whether "flaky" is tried again then)
    let steps: [(advance: Duration, retried: String?)] = [
      (.milliseconds(999), nil), (.milliseconds(1), "flaky 2"),
      (.milliseconds(1_999), nil), (.milliseconds(1), "flaky 3"),
    ]
    for step in steps {
      await clock.sleepers(atLeast: 1)
      clock.advance(by: step.advance)
      if let retried = step.retried {
        #expect(await seen.next() == retried)
      } else {
        // Not due yet: the loop's timer still sleeps.
        #expect(clock.sleeperCount == 1)
      }
    }
    running.cancel()
    await running.value
    #expect(attempts.withLock { $0 } == ["flaky": 3, "steady": 1])
    #expect(loop.count == 0)
  }
}

@Suite struct BackoffRetryingTests {
  @Test func retryingReportsEachFailureWithTheGrowingWaitAndReturnsTheFirstSuccess() async throws {
    let attempts = Mutex(0)
    let waits = Mutex<[Duration]>([])
    let value = try await Backoff(initial: .milliseconds(1), maximum: .milliseconds(4), jitter: 0).retrying {
      let attempt = attempts.withLock {
        $0 += 1
        return $0
      }
      if attempt < 4 { throw CancellationError() }
      return attempt
    } onFailure: { _, wait in
      waits.withLock { $0.append(wait) }
    }
    #expect(value == 4)
    #expect(waits.withLock { $0 } == [.milliseconds(1), .milliseconds(2), .milliseconds(4)])
  }
}
