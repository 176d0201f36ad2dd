/// One event of a watch.
public enum WatchEvent<Object: KubernetesObject>: Sendable {
  case added(Object)
  case modified(Object)
  case deleted(Object)
  /// Nothing changed for this watch, but the collection reached `resourceVersion`: resume from there.
  case bookmark(resourceVersion: String)
}

/// The events of one watch, whichever ``ObjectWatching`` opened it: the real client's decoded stream or a fake's
/// replay. Ends when the watch ends; throws a ``KubernetesError`` when it breaks.
public struct WatchEvents<Object: KubernetesObject>: AsyncSequence, Sendable {
  public typealias Element = WatchEvent<Object>
  private let makeIterator: @Sendable () -> Iterator

  public init<Base: AsyncSequence & Sendable>(_ base: Base) where Base.Element == WatchEvent<Object> {
    makeIterator = { Iterator(base: base.makeAsyncIterator()) }
  }

  public func makeAsyncIterator() -> Iterator { makeIterator() }

  public struct Iterator: AsyncIteratorProtocol {
    private var base: any AsyncIteratorProtocol<WatchEvent<Object>, any Error>

    init<Base: AsyncIteratorProtocol>(base: Base) where Base.Element == WatchEvent<Object> {
      self.base = ErasedFailure(base: base)
    }

    public mutating func next() async throws -> WatchEvent<Object>? { try await base.next() }
  }

  /// Gives any iterator the untyped failure the erased one holds.
  private struct ErasedFailure<Base: AsyncIteratorProtocol>: AsyncIteratorProtocol {
    var base: Base
    mutating func next() async throws -> Base.Element? { try await base.next() }
  }
}

/// What a watch asks for.
public struct WatchOptions: Sendable, Hashable {
  /// Start after this version (`nil`: the API server picks, which first replays the current state).
  public var resourceVersion: String?
  public var labelSelector: String?
  public var fieldSelector: String?
  /// The server ends the watch after this many seconds; reflectors use 5 to 10 minutes, randomised.
  public var timeoutSeconds: Int?
  public var allowBookmarks: Bool

  public init(
    resourceVersion: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
    timeoutSeconds: Int? = nil, allowBookmarks: Bool = true
  ) {
    self.resourceVersion = resourceVersion
    self.labelSelector = labelSelector
    self.fieldSelector = fieldSelector
    self.timeoutSeconds = timeoutSeconds
    self.allowBookmarks = allowBookmarks
  }

  package var query: [(String, String)] {
    var query: [(String, String)] = [("watch", "1")]
    if let resourceVersion { query.append(("resourceVersion", resourceVersion)) }
    if let labelSelector { query.append(("labelSelector", labelSelector)) }
    if let fieldSelector { query.append(("fieldSelector", fieldSelector)) }
    if let timeoutSeconds { query.append(("timeoutSeconds", String(timeoutSeconds))) }
    if allowBookmarks { query.append(("allowWatchBookmarks", "true")) }
    return query
  }
}
