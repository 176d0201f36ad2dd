/// Polls `condition` every 50 ms until it holds, for state that a system reaches on its own (a CRD becoming
/// established, a cache syncing). Prefer waiting for an event where one exists. Throws `EventuallyTimeout` naming
/// `what` (evaluated then, so it can report the state at the timeout) when `limit` passes.
public func eventually(
  _ what: @autoclosure () -> String, within limit: Duration = .seconds(30), _ condition: () async throws -> Bool
) async throws {
  let deadline = ContinuousClock.now + limit
  // The condition is asked once more after the deadline: a process stalled past it (a slow key generation holding
  // the cooperative threads) gets a last look rather than a timeout for the stall alone.
  while true {
    if (try? await condition()) == true { return }
    guard ContinuousClock.now < deadline else { throw EventuallyTimeout(what: what()) }
    try await Task.sleep(for: .milliseconds(50))
  }
}

/// `eventually` gave up.
public struct EventuallyTimeout: Error, CustomStringConvertible {
  public let what: String
  public var description: String { "timed out waiting until \(what)" }
}
