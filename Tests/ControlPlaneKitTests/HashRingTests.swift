import ControlPlaneKit
import Testing

@Suite struct HashRingTests {
  static let threeHosts = ["10.0.0.1:50002", "10.0.0.2:50002", "10.0.0.3:50002"]

  @Test func aHostsPointsAreDaprsUnitTestVectors() {
    #expect(
      HashRing.points(of: "192.168.1.83:60992", replicationFactor: 5) == [
        11_414_427_053_803_968_138, 6_110_756_290_993_384_529, 13_876_541_546_109_691_082,
        12_165_331_075_625_862_737, 9_528_020_266_818_944_582,
      ])
  }

  @Test(
    "Actor ids land where daprd puts them, three hosts at replication factor 100",
    arguments: [
      ("actor-1", "10.0.0.1:50002"), ("actor-2", "10.0.0.3:50002"), ("actor-3", "10.0.0.2:50002"),
      ("0", "10.0.0.2:50002"), ("1", "10.0.0.3:50002"), ("2", "10.0.0.3:50002"), ("myactor", "10.0.0.1:50002"),
      ("a", "10.0.0.2:50002"),
      // Above the highest point: wraps around to the first.
      ("w112", "10.0.0.3:50002"),
      // An id equal to a point's string.
      ("10.0.0.2:500020", "10.0.0.2:50002"),
    ])
  func threeHostLookups(actorID: String, expected: String) {
    let ring = HashRing(replicationFactor: 100, hosts: Self.threeHosts)
    #expect(ring.host(for: actorID) == expected)
  }

  @Test(
    "Removing a host moves only its ids, as in daprd",
    arguments: [
      ("actor-1", "10.0.0.1:50002"), ("actor-2", "10.0.0.1:50002"), ("actor-3", "10.0.0.2:50002"),
      ("0", "10.0.0.2:50002"), ("1", "10.0.0.2:50002"), ("2", "10.0.0.1:50002"), ("w112", "10.0.0.1:50002"),
      ("myactor", "10.0.0.1:50002"), ("a", "10.0.0.2:50002"),
    ])
  func lookupsAfterRemoval(actorID: String, expected: String) {
    var ring = HashRing(replicationFactor: 100, hosts: Self.threeHosts)
    let removed = ring.remove("10.0.0.3:50002")
    #expect(removed)
    #expect(ring.host(for: actorID) == expected)
    #expect(ring == HashRing(replicationFactor: 100, hosts: Self.threeHosts.dropLast()))
  }

  @Test func tenThousandIdsSplitAsInDaprd() {
    let ring = HashRing(replicationFactor: 100, hosts: Self.threeHosts)
    var counts: [String: Int] = [:]
    for id in 0..<10_000 { counts[ring.host(for: String(id))!, default: 0] += 1 }
    #expect(counts == ["10.0.0.1:50002": 3442, "10.0.0.2:50002": 3369, "10.0.0.3:50002": 3189])
  }

  @Test func withReplicationFactorOneTheFirstIdsAllGoToTheFirstHost() {
    let ring = HashRing(replicationFactor: 1, hosts: Self.threeHosts)
    for id in ["actor-1", "actor-2", "actor-3", "0", "1", "2"] {
      #expect(ring.host(for: id) == "10.0.0.1:50002", "\(id)")
    }
  }

  @Test func anEmptyRingHasNoHostAndHostsAreAddedOnce() {
    var ring = HashRing(replicationFactor: 10)
    #expect(ring.host(for: "x") == nil)
    let addedFirst = ring.add("a:1")
    #expect(addedFirst)
    let addedAgain = ring.add("a:1")
    #expect(!addedAgain)
    #expect(ring.pointCount == 10)
    let removedUnknown = ring.remove("b:1")
    #expect(!removedUnknown)
    let removedKnown = ring.remove("a:1")
    #expect(removedKnown)
    #expect(ring.isEmpty && ring.pointCount == 0 && ring.host(for: "x") == nil)
  }

  @Test(
    "Adding hosts one by one builds the same ring as building it at once, whatever the order",
    arguments: [1, 7, 100])
  func incrementalEqualsBulk(replicationFactor: Int) {
    let hosts = (0..<40).map { "10.1.\($0 / 10).\($0 % 10):50002" }
    var incremental = HashRing(replicationFactor: replicationFactor)
    for host in hosts.reversed() { incremental.add(host) }
    #expect(incremental == HashRing(replicationFactor: replicationFactor, hosts: hosts))
    // Remove half, add them back: still the same ring, slots reused.
    for host in hosts.prefix(20) { incremental.remove(host) }
    #expect(incremental == HashRing(replicationFactor: replicationFactor, hosts: hosts.dropFirst(20)))
    for host in hosts.prefix(20) { incremental.add(host) }
    #expect(incremental == HashRing(replicationFactor: replicationFactor, hosts: hosts))
  }

  /// Consistent hashing's promise: with N hosts, adding one moves about 1/(N+1) of the keys, all to the new host.
  @Test("Adding a host moves about 1/(N+1) of the keys, only to the new host", arguments: [3, 10, 50])
  func addingOneHostMovesItsShareOnly(hostCount: Int) {
    let hosts = (0..<hostCount).map { "10.2.0.\($0):50002" }
    let before = HashRing(replicationFactor: 100, hosts: hosts)
    var after = before
    after.add("10.2.1.0:50002")
    let keys = (0..<20_000).map { "actor-\($0)" }
    var moved = 0
    for key in keys {
      let old = before.host(for: key)
      let new = after.host(for: key)
      if old != new {
        moved += 1
        #expect(new == "10.2.1.0:50002", "\(key) moved from \(old ?? "-") to \(new ?? "-")")
      }
    }
    let expectedShare = 1.0 / Double(hostCount + 1)
    let share = Double(moved) / Double(keys.count)
    #expect(abs(share - expectedShare) < expectedShare * 0.35, "moved \(share), expected about \(expectedShare)")
  }
}
