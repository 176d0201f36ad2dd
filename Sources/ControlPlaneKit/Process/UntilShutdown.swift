import ServiceLifecycle

/// Runs `operation` (typically an endless loop) until the task is cancelled or its service group shuts down,
/// and returns normally in both cases, so that a graceful SIGTERM ends the process with status 0.
///
/// Errors other than cancellation propagate.
public func untilShutdown(_ operation: @escaping @Sendable () async throws -> Void) async throws {
  do {
    try await cancelWhenGracefulShutdown(operation)
  } catch is CancellationError {
    return
  }
}
