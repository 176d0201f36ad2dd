import Synchronization

/// A clock that moves only when a test says so, for drivers that take a clock (placement's round timeout, SVID
/// renewal, lease expiry): a test advances it by seconds in microseconds of real time, and waits for the driver to
/// be asleep on it (``sleepers(atLeast:)``) instead of sleeping itself.
///
/// Sleepers whose deadline is reached are woken in deadline order; a cancelled sleeper throws `CancellationError`
/// at once, as `ContinuousClock`'s do.
public final class ManualClock: Clock, Sendable {
  public struct Instant: InstantProtocol, CustomStringConvertible {
    /// Time since the clock was made.
    public var offset: Duration

    public init(offset: Duration) { self.offset = offset }

    public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
    public func duration(to other: Instant) -> Duration { other.offset - offset }
    public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    public var description: String { "\(offset)" }
  }

  private struct Sleeper {
    let deadline: Instant
    let continuation: CheckedContinuation<Void, any Error>
  }

  private struct Waiter {
    let count: Int
    let window: Duration?
    let continuation: CheckedContinuation<Void, Never>
  }

  private struct State {
    var now = Instant(offset: .zero)
    var sleepers: [UInt64: Sleeper] = [:]
    /// Sleepers cancelled before they were registered.
    var cancelledEarly: Set<UInt64> = []
    var nextID: UInt64 = 0
    var waiters: [Waiter] = []

    /// How many sleepers are due within `window` from now (all of them when nil).
    func sleeperCount(dueWithin window: Duration?) -> Int {
      guard let window else { return sleepers.count }
      let limit = now.advanced(by: window)
      return sleepers.values.count { $0.deadline <= limit }
    }

    /// The waiters whose count of sleepers is reached; removed.
    mutating func satisfiedWaiters() -> [CheckedContinuation<Void, Never>] {
      var (ready, waiting): ([CheckedContinuation<Void, Never>], [Waiter]) = ([], [])
      for waiter in waiters {
        if sleeperCount(dueWithin: waiter.window) >= waiter.count {
          ready.append(waiter.continuation)
        } else {
          waiting.append(waiter)
        }
      }
      waiters = waiting
      return ready
    }
  }

  private let state = Mutex(State())

  public init() {}

  public var now: Instant { state.withLock { $0.now } }

  public var minimumResolution: Duration { .zero }

  /// How many tasks are asleep on this clock.
  public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

  public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
    try Task.checkCancellation()
    let id = state.withLock { state in
      state.nextID += 1
      return state.nextID
    }
    try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        let (resume, waiters) = state.withLock {
          state -> (Result<Void, any Error>?, [CheckedContinuation<Void, Never>]) in
          if state.cancelledEarly.remove(id) != nil { return (.failure(CancellationError()), []) }
          if deadline <= state.now { return (.success(()), []) }
          state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
          return (nil, state.satisfiedWaiters())
        }
        if let resume { continuation.resume(with: resume) }
        for waiter in waiters { waiter.resume() }
      }
    } onCancel: {
      let sleeper = state.withLock { state -> Sleeper? in
        guard let sleeper = state.sleepers.removeValue(forKey: id) else {
          state.cancelledEarly.insert(id)
          return nil
        }
        return sleeper
      }
      sleeper?.continuation.resume(throwing: CancellationError())
    }
  }

  /// Moves the clock on by `duration` and wakes every sleeper whose deadline is reached, earliest first.
  public func advance(by duration: Duration) {
    let due = state.withLock { state -> [Sleeper] in
      state.now = state.now.advanced(by: duration)
      let now = state.now
      let due = state.sleepers.filter { $0.value.deadline <= now }
      for id in due.keys { state.sleepers.removeValue(forKey: id) }
      return due.values.sorted { $0.deadline < $1.deadline }
    }
    for sleeper in due { sleeper.continuation.resume() }
  }

  /// Returns once at least `count` tasks are asleep on this clock: the event a test waits for before advancing it.
  ///
  /// With `window`, only sleepers due within it from now count. A driver's own pause (a retry period) is then told
  /// apart from a deadline armed around a call in flight, which is due much later and gone once the call returns.
  public func sleepers(atLeast count: Int, dueWithin window: Duration? = nil) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let ready = state.withLock { state -> Bool in
        if state.sleeperCount(dueWithin: window) >= count { return true }
        state.waiters.append(Waiter(count: count, window: window, continuation: continuation))
        return false
      }
      if ready { continuation.resume() }
    }
  }
}
