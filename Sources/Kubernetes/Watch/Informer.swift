import AsyncPrimitives
import Logging
import ServiceLifecycle
import Synchronization

/// How an informer lists and watches.
public struct InformerConfiguration<Object: KubernetesObject>: Sendable {
  /// Page size of lists (`nil`: one page).
  public var pageSize: Int? = 500
  /// Each watch asks the server to end it after a random time in this range, as client-go does.
  public var watchTimeout: ClosedRange<Int> = 300...600
  public var backoff = Backoff()
  public var labelSelector: String?
  public var fieldSelector: String?
  /// Applied to every object before it enters the store (keep only the fields a consumer reads, to save memory).
  public var transform: (@Sendable (Object) -> Object)?

  public init() {}
}

/// Keeps an in-memory copy of a collection current (list, then watch, resume, relist on 410, back off) and tells
/// subscribers about every change. Run it as a `Service`.
public final class Informer<Object: KubernetesObject>: ServiceLifecycle.Service, Sendable {
  public let namespace: String?
  private let client: any ObjectWatching
  private let clock: any Clock<Duration>
  private let configuration: InformerConfiguration<Object>
  private let logger: Logger
  private let machine: Mutex<ReflectorStateMachine<Object>>
  private let subscribers = Mutex<[Int: AsyncStream<InformerEvent<Object>>.Continuation]>([:])
  private let nextSubscriber = Atomic<Int>(0)
  private let synced = LatestValue(false)

  /// An informer of `Object`s in `namespace` (`nil`: all namespaces), listing and watching through `client` (the
  /// API server, or a fake in tests) and backing off on `clock`.
  public init(
    client: any ObjectWatching, namespace: String? = nil,
    configuration: InformerConfiguration<Object> = InformerConfiguration(),
    clock: any Clock<Duration> = ContinuousClock(), logger: Logger
  ) {
    self.client = client
    self.clock = clock
    self.namespace = namespace
    self.configuration = configuration
    self.logger = logger
    self.machine = Mutex(ReflectorStateMachine(backoff: configuration.backoff))
  }

  // === Reading ===

  /// The objects, keyed `namespace/name`.
  public var store: [String: Object] { machine.withLock { $0.store } }

  /// One object.
  public func get(namespace: String?, name: String) -> Object? {
    let key = namespace.map { "\($0)/\(name)" } ?? name
    return machine.withLock { $0.store[key] }
  }

  /// The version the store reflects.
  public var resourceVersion: String? { machine.withLock { $0.resourceVersion } }

  public var hasSynced: Bool { machine.withLock { $0.hasSynced } }

  public var statistics: ReflectorStateMachine<Object>.Statistics { machine.withLock { $0.statistics } }

  /// Returns once the first full list is in the store.
  public func waitUntilSynced() async {
    for await isSynced in synced.updates(includingCurrent: true) where isSynced { return }
  }

  /// Every change from now on, in order. The stream buffers without bound, so a slow reader never slows the
  /// informer; readers that can fall behind must bound their own work.
  public func events() -> AsyncStream<InformerEvent<Object>> {
    let (stream, continuation) = AsyncStream.makeStream(of: InformerEvent<Object>.self)
    let id = nextSubscriber.add(1, ordering: .relaxed).newValue
    subscribers.withLock { $0[id] = continuation }
    continuation.onTermination = { [weak self] _ in
      _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
    }
    return stream
  }

  // === Running ===

  public func run() async throws {
    defer {
      // Finishing a stream runs its termination handler, which takes the lock again: finish outside it.
      let remaining = subscribers.withLock { subscribers in
        defer { subscribers.removeAll() }
        return Array(subscribers.values)
      }
      for subscriber in remaining { subscriber.finish() }
    }
    do {
      try await cancelWhenGracefulShutdown { [self] in
        let now = elapsedTime(on: clock)
        var action = step(.start, now: now())
        while let current = action {
          action = try await perform(current, now: now)
        }
      }
    } catch is CancellationError {
      return
    }
  }

  private func perform(
    _ action: ReflectorStateMachine<Object>.Action, now: @Sendable () -> Duration
  ) async throws
    -> ReflectorStateMachine<Object>.Action?
  {
    switch action {
    case .list(let continueToken):
      let options = ListOptions(
        labelSelector: configuration.labelSelector, fieldSelector: configuration.fieldSelector,
        limit: configuration.pageSize, continueToken: continueToken)
      do {
        var page = try await client.list(Object.self, namespace: namespace, options: options)
        if let transform = configuration.transform { page.items = page.items.map(transform) }
        return step(.listed(page), now: now())
      } catch {
        try Task.checkCancellation()
        logger.warning(
          "Listing \(Object.resource) failed; retrying with backoff",
          metadata: ["error": "\(error)", "namespace": "\(namespace ?? "*")"])
        return step(.listFailed(error), now: now())
      }

    case .watch(let version):
      let options = WatchOptions(
        resourceVersion: version, labelSelector: configuration.labelSelector,
        fieldSelector: configuration.fieldSelector, timeoutSeconds: Int.random(in: configuration.watchTimeout))
      do {
        let events = try await client.watch(Object.self, namespace: namespace, options: options)
        for try await event in events {
          _ = step(.watchEvent(transformed(event)), now: now())
        }
        try Task.checkCancellation()
        return step(.watchEnded, now: now())
      } catch let error as KubernetesError {
        try Task.checkCancellation()
        if error.code == .gone {
          logger.info(
            "Watch of \(Object.resource) is too old (410); listing again", metadata: ["version": "\(version)"])
        } else {
          logger.debug("Watch of \(Object.resource) broke; resuming", metadata: ["error": "\(error)"])
        }
        return step(.watchFailed(error), now: now())
      }

    case .wait(let delay):
      try await clock.sleep(for: delay)
      return step(.waited, now: now())
    }
  }

  private func transformed(_ event: WatchEvent<Object>) -> WatchEvent<Object> {
    guard let transform = configuration.transform else { return event }
    switch event {
    case .added(let object): return .added(transform(object))
    case .modified(let object): return .modified(transform(object))
    case .deleted(let object): return .deleted(transform(object))
    case .bookmark: return event
    }
  }

  private func step(
    _ input: ReflectorStateMachine<Object>.Input, now: Duration
  ) -> ReflectorStateMachine<Object>.Action? {
    let (next, events) = machine.withLock { $0.handle(input, now: now, random: Double.random(in: 0..<1)) }
    if !events.isEmpty {
      let receivers = subscribers.withLock { Array($0.values) }
      for event in events {
        if case .synced = event { synced.set(true) }
        for receiver in receivers { receiver.yield(event) }
      }
    }
    return next
  }
}
