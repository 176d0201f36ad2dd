import ControlPlaneKit
import Foundation
import Kubernetes
import Logging
import Synchronization

/// Records Warning Events on Dapr resources, so that `kubectl describe component` says why sidecars do not get one.
///
/// - The same warning about the same object (its `key`) is recorded at most once per `interval` (ten minutes), not on
///   every list that meets the broken resource.
/// - Events wait in a queue of `capacity` that one task (``run()``) drains. When the API server is slow, a burst of
///   warnings drops the oldest waiting ones (counted in ``dropped``) instead of piling up tasks or memory.
final class EventRecorder: Sendable {
  /// What a warning is about: the involved object as the informer holds it.
  struct Warning: Sendable {
    var object: JSONValue
    var reason: String
    var message: String
  }

  private let client: any ObjectWriting
  private let interval: Duration
  private let elapsed: @Sendable () -> Duration
  private let wallClock: @Sendable () -> Date
  private let logger: Logger
  private let queue: AsyncStream<Warning>
  private let enqueue: AsyncStream<Warning>.Continuation
  /// When each key was last recorded, on `elapsed`'s scale.
  private let recorded = Mutex<[String: Duration]>([:])
  private let droppedCount = Mutex(0)

  init(
    client: any ObjectWriting, capacity: Int = 100, interval: Duration = .seconds(600),
    clock: any Clock<Duration> = ContinuousClock(), wallClock: @escaping @Sendable () -> Date = { Date() },
    logger: Logger
  ) {
    self.client = client
    self.interval = interval
    elapsed = elapsedTime(on: clock)
    self.wallClock = wallClock
    self.logger = logger
    (queue, enqueue) = AsyncStream.makeStream(of: Warning.self, bufferingPolicy: .bufferingNewest(capacity))
  }

  /// Warnings dropped because the queue was full.
  var dropped: Int { droppedCount.withLock { $0 } }

  /// Queues a Warning Event about `object` unless one with `key` was recorded within the interval; true when queued.
  @discardableResult
  func warn(about object: JSONValue, key: String, reason: String, message: String) -> Bool {
    let now = elapsed()
    let due = recorded.withLock { recorded in
      if let last = recorded[key], now - last < interval { return false }
      recorded[key] = now
      return true
    }
    guard due else { return false }
    if case .dropped = enqueue.yield(Warning(object: object, reason: reason, message: message)) {
      droppedCount.withLock { $0 += 1 }
      logger.warning("Too many Events waiting to be recorded; dropped the oldest")
    }
    return true
  }

  /// Writes the queued Events, one at a time, until ``finish()`` or cancellation.
  func run() async {
    for await warning in queue {
      guard let event = event(for: warning) else { continue }
      do {
        _ = try await client.create(event)
      } catch {
        let name = event.involvedObject.name ?? ""
        logger.warning("Cannot record an Event for \(event.metadata.namespace ?? "")/\(name): \(error)")
      }
    }
  }

  func finish() { enqueue.finish() }

  /// The Event for `warning`, as Kubernetes' own recorders write it; nil for an object without a name.
  func event(for warning: Warning) -> Event? {
    let metadata = warning.object["metadata"]
    guard let namespace = metadata?["namespace"]?.stringValue, let name = metadata?["name"]?.stringValue else {
      return nil
    }
    let timestamp = ISO8601DateFormatter().string(from: wallClock())
    var event = Event(name: "\(name).\(UInt32.random(in: 0...UInt32.max))", namespace: namespace)
    event.json["involvedObject"] = [
      "apiVersion": warning.object["apiVersion"] ?? "dapr.io/v1alpha1", "kind": warning.object["kind"] ?? "Component",
      "name": .string(name), "namespace": .string(namespace), "uid": .string(metadata?["uid"]?.stringValue ?? ""),
    ]
    event.reason = warning.reason
    event.message = warning.message
    event.type = "Warning"
    event.count = 1
    event.firstTimestamp = timestamp
    event.lastTimestamp = timestamp
    event.source = ["component": "dapr-operator"]
    return event
  }
}
