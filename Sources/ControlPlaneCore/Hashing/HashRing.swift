/// The consistent-hash ring daprd builds for each actor type, as a value.
///
/// Every host (a placement `Host.name`, `ip:port`) contributes `replicationFactor` points, `h(name + decimal(i))`
/// for `i` in `0..<replicationFactor`, where `h` is ``BLAKE2b/ringHash(_:)``. An actor id belongs to the host of the
/// first point at or above `h(id)`, wrapping around to the lowest point. This is daprd's construction exactly, so
/// a lookup here answers what any sidecar answers.
///
/// Points live in one sorted array with a parallel array of owners, so lookups are a binary search and adding or
/// removing one host is a single merge or filter pass over the points (no re-sort of the whole ring).
///
/// When two hosts share a point (a 64-bit collision; never seen in practice), daprd keeps whichever its map iteration
/// wrote last, which varies from run to run. Here the host whose name sorts last wins, always.
public struct HashRing: Sendable, Equatable {
  public let replicationFactor: Int
  /// Sorted ascending; `owners[i]` is the slot of the host owning `points[i]`.
  private var points: [UInt64] = []
  private var owners: [UInt32] = []
  /// Host names by slot; `nil` marks a free slot.
  private var slots: [String?] = []
  private var slotOfHost: [String: UInt32] = [:]
  private var freeSlots: [UInt32] = []
  /// Points more than one host contributes, with every contributor (empty unless 64-bit hashes collide).
  private var collisions: [UInt64: Set<UInt32>] = [:]

  /// A ring of `hosts`, each with `replicationFactor` points (which must be positive, as daprd needs).
  public init(replicationFactor: Int, hosts: some Sequence<String> = [String]()) {
    precondition(replicationFactor > 0, "the replication factor must be positive")
    self.replicationFactor = replicationFactor
    var unsorted: [(point: UInt64, slot: UInt32)] = []
    for host in hosts where slotOfHost[host] == nil {
      let slot = UInt32(slots.count)
      slots.append(host)
      slotOfHost[host] = slot
      for point in Self.points(of: host, replicationFactor: replicationFactor) {
        unsorted.append((point, slot))
      }
    }
    unsorted.sort { $0.point < $1.point || ($0.point == $1.point && slots[Int($0.slot)]! < slots[Int($1.slot)]!) }
    points.reserveCapacity(unsorted.count)
    owners.reserveCapacity(unsorted.count)
    for (point, slot) in unsorted {
      if let last = points.last, last == point {
        collisions[point, default: [owners[owners.count - 1]]].insert(slot)
        owners[owners.count - 1] = slot  // the name sorting last wins
      } else {
        points.append(point)
        owners.append(slot)
      }
    }
  }

  /// The points a host contributes, in order of `i`.
  public static func points(of host: String, replicationFactor: Int) -> [UInt64] {
    (0..<replicationFactor).map { BLAKE2b.ringHash(host + String($0)) }
  }

  /// The hosts on the ring.
  public var hosts: Set<String> { Set(slotOfHost.keys) }
  public var hostCount: Int { slotOfHost.count }
  public var isEmpty: Bool { slotOfHost.isEmpty }
  /// Distinct points on the ring.
  public var pointCount: Int { points.count }

  public func contains(_ host: String) -> Bool { slotOfHost[host] != nil }

  /// The host an actor id belongs to, or `nil` on an empty ring.
  public func host(for actorID: String) -> String? {
    guard !points.isEmpty else { return nil }
    let index = lowerBound(BLAKE2b.ringHash(actorID))
    return slots[Int(owners[index == points.count ? 0 : index])]
  }

  /// Adds a host's points with one merge pass. Returns false when the host is already on the ring.
  @discardableResult
  public mutating func add(_ host: String) -> Bool {
    guard slotOfHost[host] == nil else { return false }
    let slot: UInt32
    if let free = freeSlots.popLast() {
      slot = free
      slots[Int(slot)] = host
    } else {
      slot = UInt32(slots.count)
      slots.append(host)
    }
    slotOfHost[host] = slot
    let added = Self.points(of: host, replicationFactor: replicationFactor).sorted()

    var mergedPoints: [UInt64] = []
    var mergedOwners: [UInt32] = []
    mergedPoints.reserveCapacity(points.count + added.count)
    mergedOwners.reserveCapacity(points.count + added.count)
    var old = 0
    var new = 0
    while old < points.count || new < added.count {
      if new == added.count || (old < points.count && points[old] < added[new]) {
        mergedPoints.append(points[old])
        mergedOwners.append(owners[old])
        old += 1
      } else if old == points.count || added[new] < points[old] {
        if mergedPoints.last != added[new] {
          mergedPoints.append(added[new])
          mergedOwners.append(slot)
        }
        new += 1
      } else {
        // A shared point: the name sorting last wins.
        collisions[points[old], default: [owners[old]]].insert(slot)
        let incumbent = slots[Int(owners[old])]!
        mergedPoints.append(points[old])
        mergedOwners.append(host > incumbent ? slot : owners[old])
        old += 1
        new += 1
      }
    }
    points = mergedPoints
    owners = mergedOwners
    return true
  }

  /// Removes a host's points with one filter pass. Returns false when the host is not on the ring.
  @discardableResult
  public mutating func remove(_ host: String) -> Bool {
    guard let slot = slotOfHost.removeValue(forKey: host) else { return false }
    slots[Int(slot)] = nil
    freeSlots.append(slot)
    var kept = 0
    for index in points.indices where owners[index] != slot {
      points[kept] = points[index]
      owners[kept] = owners[index]
      kept += 1
    }
    points.removeLast(points.count - kept)
    owners.removeLast(owners.count - kept)
    // A point this host shared keeps its other contributors; the one whose name sorts last takes it back.
    for (point, var contributors) in collisions where contributors.contains(slot) {
      contributors.remove(slot)
      let winner = contributors.max { slots[Int($0)]! < slots[Int($1)]! }!
      let index = lowerBound(point)
      if index == points.count || points[index] != point {
        points.insert(point, at: index)
        owners.insert(winner, at: index)
      }
      collisions[point] = contributors.count > 1 ? contributors : nil
    }
    return true
  }

  /// The index of the first point at or above `hash` (`points.count` when none is).
  private func lowerBound(_ hash: UInt64) -> Int {
    points.withUnsafeBufferPointer { buffer in
      var low = 0
      var count = buffer.count
      while count > 0 {
        let half = count / 2
        if buffer[low + half] < hash {
          low += half + 1
          count -= half + 1
        } else {
          count = half
        }
      }
      return low
    }
  }

  public static func == (lhs: HashRing, rhs: HashRing) -> Bool {
    guard lhs.replicationFactor == rhs.replicationFactor, lhs.points == rhs.points, lhs.hosts == rhs.hosts else {
      return false
    }
    return zip(lhs.owners, rhs.owners).allSatisfy { lhs.slots[Int($0)] == rhs.slots[Int($1)] }
  }
}
