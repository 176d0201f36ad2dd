/// A stopwatch on `clock`, started now: each call returns the time since. Drivers that take a clock (a manual one in
/// tests) measure their deadlines with it.
public func elapsedTime(on clock: any Clock<Duration>) -> @Sendable () -> Duration {
  func stopwatch<C: Clock<Duration>>(_ clock: C) -> @Sendable () -> Duration {
    let origin = clock.now
    return { origin.duration(to: clock.now) }
  }
  return stopwatch(clock)
}
