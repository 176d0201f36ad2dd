/// Polls `condition` every 50 ms until it holds, for state that a system reaches on its own (a CRD becoming
/// established, a cache syncing). Prefer waiting for an event where one exists. Throws `EventuallyTimeout` naming
/// `what` (evaluated then, so it can report the state at the timeout) when `limit` passes.
public func eventually(
  _ what: @autoclosure () -> String, within limit: Duration = .seconds(30), _ condition: () async throws -> Bool
) async throws {
  let deadline = ContinuousClock.now + limit
  while ContinuousClock.now < deadline {
    if (try? await condition()) == true { return }
    try await Task.sleep(for: .milliseconds(50))
  }
  throw EventuallyTimeout(what: what())
}

/// `eventually` gave up.
public struct EventuallyTimeout: Error, CustomStringConvertible {
  public let what: String
  public var description: String { "timed out waiting until \(what)" }
}
