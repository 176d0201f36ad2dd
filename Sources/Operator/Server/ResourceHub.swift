import ControlPlaneKit
import Foundation
import GRPCCore
import Kubernetes
import Logging
import Prometheus
import Synchronization

/// The operator's metrics beyond Dapr's: streams per kind, the delay from an informer event to the send, and
/// resources left out because a Secret they need is missing.
public final class OperatorMetrics: Sendable {
  let registry: MetricsRegistry
  public let deliveryDelay: DurationHistogram
  public let secretFailures: Counter

  public init(registry: MetricsRegistry) {
    self.registry = registry
    deliveryDelay = registry.durationHistogram(
      "dapr_operator_event_delivery_seconds", help: "The time from an informer event to its send on a stream.",
      buckets: requestLatencyBuckets)
    secretFailures = registry.counter(
      "dapr_operator_secret_resolution_failures_total",
      help: "Resources left out of a list or an update because a Secret they refer to is missing.")
  }

  func streams(_ kind: ResourceKind) -> Gauge {
    registry.gauge(
      "dapr_operator_connected_streams", help: "Update streams connected, by resource kind.",
      labels: [("kind", kind.rawValue)])
  }
}

/// Holds the connected update streams of every kind and fans resource changes out to them, each stream through its
/// own bounded queue: a slow stream is closed (`ResourceExhausted`, and the sidecar re-lists) instead of holding up
/// the others or the informer.
public final class ResourceHub: Sendable {
  /// How many events a stream may fall behind before it is closed.
  public static let queueLimit = 256

  public enum Outbound: Sendable {
    case event(ResourceEventType, Data, queuedAt: ContinuousClock.Instant)
  }

  struct Stream {
    let scope: StreamScope
    let continuation: AsyncStream<Outbound>.Continuation
  }

  private let streams = Mutex<[ResourceKind: [UInt64: Stream]]>([:])
  private let overflowed = Mutex<Set<UInt64>>([])
  private let nextID = Atomic<UInt64>(1)
  let resolver: @Sendable (ResourceKind, JSONValue) -> JSONValue?
  let configurations: @Sendable () -> ConfigurationSelection
  let metrics: OperatorMetrics
  let logger: Logger

  /// `resolver` fills in secrets (nil: the resource cannot be sent now, and says why itself); `configurations`
  /// says which Configurations each app's stream carries.
  public init(
    metrics: OperatorMetrics, logger: Logger,
    configurations: @escaping @Sendable () -> ConfigurationSelection = { ConfigurationSelection(pods: []) },
    resolver: @escaping @Sendable (ResourceKind, JSONValue) -> JSONValue?
  ) {
    self.metrics = metrics
    self.logger = logger
    self.configurations = configurations
    self.resolver = resolver
  }

  /// Whether `snapshot` may go to `stream` beyond namespace and scope: Configurations only to the apps naming them.
  static func carries(
    _ kind: ResourceKind, _ snapshot: ResourceSnapshot, to stream: StreamScope, _ selection: ConfigurationSelection?
  ) -> Bool {
    guard kind == .configuration, let selection else { return true }
    return selection.carries(snapshot.name, to: stream)
  }

  /// Registers a stream; its events arrive on the returned sequence until ``close(_:kind:)``.
  public func open(_ kind: ResourceKind, scope: StreamScope) -> (UInt64, AsyncStream<Outbound>) {
    let (events, continuation) = AsyncStream.makeStream(
      of: Outbound.self, bufferingPolicy: .bufferingOldest(Self.queueLimit))
    let id = nextID.add(1, ordering: .relaxed).oldValue
    let count = streams.withLock { streams in
      streams[kind, default: [:]][id] = Stream(scope: scope, continuation: continuation)
      return streams[kind]!.count
    }
    metrics.streams(kind).set(Double(count))
    return (id, events)
  }

  public func close(_ id: UInt64, kind: ResourceKind) {
    let (stream, count) = streams.withLock { streams in
      (streams[kind]?.removeValue(forKey: id), streams[kind]?.count ?? 0)
    }
    stream?.continuation.finish()
    metrics.streams(kind).set(Double(count))
  }

  /// Ends every stream (the operator is stopping): each call then returns OK, and the sidecar connects again, to
  /// another replica behind the Service.
  public func closeAll() {
    let closed = streams.withLock { streams in
      defer { streams = [:] }
      return streams
    }
    for (kind, streams) in closed {
      for stream in streams.values { stream.continuation.finish() }
      metrics.streams(kind).set(Double(0))
    }
  }

  /// How many streams of `kind` are connected.
  public func connectedStreams(_ kind: ResourceKind) -> Int { streams.withLock { $0[kind]?.count ?? 0 } }

  /// Whether the stream was closed for falling behind (its writer then ends the call with an error).
  public func didOverflow(_ id: UInt64) -> Bool { overflowed.withLock { $0.remove(id) != nil } }

  /// Fans one change out to every stream of `kind`.
  public func publish(_ kind: ResourceKind, old: ResourceSnapshot?, new: ResourceSnapshot?) {
    let now = ContinuousClock.now
    let targets = streams.withLock { $0[kind].map { Array($0) } ?? [] }
    let selection = kind == .configuration ? configurations() : nil
    // Encoded once per object sent (DELETED carries the old one, CREATED and UPDATED the new one), not per stream.
    var encoded: (old: Data??, new: Data??) = (nil, nil)
    for (id, stream) in targets {
      guard let (type, snapshot) = ResourceFanOut.event(old: old, new: new, for: stream.scope),
        Self.carries(kind, snapshot, to: stream.scope, selection)
      else { continue }
      let cached = type == .deleted ? encoded.old : encoded.new
      let bytes: Data?
      if let cached {
        bytes = cached
      } else {
        bytes = resolver(kind, snapshot.object).flatMap { try? JSONCoding.encode($0) }
        if type == .deleted { encoded.old = .some(bytes) } else { encoded.new = .some(bytes) }
      }
      guard let bytes else { continue }
      send(.event(type, bytes, queuedAt: now), to: id, stream: stream, kind: kind)
    }
  }

  /// Sends UPDATED for `objects` to the streams that may see them (a Secret they use changed).
  public func republish(_ kind: ResourceKind, _ objects: [ResourceSnapshot]) {
    let now = ContinuousClock.now
    let targets = streams.withLock { $0[kind].map { Array($0) } ?? [] }
    let selection = kind == .configuration ? configurations() : nil
    for object in objects {
      guard let resolved = resolver(kind, object.object), let data = try? JSONCoding.encode(resolved) else { continue }
      for (id, stream) in targets
      where object.isVisible(to: stream.scope) && Self.carries(kind, object, to: stream.scope, selection) {
        send(.event(.updated, data, queuedAt: now), to: id, stream: stream, kind: kind)
      }
    }
  }

  private func send(_ item: Outbound, to id: UInt64, stream: Stream, kind: ResourceKind) {
    if case .dropped = stream.continuation.yield(item) {
      overflowed.withLock { _ = $0.insert(id) }
      logger.warning(
        "Closing a \(kind.rawValue) update stream of app \(stream.scope.appID) that fell \(Self.queueLimit) events behind",
        metadata: ["namespace": "\(stream.scope.namespace)"])
      close(id, kind: kind)
    }
  }
}
