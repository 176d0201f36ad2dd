import DaprMessages

/// A stream's number, unique for the life of the process.
public typealias StreamID = UInt64

/// The dissemination rounds of one namespace, as a state machine without sockets or clocks.
///
/// Events come in (a stream connects with its first report, reports again, acknowledges an order, closes; the round
/// timer or the coalescing timer fires) and ``Action``s come out for the adapter to carry out. The protocol is
/// Dapr's (1.17 and later):
///
/// - The store holds the hosts that report at least one actor type. Any change to it (a host arrives, changes its
///   name, app id or sorted types, or leaves) starts a round: the version goes up, LOCK goes to every stream, and
///   when every actor host has acknowledged it UPDATE (the tables) follows, then UNLOCK, each awaited the same way.
/// - A store-changing report during a round pre-empts it: the version goes up and LOCK is sent again.
/// - Streams that connect during a round wait and join the next one; a stream that closes during a round leaves it
///   at once (it is no longer awaited) and the store change it causes makes one more round afterwards.
/// - When the round timer fires (the adapter arms it on ``Action/roundStarted(version:)`` for the disseminate
///   timeout), the actor hosts that have not acknowledged are kicked and a new round starts without them.
/// - With a coalescing window, changes made while idle wait for the window to end and then make one round.
///
/// Where this differs from Dapr, on purpose: sidecars without actor types receive every order but are never
/// awaited (a slow or stuck one cannot hold a round up or be kicked from it), and streams waiting during a round
/// join the next round together rather than in separate deletion and addition rounds.
public struct NamespaceDissemination: Sendable {
  public enum Phase: Hashable, Sendable { case idle, lock, update, unlock }

  public enum Action: Hashable, Sendable {
    /// Send `order` to each of `streams` (in this order).
    case send(PlacementOrder, to: [StreamID])
    /// A round began: arm the disseminate timeout for `version`.
    case roundStarted(version: UInt64)
    /// The round for `version` completed: every awaited host acknowledged UNLOCK.
    case roundCompleted(version: UInt64)
    /// Close these streams with `DeadlineExceeded`: they did not acknowledge `version` in time.
    case kick([StreamID], version: UInt64)
    /// Arm the coalescing timer; call ``coalesceWindowEnded()`` when it fires.
    case armCoalesceTimer
    /// The tables for `version` encode to `bytes`, over the limit: the round was not started.
    case tablesTooLarge(version: UInt64, bytes: Int)
  }

  public struct Settings: Hashable, Sendable {
    public var replicationFactor: Int
    /// Whether changes wait for a coalescing window (the adapter knows its length).
    public var coalesces: Bool
    /// The largest encoded UPDATE order sent; daprd's gRPC receive limit is 4 MiB.
    public var maximumTableBytes: Int

    public init(replicationFactor: Int = 100, coalesces: Bool = false, maximumTableBytes: Int = 4 << 20) {
      self.replicationFactor = replicationFactor
      self.coalesces = coalesces
      self.maximumTableBytes = maximumTableBytes
    }
  }

  struct Member: Sendable {
    var host: PlacementHost
    /// The version of the last LOCK sent to this stream; UPDATE and UNLOCK go only with the same version.
    var lockedVersion: UInt64?
    var isActorHost: Bool { !host.entities.isEmpty }
  }

  public let settings: Settings
  public private(set) var version: UInt64 = 0
  public private(set) var phase: Phase = .idle
  /// The tables of the current (or last) round.
  public private(set) var tables: PlacementTables
  /// The encoded size of ``tables`` in an UPDATE order.
  public private(set) var tableBytes: Int = 0

  private var members: [StreamID: Member] = [:]
  /// Streams that connected during a round, with their first report, in arrival order.
  private var waiting: [(id: StreamID, host: PlacementHost)] = []
  /// Actor hosts whose acknowledgement of the current phase is still due.
  private var awaiting: Set<StreamID> = []
  /// The store changed since the tables were last built.
  private var storeChanged = false
  private var coalescing = false

  public init(settings: Settings) {
    self.settings = settings
    tables = PlacementTables.make(version: 0, replicationFactor: settings.replicationFactor, hosts: [])
  }

  /// No stream is connected: the namespace can be forgotten (its version then restarts at 1).
  public var isEmpty: Bool { members.isEmpty && waiting.isEmpty }
  /// Connected streams, waiting ones included.
  public var streamCount: Int { members.count + waiting.count }
  /// Connected streams that report actor types.
  public var actorHostCount: Int {
    members.values.count(where: \.isActorHost) + waiting.count(where: { !$0.host.entities.isEmpty })
  }
  /// The stored hosts (with actor types), sorted by name, for `/placement/state`.
  public var storedHosts: [PlacementHost] {
    members.values.filter(\.isActorHost).map(\.host).sorted { $0.name < $1.name }
  }
  /// The streams still to acknowledge the current phase.
  public var awaitedStreams: Set<StreamID> { awaiting }

  // === Events ===

  /// A stream connected; `host` is its first report (already validated).
  public mutating func connected(_ id: StreamID, report host: PlacementHost) -> [Action] {
    let host = Self.normalized(host)
    guard phase == .idle else {
      waiting.append((id, host))
      return []
    }
    members[id] = Member(host: host)
    guard members[id]!.isActorHost else { return privatePush(to: id) }
    storeChanged = true
    return scheduleRound()
  }

  /// A later report on a connected stream.
  public mutating func reported(_ id: StreamID, host: PlacementHost) -> [Action] {
    let host = Self.normalized(host)
    if let index = waiting.firstIndex(where: { $0.id == id }) {
      waiting[index].host = host
      return []
    }
    guard var member = members[id] else { return [] }
    let changesStore =
      (member.isActorHost || !host.entities.isEmpty)
      && (member.host.name != host.name || member.host.id != host.id || member.host.entities != host.entities)
    member.host = host
    members[id] = member
    guard changesStore else { return [] }
    storeChanged = true
    // A store-changing report during a round pre-empts it.
    return phase == .idle ? scheduleRound() : startRound()
  }

  /// An acknowledgement. `operation` `.unknown` (Dapr 1.16 and older) counts for the current phase; a `version`
  /// other than the current one is stale and ignored.
  public mutating func acknowledged(
    _ id: StreamID, operation: Dapr_Proto_Placement_V1_HostOperation, version: UInt64?
  )
    -> [Action]
  {
    guard phase != .idle, awaiting.contains(id) else { return [] }
    if let version, version != self.version { return [] }
    switch (phase, operation) {
    case (.lock, .lock), (.update, .update), (.unlock, .unlock), (_, .unknown): break
    default: return []
    }
    awaiting.remove(id)
    return awaiting.isEmpty ? advance() : []
  }

  /// A stream ended (closed by the sidecar, failed, or kicked by the adapter).
  public mutating func closed(_ id: StreamID) -> [Action] {
    if let index = waiting.firstIndex(where: { $0.id == id }) {
      waiting.remove(at: index)
      return []
    }
    guard let member = members.removeValue(forKey: id) else { return [] }
    if member.isActorHost { storeChanged = true }
    if phase == .idle { return member.isActorHost ? scheduleRound() : [] }
    guard awaiting.remove(id) != nil, awaiting.isEmpty else { return [] }
    return advance()
  }

  /// The disseminate timeout armed for `version` fired.
  public mutating func timeoutFired(version: UInt64) -> [Action] {
    guard phase != .idle, version == self.version, !awaiting.isEmpty else { return [] }
    let laggards = awaiting.sorted()
    for id in laggards { members.removeValue(forKey: id) }
    awaiting = []
    storeChanged = true
    return [.kick(laggards, version: version)] + startRound()
  }

  /// The coalescing window ended.
  public mutating func coalesceWindowEnded() -> [Action] {
    guard coalescing else { return [] }
    coalescing = false
    guard phase == .idle, storeChanged || !waiting.isEmpty else { return [] }
    return startRound()
  }

  // === Rounds ===

  private mutating func scheduleRound() -> [Action] {
    guard settings.coalesces else { return startRound() }
    guard !coalescing else { return [] }
    coalescing = true
    return [.armCoalesceTimer]
  }

  /// Starts a round (or pre-empts the current one) with every member and every waiting stream.
  private mutating func startRound() -> [Action] {
    for (id, host) in waiting {
      members[id] = Member(host: host)
      if !host.entities.isEmpty { storeChanged = true }
    }
    waiting = []
    let next = version + 1
    let hosts = members.keys.sorted().compactMap { members[$0]!.isActorHost ? members[$0]!.host : nil }
    let candidate = PlacementTables.make(
      version: next, replicationFactor: settings.replicationFactor, hosts: hosts)
    let bytes = PlacementOrder.update(version: next, tables: candidate).encodedSize
    guard bytes <= settings.maximumTableBytes else {
      // Sending it would break every sidecar (daprd drops the stream); keep the last good tables instead.
      phase = .idle
      awaiting = []
      return [.tablesTooLarge(version: next, bytes: bytes)]
    }
    version = next
    tables = candidate
    tableBytes = bytes
    storeChanged = false
    phase = .lock
    let everyone = members.keys.sorted()
    for id in everyone { members[id]!.lockedVersion = version }
    awaiting = Set(everyone.filter { members[$0]!.isActorHost })
    var actions: [Action] = [.roundStarted(version: version), .send(.lock(version: version), to: everyone)]
    if awaiting.isEmpty { actions += advance() }
    return actions
  }

  /// Moves to the next phase once nobody is awaited.
  private mutating func advance() -> [Action] {
    let locked = members.keys.sorted().filter { members[$0]!.lockedVersion == version }
    let order: PlacementOrder
    switch phase {
    case .idle:
      return []
    case .lock:
      phase = .update
      order = .update(version: version, tables: tables)
    case .update:
      phase = .unlock
      order = .unlock(version: version)
    case .unlock:
      phase = .idle
      return [.roundCompleted(version: version)] + afterRound()
    }
    awaiting = Set(locked.filter { members[$0]!.isActorHost })
    var actions: [Action] = [.send(order, to: locked)]
    if awaiting.isEmpty { actions += advance() }
    return actions
  }

  /// After a round: one more round for what changed meanwhile; streams without actor types that waited get the
  /// tables privately.
  private mutating func afterRound() -> [Action] {
    if storeChanged || waiting.contains(where: { !$0.host.entities.isEmpty }) { return scheduleRound() }
    let arrivals = waiting
    waiting = []
    var actions: [Action] = []
    for (id, host) in arrivals {
      members[id] = Member(host: host)
      actions += privatePush(to: id)
    }
    return actions
  }

  /// The current tables to one stream without actor types, outside any round; its acknowledgements are ignored.
  private mutating func privatePush(to id: StreamID) -> [Action] {
    members[id]?.lockedVersion = version
    return [
      .send(.lock(version: version), to: [id]),
      .send(.update(version: version, tables: tables), to: [id]),
      .send(.unlock(version: version), to: [id]),
    ]
  }

  /// Actor types sorted, as Dapr stores them, so a report listing the same types in another order changes nothing.
  static func normalized(_ host: PlacementHost) -> PlacementHost {
    var host = host
    host.entities.sort()
    return host
  }
}

extension PlacementOrder {
  /// The size of this order encoded as a message.
  public var encodedSize: Int {
    (try? message.serializedBytes() as [UInt8])?.count ?? 0
  }
}
