import Foundation
import Logging
import ServiceLifecycle

/// Ends the process when a stop that has begun (SIGTERM, or a failed service cancelling the rest) has not finished
/// within `limit`: a task that does not answer cancellation (a loop retrying an API server that is gone) must not keep
/// a stopped process alive, spending CPU, as the sidecar simulator did after its test's API server was torn down.
/// The deadline runs on a thread of its own, so it fires even when every cooperative thread is busy.
struct ShutdownDeadline: Service {
  let limit: Duration
  let logger: Logger

  func run() async throws {
    // Returns when the stop begins (graceful shutdown, or cancellation of the group).
    try? await gracefulShutdown()
    let (limit, logger) = (limit, logger)
    Thread.detachNewThread {
      Thread.sleep(forTimeInterval: TimeInterval(limit.components.seconds))
      logger.error("The process did not stop within \(limit) of being asked to; exiting")
      exit(1)
    }
  }
}
