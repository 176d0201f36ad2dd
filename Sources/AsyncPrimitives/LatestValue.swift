import Synchronization

/// Holds the latest value of something that changes at run time (a trust bundle, an SVID, leadership) and tells
/// every subscriber about each change.
///
/// Readers on hot paths call ``current``; services that must react to changes iterate ``updates()``. Subscribers
/// never block the writer: each one gets the newest value, older unread ones are dropped.
public final class LatestValue<Value: Sendable>: Sendable {
  private struct State {
    var value: Value
    var subscribers: [Int: AsyncStream<Value>.Continuation] = [:]
    var nextSubscriber = 0
  }

  private let state: Mutex<State>

  /// Starts with `initial`.
  public init(_ initial: Value) {
    self.state = Mutex(State(value: initial))
  }

  /// The value now.
  public var current: Value { state.withLock { $0.value } }

  /// Replaces the value and notifies every subscriber.
  public func set(_ value: Value) {
    let subscribers = state.withLock { state in
      state.value = value
      return Array(state.subscribers.values)
    }
    for subscriber in subscribers { subscriber.yield(value) }
  }

  /// The values set after this call (and, with `includingCurrent`, the value now first); a subscriber that falls
  /// behind gets the newest value only.
  public func updates(includingCurrent: Bool = false) -> AsyncStream<Value> {
    let (stream, continuation) = AsyncStream.makeStream(of: Value.self, bufferingPolicy: .bufferingNewest(1))
    let id = state.withLock { state in
      let id = state.nextSubscriber
      state.nextSubscriber += 1
      state.subscribers[id] = continuation
      if includingCurrent { continuation.yield(state.value) }
      return id
    }
    continuation.onTermination = { [weak self] _ in
      _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
    }
    return stream
  }

  /// Ends every subscriber's stream.
  public func finish() {
    let subscribers = state.withLock { state in
      defer { state.subscribers = [:] }
      return Array(state.subscribers.values)
    }
    for subscriber in subscribers { subscriber.finish() }
  }
}
