import ControlPlaneKit
import DaprProto
import GRPCCore
import Logging
import Synchronization

/// Connects sidecar streams to the rounds of their namespaces: it feeds each stream's messages to that namespace's
/// ``NamespaceDissemination`` and carries out the actions that come back (orders to streams, kicks, timers,
/// metrics). All state sits behind one lock that is held only to step the state machines; sending happens
/// outside it, into each stream's own queue.
public final class PlacementHub: Sendable {
  public struct Configuration: Sendable {
    public var settings: NamespaceDissemination.Settings
    public var disseminateTimeout: Duration
    /// Zero: no coalescing.
    public var coalesceWindow: Duration

    public init(
      replicationFactor: Int = 100, disseminateTimeout: Duration = .seconds(8), coalesceWindow: Duration = .zero,
      maximumTableBytes: Int = 4 << 20
    ) {
      settings = .init(
        replicationFactor: replicationFactor, coalesces: coalesceWindow > .zero, maximumTableBytes: maximumTableBytes)
      self.disseminateTimeout = disseminateTimeout
      self.coalesceWindow = coalesceWindow
    }
  }

  /// What a stream's writer is told to do next.
  public enum Outbound: Sendable {
    case order(EncodedOrder)
    /// End the stream with this status.
    case end(RPCError)
  }

  struct Stream {
    let continuation: AsyncStream<Outbound>.Continuation
    let peer: SPIFFEID?
    /// Set by the first report.
    var namespace: String?
  }

  struct State {
    var namespaces: [String: NamespaceDissemination] = [:]
    var streams: [StreamID: Stream] = [:]
    var nextID: StreamID = 1
    var roundStarts: [String: ContinuousClock.Instant] = [:]
    /// Rings built for lookups, per namespace, for the version they were built from.
    var rings: [String: (version: UInt64, byType: [String: HashRing])] = [:]
  }

  public let configuration: Configuration
  let requirePeer: Bool
  let metrics: PlacementMetrics
  let logger: Logger
  /// What the round timeout and the coalescing window are measured on (a manual clock in tests).
  let clock: any Clock<Duration>
  private let state = Mutex(State())

  /// A timer the hub asks for: a round's dissemination timeout, or the end of a namespace's coalescing window.
  enum Timer: Sendable {
    case roundTimeout(namespace: String, version: UInt64)
    case coalesceWindow(namespace: String)
  }

  /// The timers asked for, which ``runTimers()`` starts.
  private let timerRequests: AsyncStream<Timer>
  private let requestTimer: AsyncStream<Timer>.Continuation

  public init(
    configuration: Configuration, requirePeer: Bool, metrics: PlacementMetrics, logger: Logger,
    clock: any Clock<Duration> = ContinuousClock()
  ) {
    self.configuration = configuration
    self.requirePeer = requirePeer
    self.metrics = metrics
    self.logger = logger
    self.clock = clock
    (timerRequests, requestTimer) = AsyncStream.makeStream(of: Timer.self)
  }

  /// Runs the rounds' timeouts and the coalescing windows, each a child of one task group the hub owns, until
  /// cancelled (which ends every timer). The server runs it beside its streams: without it no round times out.
  public func runTimers() async {
    await withDiscardingTaskGroup { group in
      for await timer in timerRequests {
        group.addTask { [self] in
          switch timer {
          case .roundTimeout(let namespace, let version):
            guard (try? await clock.sleep(for: configuration.disseminateTimeout)) != nil else { return }
            timeoutFired(namespace: namespace, version: version)
          case .coalesceWindow(let namespace):
            guard (try? await clock.sleep(for: configuration.coalesceWindow)) != nil else { return }
            coalesceWindowEnded(namespace: namespace)
          }
        }
      }
    }
  }

  // === Streams ===

  /// Registers a new stream from a client that proved `peer`; its orders arrive on the returned sequence.
  public func open(peer: SPIFFEID?) -> (StreamID, AsyncStream<Outbound>) {
    let (outbound, continuation) = AsyncStream.makeStream(of: Outbound.self)
    let id = state.withLock { state in
      let id = state.nextID
      state.nextID += 1
      state.streams[id] = Stream(continuation: continuation, peer: peer)
      return id
    }
    return (id, outbound)
  }

  /// Handles one message from stream `id`. A bad message throws the status that ends the stream (the caller then
  /// calls ``close(_:)``); nothing else changes.
  public func receive(_ id: StreamID, _ host: PlacementHost) throws(RPCError) {
    let work = try state.withLock { state throws(RPCError) -> Work in
      guard let stream = state.streams[id] else { return Work() }
      try ReportChecks.check(host, peer: stream.peer, requirePeer: requirePeer)
      let namespace = host.namespace
      if let current = stream.namespace, current != namespace {
        throw RPCError(
          code: .invalidArgument,
          message: "invalid host: the stream reported namespace \(current) first and now \(namespace)")
      }
      let firstMessage = stream.namespace == nil
      if firstMessage {
        if [.lock, .update, .unlock].contains(host.operation) {
          throw RPCError(
            code: .invalidArgument, message: "invalid host: the first message on a stream must be a REPORT")
        }
        state.streams[id]!.namespace = namespace
        if state.namespaces[namespace] == nil {
          state.namespaces[namespace] = NamespaceDissemination(settings: configuration.settings)
        }
      }
      // Stepped in place: copying the machine out of the dictionary would copy its tables of every stream.
      let actions = Self.step(&state.namespaces[namespace]!, id: id, host: host, firstMessage: firstMessage)
      // An acknowledgement changes no gauge; counting the streams on each of them would cost O(streams).
      let acknowledgement = !firstMessage && [.lock, .update, .unlock].contains(host.operation)
      return prepare(actions, namespace: namespace, in: &state, recordGauges: !acknowledgement)
    }
    perform(work)
  }

  private static func step(
    _ machine: inout NamespaceDissemination, id: StreamID, host: PlacementHost, firstMessage: Bool
  ) -> [NamespaceDissemination.Action] {
    if firstMessage { return machine.connected(id, report: host) }
    switch host.operation {
    case .report:
      return machine.reported(id, host: host)
    case .lock, .update, .unlock:
      return machine.acknowledged(id, operation: host.operation, version: host.hasVersion ? host.version : nil)
    case .unknown, .UNRECOGNIZED:
      // Dapr 1.16 and older: a heartbeat that is both a report and an acknowledgement.
      return machine.reported(id, host: host) + machine.acknowledged(id, operation: .unknown, version: nil)
    }
  }

  /// Stream `id` ended.
  public func close(_ id: StreamID) {
    let work = state.withLock { state -> Work in
      guard let stream = state.streams.removeValue(forKey: id) else { return Work() }
      var work = Work()
      work.finish.append(stream.continuation)
      guard let namespace = stream.namespace, state.namespaces[namespace] != nil else { return work }
      let actions = state.namespaces[namespace]!.closed(id)
      let more = prepare(actions, namespace: namespace, in: &state)
      return work.merged(with: more)
    }
    perform(work)
  }

  /// Ends stream `id` with `status` (a message it sent was refused).
  public func end(_ id: StreamID, _ status: RPCError) {
    let continuation = state.withLock { $0.streams[id]?.continuation }
    continuation?.yield(.end(status))
    close(id)
  }

  /// Ends every stream with `status` and forgets every namespace (leadership lost, or shutting down).
  public func endAll(_ status: RPCError) {
    let work = state.withLock { state -> Work in
      var work = Work()
      for (_, stream) in state.streams { work.ends.append((stream.continuation, status)) }
      for namespace in state.namespaces.keys { work.gauges.append((namespace, 0, 0, 0)) }
      state = State(nextID: state.nextID)
      return work
    }
    perform(work)
  }

  // === Timers ===

  func timeoutFired(namespace: String, version: UInt64) {
    step(namespace) { $0.timeoutFired(version: version) }
  }

  func coalesceWindowEnded(namespace: String) {
    step(namespace) { $0.coalesceWindowEnded() }
  }

  private func step(
    _ namespace: String, _ body: (inout NamespaceDissemination) -> [NamespaceDissemination.Action]
  ) {
    let work = state.withLock { state -> Work in
      guard state.namespaces[namespace] != nil else { return Work() }
      let actions = body(&state.namespaces[namespace]!)
      return prepare(actions, namespace: namespace, in: &state)
    }
    perform(work)
  }

  // === Reading ===

  /// Every namespace's stored hosts (sorted by name) and version, for `/placement/state`.
  public func snapshot() -> [String: (version: UInt64, hosts: [PlacementHost])] {
    state.withLock { state in
      state.namespaces.mapValues { ($0.version, $0.storedHosts) }
    }
  }

  /// The host that owns actor `id` of `type` in `namespace`, by the tables last sent: what every sidecar there
  /// computes. Nil when the type has no host.
  public func lookup(namespace: String, type: String, id: String) -> PlacementHost? {
    state.withLock { state -> PlacementHost? in
      guard let machine = state.namespaces[namespace], let table = machine.tables.entries[type] else { return nil }
      var cache = state.rings[namespace]
      if cache?.version != machine.version { cache = (machine.version, [:]) }
      let ring =
        cache!.byType[type]
        ?? HashRing(replicationFactor: configuration.settings.replicationFactor, hosts: table.loadMap.keys)
      cache!.byType[type] = ring
      state.rings[namespace] = cache
      return ring.host(for: id).flatMap { table.loadMap[$0] }
    }
  }

  // === Carrying out actions ===

  /// What to do once the lock is released.
  struct Work {
    /// Each order goes to its streams encoded once.
    var sends: [(order: PlacementOrder, to: [AsyncStream<Outbound>.Continuation])] = []
    var ends: [(AsyncStream<Outbound>.Continuation, RPCError)] = []
    var finish: [AsyncStream<Outbound>.Continuation] = []
    var timers: [(namespace: String, version: UInt64)] = []
    var coalesce: [String] = []
    var completed: [(version: UInt64, duration: Duration)] = []
    var refused: [(namespace: String, version: UInt64, bytes: Int)] = []
    var kicked: [(namespace: String, count: Int, version: UInt64)] = []
    /// namespace, streams, actor hosts, table bytes.
    var gauges: [(String, Int, Int, Int)] = []

    func merged(with other: Work) -> Work {
      var merged = self
      merged.sends += other.sends
      merged.ends += other.ends
      merged.finish += other.finish
      merged.timers += other.timers
      merged.coalesce += other.coalesce
      merged.completed += other.completed
      merged.refused += other.refused
      merged.kicked += other.kicked
      merged.gauges += other.gauges
      return merged
    }
  }

  /// Turns actions into work, under the lock; forgets the namespace when its last stream has gone.
  private func prepare(
    _ actions: [NamespaceDissemination.Action], namespace: String, in state: inout State, recordGauges: Bool = true
  ) -> Work {
    var work = Work()
    let now = ContinuousClock.now
    for action in actions {
      switch action {
      case .send(let order, let ids):
        work.sends.append((order, ids.compactMap { state.streams[$0]?.continuation }))
      case .roundStarted(let version):
        state.roundStarts[namespace] = state.roundStarts[namespace] ?? now
        work.timers.append((namespace, version))
      case .roundCompleted(let version):
        if let start = state.roundStarts.removeValue(forKey: namespace) {
          work.completed.append((version, now - start))
        }
      case .kick(let ids, let version):
        let timeout = GoDuration(configuration.disseminateTimeout)
        let status = RPCError(
          code: .deadlineExceeded, message: "dissemination timeout after \(timeout) for version \(version)")
        for id in ids {
          if let stream = state.streams.removeValue(forKey: id) { work.ends.append((stream.continuation, status)) }
        }
        work.kicked.append((namespace, ids.count, version))
      case .armCoalesceTimer:
        work.coalesce.append(namespace)
      case .tablesTooLarge(let version, let bytes):
        work.refused.append((namespace, version, bytes))
      }
    }
    if let machine = state.namespaces[namespace] {
      if recordGauges || !actions.isEmpty {
        work.gauges.append((namespace, machine.streamCount, machine.actorHostCount, machine.tableBytes))
      }
      if machine.isEmpty {
        state.namespaces.removeValue(forKey: namespace)
        state.roundStarts.removeValue(forKey: namespace)
        state.rings.removeValue(forKey: namespace)
      }
    }
    return work
  }

  private func perform(_ work: Work) {
    for (order, continuations) in work.sends where !continuations.isEmpty {
      let encoded = Outbound.order(EncodedOrder(order))
      for continuation in continuations { continuation.yield(encoded) }
    }
    for (continuation, status) in work.ends {
      continuation.yield(.end(status))
      continuation.finish()
    }
    for continuation in work.finish { continuation.finish() }
    for (namespace, streams, actorHosts, bytes) in work.gauges {
      metrics.record(namespace: namespace, streams: streams, actorHosts: actorHosts, tableBytes: bytes)
    }
    for (version, duration) in work.completed {
      metrics.roundDuration.recordNanoseconds(duration.nanoseconds)
      logger.debug("Dissemination round \(version) completed in \(duration)")
    }
    for (namespace, count, version) in work.kicked {
      logger.warning(
        "Dissemination timeout for version \(version): closed \(count) stream(s) that did not acknowledge in time",
        metadata: ["namespace": "\(namespace)"])
    }
    for (namespace, version, bytes) in work.refused {
      metrics.tablesRefused.increment()
      logger.error(
        "Placement tables for version \(version) would be \(bytes) bytes, over daprd's limit of \(configuration.settings.maximumTableBytes): not sent; sidecars keep the previous tables",
        metadata: ["namespace": "\(namespace)"])
    }
    for (namespace, version) in work.timers {
      requestTimer.yield(.roundTimeout(namespace: namespace, version: version))
    }
    for namespace in work.coalesce { requestTimer.yield(.coalesceWindow(namespace: namespace)) }
  }
}

extension Duration {
  var nanoseconds: Int64 {
    let (seconds, attoseconds) = components
    return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
  }
}
