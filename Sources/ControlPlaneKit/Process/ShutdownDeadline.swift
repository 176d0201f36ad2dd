import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Ends the process when a stop that has begun (SIGTERM, or a failed service cancelling the rest) has not finished
/// within `limit`: a task that does not answer cancellation (a loop retrying an API server that is gone) must not keep
/// a stopped process alive, spending CPU, as the sidecar simulator did after its test's API server was torn down.
/// The log line names the services that had not returned, so the one that ignores cancellation is found from it.
/// The deadline runs on a thread of its own, so it fires even when every cooperative thread is busy.
struct ShutdownDeadline: Service {
  let limit: Duration
  let unstopped: UnstoppedServices
  let logger: Logger

  func run() async throws {
    // Returns when the stop begins (graceful shutdown, or cancellation of the group).
    try? await gracefulShutdown()
    let (limit, unstopped, logger) = (limit, unstopped, logger)
    Thread.detachNewThread {
      Thread.sleep(forTimeInterval: TimeInterval(limit.components.seconds))
      logger.error("\(Self.message(limit: limit, unstopped: unstopped.names))")
      exit(1)
    }
  }

  static func message(limit: Duration, unstopped: [String]) -> String {
    let running = unstopped.isEmpty ? "" : " (still running: \(unstopped.joined(separator: ", ")))"
    return "The process did not stop within \(limit) of being asked to\(running); exiting"
  }
}

/// The services of a process that have started and not yet returned, by type name: what ``ShutdownDeadline`` names
/// when a stop hangs.
final class UnstoppedServices: Sendable {
  private let running = Mutex<[Int: String]>([:])
  private let nextID = Atomic(0)

  /// The names of the services running now, sorted.
  var names: [String] { running.withLock { $0.values.sorted() } }

  /// `service`, reporting here while it runs.
  func tracking(_ service: any Service) -> any Service {
    let name = String(describing: type(of: service)).prefix { $0 != "<" }
    return Tracked(name: String(name), base: service, tracker: self)
  }

  private struct Tracked: Service {
    let name: String
    let base: any Service
    let tracker: UnstoppedServices

    func run() async throws {
      let id = tracker.nextID.add(1, ordering: .relaxed).newValue
      tracker.running.withLock { $0[id] = name }
      defer { _ = tracker.running.withLock { $0.removeValue(forKey: id) } }
      try await base.run()
    }
  }
}
