/// A change to an informer's store.
public enum InformerEvent<Object: KubernetesObject>: Sendable {
  case added(Object)
  case updated(old: Object, new: Object)
  case deleted(Object)
  /// The store holds the full state of the collection for the first time.
  case synced
}

/// The pure core of a reflector: list, then watch from the list's version; resume from the last seen version when
/// a watch ends or breaks; list again when the version is gone (410); back off with jitter after failures.
///
/// It owns the store. A driver (``Informer``) performs the ``Action``s and feeds back each ``Input``; nothing here
/// touches a socket or a clock.
public struct ReflectorStateMachine<Object: KubernetesObject>: Sendable {
  /// What the driver must do next.
  public enum Action: Sendable, Equatable {
    /// List a page (`continueToken` for the next page of the same list).
    case list(continueToken: String?)
    /// Watch from `resourceVersion`.
    case watch(resourceVersion: String)
    /// Sleep, then report ``Input/waited``.
    case wait(Duration)
  }

  /// What happened.
  public enum Input: Sendable {
    case start
    case listed(KubernetesList<Object>)
    case listFailed(KubernetesError)
    case watchEvent(WatchEvent<Object>)
    /// The server ended the watch normally (its timeout).
    case watchEnded
    case watchFailed(KubernetesError)
    case waited
  }

  enum State: Sendable {
    case idle
    case listing(accumulated: [Object])
    case watching
    case waiting(then: Action)
  }

  /// Counters for tests and metrics.
  public struct Statistics: Sendable, Hashable {
    public var lists = 0
    public var relistsAfterGone = 0
    public var watches = 0
    public var failures = 0
    public var bookmarks = 0
    public var events = 0
  }

  public private(set) var store: [String: Object] = [:]
  /// The version the next watch resumes from.
  public private(set) var resourceVersion: String?
  public private(set) var hasSynced = false
  public private(set) var statistics = Statistics()
  private var state: State = .idle
  private var backoff: Backoff

  public init(backoff: Backoff = Backoff()) {
    self.backoff = backoff
  }

  /// Feeds `input`; returns what to do next and the store changes to publish. `now` is the time since any fixed
  /// origin and `random` a number in 0..<1 (for jitter).
  public mutating func handle(
    _ input: Input, now: Duration, random: Double
  ) -> (
    next: Action?, events: [InformerEvent<Object>]
  ) {
    switch (state, input) {
    case (.idle, .start):
      return startList()

    case (.listing(var accumulated), .listed(let page)):
      accumulated += page.items
      if let next = page.metadata.continue, !next.isEmpty {
        state = .listing(accumulated: accumulated)
        return (.list(continueToken: next), [])
      }
      let events = replaceStore(with: accumulated)
      resourceVersion = page.metadata.resourceVersion
      state = .watching
      statistics.watches += 1
      return (.watch(resourceVersion: resourceVersion ?? "0"), events)

    case (.listing, .listFailed):
      // Also the answer to an expired continue token (410): the list starts over.
      statistics.failures += 1
      let delay = backoff.next(now: now, random: random)
      state = .waiting(then: .list(continueToken: nil))
      return (.wait(delay), [])

    case (.watching, .watchEvent(let event)):
      return (nil, apply(event))

    case (.watching, .watchEnded):
      statistics.watches += 1
      return (.watch(resourceVersion: resourceVersion ?? "0"), [])

    case (.watching, .watchFailed(let error)) where error.code == .gone:
      statistics.relistsAfterGone += 1
      return startList()

    case (.watching, .watchFailed):
      statistics.failures += 1
      let delay = backoff.next(now: now, random: random)
      state = .waiting(then: .watch(resourceVersion: resourceVersion ?? "0"))
      return (.wait(delay), [])

    case (.waiting(let then), .waited):
      switch then {
      case .list:
        return startList()
      case .watch:
        state = .watching
        statistics.watches += 1
        return (.watch(resourceVersion: resourceVersion ?? "0"), [])
      case .wait:
        return (then, [])
      }

    default:
      // An input that does not belong to the current state (for example a late event of a watch that was already
      // given up) changes nothing.
      return (nil, [])
    }
  }

  private mutating func startList() -> (next: Action?, events: [InformerEvent<Object>]) {
    statistics.lists += 1
    state = .listing(accumulated: [])
    return (.list(continueToken: nil), [])
  }

  /// Replaces the store with a full list and reports the differences as events.
  private mutating func replaceStore(with items: [Object]) -> [InformerEvent<Object>] {
    var next: [String: Object] = [:]
    next.reserveCapacity(items.count)
    var events: [InformerEvent<Object>] = []
    for item in items {
      let key = item.key
      next[key] = item
      if let old = store[key] {
        if old.metadata.resourceVersion != item.metadata.resourceVersion {
          events.append(.updated(old: old, new: item))
        }
      } else {
        events.append(.added(item))
      }
    }
    for (key, old) in store where next[key] == nil {
      events.append(.deleted(old))
    }
    store = next
    if !hasSynced {
      hasSynced = true
      events.append(.synced)
    }
    return events
  }

  private mutating func apply(_ event: WatchEvent<Object>) -> [InformerEvent<Object>] {
    statistics.events += 1
    switch event {
    case .bookmark(let version):
      statistics.bookmarks += 1
      if !version.isEmpty { resourceVersion = version }
      return []
    case .added(let object), .modified(let object):
      if let version = object.metadata.resourceVersion { resourceVersion = version }
      let key = object.key
      let old = store.updateValue(object, forKey: key)
      if let old {
        return old.metadata.resourceVersion == object.metadata.resourceVersion ? [] : [.updated(old: old, new: object)]
      }
      return [.added(object)]
    case .deleted(let object):
      if let version = object.metadata.resourceVersion { resourceVersion = version }
      let old = store.removeValue(forKey: object.key)
      return [.deleted(old ?? object)]
    }
  }
}
