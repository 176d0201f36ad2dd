/// What a reconcile of one key asks for next.
public enum ReconcileResult: Sendable, Hashable {
  /// Done until the key changes again.
  case done
  /// Look again after this long, even if nothing changes (a poll, a pending condition).
  case requeue(after: Duration)
  /// It failed: try again after the key's backoff, which grows with each failure in a row.
  case failed
}

/// A keyed work queue as client-go's and kube-rs's controllers keep one, as a value: a key added many times before
/// it is processed is processed once; a key added while it is being processed is processed again afterwards, never
/// twice at once; a failed key comes back after its own exponential backoff, reset by a success. Time is passed in
/// (a `Duration` since any fixed origin) and so is randomness, so every rule is tested without sleeping;
/// ``ReconcileLoop`` drives it.
public struct WorkQueue<Key: Hashable & Sendable>: Sendable {
  /// Keys ready now, in the order they became ready.
  private var ready: [Key] = []
  private var readySet: Set<Key> = []
  /// Keys waiting for a time: a requeue or a backoff.
  private var waiting: [Key: Duration] = [:]
  /// Keys being reconciled now.
  private var processing: Set<Key> = []
  /// Keys added while being reconciled: they go again once done.
  private var dirty: Set<Key> = []
  private var backoffs: [Key: Backoff] = [:]
  private let backoff: Backoff

  public init(backoff: Backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(30))) {
    self.backoff = backoff
  }

  /// Something about `key` changed: reconcile it as soon as possible (once, however often it is added).
  public mutating func add(_ key: Key) {
    if processing.contains(key) {
      dirty.insert(key)
      return
    }
    waiting[key] = nil
    if readySet.insert(key).inserted { ready.append(key) }
  }

  /// Reconcile `key` at `time`, unless it is due sooner already.
  mutating func add(_ key: Key, at time: Duration) {
    if readySet.contains(key) { return }
    if let existing = waiting[key], existing <= time { return }
    waiting[key] = time
  }

  /// The next key to reconcile at `now`, marked as being processed; nil when none is due.
  public mutating func next(now: Duration) -> Key? {
    for (key, time) in waiting where time <= now && !processing.contains(key) {
      waiting[key] = nil
      if readySet.insert(key).inserted { ready.append(key) }
    }
    guard let index = ready.firstIndex(where: { !processing.contains($0) }) else { return nil }
    let key = ready.remove(at: index)
    readySet.remove(key)
    processing.insert(key)
    return key
  }

  /// `key`'s reconcile ended with `result` at `now`; `random` in 0..<1 spreads backoffs.
  public mutating func done(_ key: Key, _ result: ReconcileResult, now: Duration, random: Double) {
    processing.remove(key)
    switch result {
    case .done:
      backoffs[key] = nil
    case .requeue(let delay):
      backoffs[key] = nil
      add(key, at: now + delay)
    case .failed:
      var keyBackoff = backoffs[key] ?? backoff
      let delay = keyBackoff.next(now: now, random: random)
      backoffs[key] = keyBackoff
      add(key, at: now + delay)
    }
    if dirty.remove(key) != nil { add(key) }
  }

  /// When the next waiting key falls due (nil: none waits); a driver sleeps until then or until a key is added.
  public var nextDue: Duration? { waiting.values.min() }

  /// Whether a key is ready now (not counting waiting ones).
  public var hasReady: Bool { ready.contains { !processing.contains($0) } }

  /// How many keys are ready, waiting or being processed.
  public var count: Int { readySet.union(waiting.keys).union(processing).count }
}
