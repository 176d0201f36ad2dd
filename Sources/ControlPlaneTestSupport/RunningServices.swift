import ServiceLifecycle

/// Runs `services` in the background while `body` runs, then cancels them and waits for them to stop.
///
/// Errors a service throws after `body` finished (cancellation) are ignored; errors `body` throws propagate.
public func withRunningServices<Result: Sendable>(
  _ services: [any Service],
  _ body: () async throws -> Result
) async throws -> Result {
  try await withThrowingTaskGroup(of: Void.self) { group in
    for service in services {
      group.addTask { try? await service.run() }
    }
    defer { group.cancelAll() }
    return try await body()
  }
}
