import AsyncPrimitives

/// Exponential backoff with jitter, as a value: 0.8 s doubling to 30 s, reset once things have gone well for two
/// minutes. The caller passes the time and the randomness, so it is tested without sleeping.
public struct Backoff: Sendable, Hashable {
  public var initial: Duration
  public var maximum: Duration
  public var factor: Double
  /// Each delay is stretched by up to this fraction, at random.
  public var jitter: Double
  /// After this long without a failure, the next delay starts from `initial` again.
  public var resetAfter: Duration

  private var current: Duration?
  private var lastFailure: Duration?

  public init(
    initial: Duration = .milliseconds(800), maximum: Duration = .seconds(30), factor: Double = 2, jitter: Double = 0.2,
    resetAfter: Duration = .seconds(120)
  ) {
    self.initial = initial
    self.maximum = maximum
    self.factor = factor
    self.jitter = jitter
    self.resetAfter = resetAfter
  }

  /// The delay before the next attempt after a failure at `now` (time since any fixed origin); `random` in 0..<1.
  public mutating func next(now: Duration, random: Double) -> Duration {
    if let lastFailure, now - lastFailure >= resetAfter { current = nil }
    lastFailure = now
    let base = current.map { min(maximum, $0 * factor) } ?? initial
    current = base
    return base + base * (jitter * random)
  }

  /// Starts over from `initial`.
  public mutating func reset() {
    current = nil
    lastFailure = nil
  }
}

extension Backoff {
  /// Runs `attempt` until it succeeds, waiting this backoff's delays on `clock` between failures; `onFailure`
  /// hears each failure with the wait before the next try. Cancellation ends the waiting and throws.
  public func retrying<Value: Sendable>(
    on clock: any Clock<Duration> = ContinuousClock(),
    _ attempt: () async throws -> Value, onFailure: (any Error, Duration) -> Void
  ) async throws -> Value {
    var backoff = self
    let now = elapsedTime(on: clock)
    while true {
      do {
        return try await attempt()
      } catch {
        let delay = backoff.next(now: now(), random: .random(in: 0..<1))
        onFailure(error, delay)
        try await clock.sleep(for: delay)
      }
    }
  }
}
