import AsyncPrimitives
import Synchronization

/// Drives a ``WorkQueue``: informer events ``add(_:)`` keys, and one worker runs `reconcile` for each due key, then
/// files its ``ReconcileResult`` (done, requeue after a time, or failed with the key's backoff). Requeue times and
/// backoffs run on the injected clock, so a test moves them on in microseconds.
public final class ReconcileLoop<Key: Hashable & Sendable>: Sendable {
  private let queue: Mutex<WorkQueue<Key>>
  private let wakeUps: AsyncStream<Void>
  private let wake: AsyncStream<Void>.Continuation
  private let reconcile: @Sendable (Key) async -> ReconcileResult
  private let clock: any Clock<Duration>
  private let now: @Sendable () -> Duration

  public init(
    queue: WorkQueue<Key> = WorkQueue(), clock: any Clock<Duration> = ContinuousClock(),
    reconcile: @escaping @Sendable (Key) async -> ReconcileResult
  ) {
    self.queue = Mutex(queue)
    (wakeUps, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    self.reconcile = reconcile
    self.clock = clock
    now = elapsedTime(on: clock)
  }

  /// Something about `key` changed.
  public func add(_ key: Key) {
    queue.withLock { $0.add(key) }
    wake.yield()
  }

  /// How many keys are ready, waiting or being processed.
  public var count: Int { queue.withLock { $0.count } }

  /// Reconciles due keys, one at a time, until cancelled.
  public func run() async {
    var iterator = wakeUps.makeAsyncIterator()
    while !Task.isCancelled {
      while let key = queue.withLock({ $0.next(now: now()) }) {
        let result = await reconcile(key)
        queue.withLock { $0.done(key, result, now: now(), random: Double.random(in: 0..<1)) }
        if Task.isCancelled { return }
      }
      // Nothing due: wait for an added key or the next due time, whichever comes first.
      let due = queue.withLock { $0.nextDue }
      let timer = due.map { due in
        Task { [clock, now, wake] in
          try? await clock.sleep(for: max(.zero, due - now()))
          if !Task.isCancelled { wake.yield() }
        }
      }
      let woken: Void? = await iterator.next()
      timer?.cancel()
      if woken == nil { return }
    }
  }

  /// Stops ``run()`` once the current reconcile ends.
  public func finish() { wake.finish() }
}
