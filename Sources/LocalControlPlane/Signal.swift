/// A one-shot signal a background task can fire and a test can await (for example "the server is listening on
/// port N"), so that tests synchronise on events rather than sleeps.
public final class Signal<Value: Sendable>: Sendable {
  private let stream: AsyncStream<Value>
  private let continuation: AsyncStream<Value>.Continuation

  public init() {
    (stream, continuation) = AsyncStream.makeStream(of: Value.self, bufferingPolicy: .bufferingOldest(1))
  }

  /// Fires the signal; later calls are ignored.
  public func fire(_ value: Value) {
    continuation.yield(value)
    continuation.finish()
  }

  /// The value, once fired. Throws `CancellationError` if the waiting task is cancelled first.
  public func value() async throws -> Value {
    for await value in stream { return value }
    throw CancellationError()
  }
}
