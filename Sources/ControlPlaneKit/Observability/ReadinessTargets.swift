import Synchronization

/// The named things a process must have done before it is ready, as Dapr's healthz targets: `/healthz` answers
/// 200 only when every target is ready, and 503 naming the ones that are not.
public final class ReadinessTargets: Sendable {
  private let state: Mutex<(ready: [String: Bool], order: [String])>

  /// Starts with every target not ready.
  public init(_ names: [String]) {
    self.state = Mutex((Dictionary(uniqueKeysWithValues: names.map { ($0, false) }), names))
  }

  /// Adds a target that is not ready yet (a part of the process that is only known once its configuration is read).
  public func register(_ name: String) {
    state.withLock { state in
      guard state.ready[name] == nil else { return }
      state.ready[name] = false
      state.order.append(name)
    }
  }

  /// Marks `name` ready. Names that were not declared are a programming error.
  public func markReady(_ name: String) { set(name, true) }

  /// Marks `name` not ready again (a leader that lost its lease, a cache that must resync).
  public func markNotReady(_ name: String) { set(name, false) }

  /// The targets not ready yet, in declaration order.
  public var notReady: [String] {
    let state = state.withLock { $0 }
    return state.order.filter { state.ready[$0] != true }
  }

  /// True when every target is ready.
  public var isReady: Bool { notReady.isEmpty }

  private func set(_ name: String, _ ready: Bool) {
    state.withLock { state in
      precondition(state.ready[name] != nil, "unknown readiness target \(name)")
      state.ready[name] = ready
    }
  }
}
