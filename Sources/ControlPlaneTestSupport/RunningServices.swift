import ServiceLifecycle
import Synchronization

/// Runs `services` in the background while `body` runs, then cancels them and waits for them to stop.
///
/// Errors a service throws after `body` finished (cancellation) are ignored. When `body` throws after a service
/// failed, the error says so: a wait that timed out names the server that could not start, not only the wait.
public func withRunningServices<Result: Sendable>(
  _ services: [any Service],
  _ body: () async throws -> Result
) async throws -> Result {
  let failures = ServiceFailures()
  return try await withThrowingTaskGroup(of: Void.self) { group in
    for service in services {
      group.addTask {
        do {
          try await service.run()
        } catch  where !Task.isCancelled {
          failures.record("\(type(of: service)) failed: \(error)")
        } catch {}
      }
    }
    defer { group.cancelAll() }
    do {
      return try await body()
    } catch {
      let failed = failures.all
      if failed.isEmpty { throw error }
      throw ServicesFailed(error: error, failures: failed)
    }
  }
}

/// The body's error, with the services that had failed before it.
public struct ServicesFailed: Error, CustomStringConvertible {
  public let error: any Error
  public let failures: [String]
  public var description: String { "\(error) (meanwhile \(failures.joined(separator: "; ")))" }
}

private final class ServiceFailures: Sendable {
  private let failures = Mutex<[String]>([])
  func record(_ failure: String) { failures.withLock { $0.append(failure) } }
  var all: [String] { failures.withLock { $0 } }
}
