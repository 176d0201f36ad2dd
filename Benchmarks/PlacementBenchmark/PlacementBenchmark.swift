import ControlPlaneKit
import ControlPlaneTestSupport
import DaprProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import LeanGRPCClient
import Placement
import PlacementSimulator
import X509

/// Placement's benchmarks; `scripts/benchmarks/placement.sh` runs them all and prints Markdown.
///
/// - `PlacementBenchmark ring`: ring lookups (ns/op) and adding one host, at 10 to 10,000 hosts (RF 100).
/// - `PlacementBenchmark tables`: the encoded UPDATE for 100 actor types x 100 hosts, here and in Dapr's shape.
/// - `PlacementBenchmark fleet PORT SIDECARS ACTOR_HOSTS TYPES ROUNDS [PLACEMENT_PID]`: connects a fleet of simulated
///   sidecars (each on its own HTTP/2 connection, as daprd) to a running placement, all at once, and times until
///   every one has its first table; then times ROUNDS dissemination rounds (one actor host changes its types,
///   every sidecar must have the new UNLOCK), and reads placement's resident memory with the fleet connected.
/// - `PlacementBenchmark fleet-mtls PORT SIDECARS ACTOR_HOSTS TYPES ROUNDS PLACEMENT_PID CREDENTIALS`: the same over
///   mTLS, against a placement with `--tls-enabled`: each sidecar gets its own SVID (`app-N` in `default`), signed
///   before the storm with the issuer sentry keeps in CREDENTIALS (`issuer.crt`, `issuer.key`, `ca.crt`).
///
/// The fleet's sidecars are ``LeanFleet``'s (gRPC over NIO's HTTP/2, orders handled on the event loop), or with
/// `SIDECAR_CLIENT=grpc-swift` ``GRPCSwiftFleet``'s (``SimulatedSidecar`` on grpc-swift's client, as the tests).
@main
struct PlacementBenchmark {
  static func main() async throws {
    ControlPlaneProcess.runTasksOnEventLoops()
    let arguments = Array(CommandLine.arguments.dropFirst())
    switch arguments.first {
    case "ring":
      ring()
    case "tables":
      tables()
    case "fleet", "fleet-mtls":
      let client = SidecarClient.fromEnvironment()
      let numbers = arguments.dropFirst().prefix(6).compactMap { Int($0) }
      guard numbers.count >= 5 else { usage() }
      let credentials = arguments.first == "fleet-mtls" ? arguments.dropFirst(7).first : nil
      if arguments.first == "fleet-mtls", credentials == nil || numbers.count < 6 { usage() }
      do {
        try await fleet(
          port: numbers[0], sidecars: numbers[1], actorHosts: numbers[2], types: numbers[3], rounds: numbers[4],
          placementPID: numbers.count > 5 ? numbers[5] : nil, credentials: credentials, client: client)
      } catch {
        print("| \(numbers[1]) | \(numbers[2]) x \(numbers[3]) | - | failed: \(error) | - | - | - |")
      }
    default:
      usage()
    }
  }

  static func usage() -> Never {
    print(
      "usage: PlacementBenchmark ring | tables | fleet PORT SIDECARS ACTOR_HOSTS TYPES ROUNDS [PLACEMENT_PID]"
        + " | fleet-mtls PORT SIDECARS ACTOR_HOSTS TYPES ROUNDS PLACEMENT_PID CREDENTIALS")
    exit(2)
  }

  static func hostName(_ index: Int) -> String {
    "10.\(index / 65536 % 256).\(index / 256 % 256).\(index % 256):50002"
  }

  static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

  static func percentile(_ values: [Double], _ q: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((q * Double(sorted.count)).rounded(.up)) - 1)]
  }

  // === The ring ===

  static func ring() {
    print(
      "| hosts | points | lookup (ns/op, median of 5 x 200,000) | add one host (µs, median of 21) | remove one host (µs) |"
    )
    print("|---|---|---|---|---|")
    let ids = (0..<200_000).map { "actor-\($0)" }
    for count in [10, 100, 1_000, 10_000] {
      var ring = HashRing(replicationFactor: 100, hosts: (0..<count).map(hostName))
      var sink = 0
      var lookups: [Double] = []
      for _ in 0..<5 {
        let start = ContinuousClock.now
        for id in ids { sink &+= ring.host(for: id)?.utf8.count ?? 0 }
        lookups.append(nanoseconds(ContinuousClock.now - start) / Double(ids.count))
      }
      var adds: [Double] = []
      var removes: [Double] = []
      for round in 0..<21 {
        let extra = hostName(1_000_000 + round)
        let start = ContinuousClock.now
        ring.add(extra)
        let added = ContinuousClock.now
        ring.remove(extra)
        let removed = ContinuousClock.now
        adds.append(nanoseconds(added - start) / 1_000)
        removes.append(nanoseconds(removed - added) / 1_000)
      }
      precondition(sink > 0)
      print(
        "| \(count) | \(ring.pointCount) | \(format(median(lookups))) | \(format(median(adds))) | \(format(median(removes))) |"
      )
    }
  }

  static func nanoseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9
  }

  static func format(_ value: Double) -> String {
    value >= 100 ? String(Int(value.rounded())) : String(format: "%.1f", value)
  }

  // === Table sizes ===

  static func fleetHosts(actorHosts: Int, types: Int) -> [PlacementHost] {
    (0..<actorHosts).map { index in
      var host = PlacementHost()
      host.name = hostName(index)
      host.id = "app-\(index)"
      host.namespace = "default"
      host.entities = (0..<types).map { "actor-type-\($0)" }
      host.apiLevel = 20
      host.operation = .report
      return host
    }
  }

  /// The encoded UPDATE placement sends for these hosts.
  static func updateBytes(_ hosts: [PlacementHost]) -> Int {
    PlacementOrder.update(version: 1, tables: .make(version: 1, replicationFactor: 100, hosts: hosts)).encodedSize
  }

  static func tables() {
    let hosts = fleetHosts(actorHosts: 100, types: 100)
    let ours = updateBytes(hosts)
    // Dapr's shape: every load-map entry is the host's whole report, its entity list included.
    var dapr = PlacementTables()
    dapr.version = "1"
    dapr.replicationFactor = 100
    dapr.apiLevel = 20
    for host in hosts {
      for type in host.entities {
        dapr.entries[type, default: Dapr_Proto_Placement_V1_PlacementTable()].loadMap[host.name] = host
      }
    }
    var order = Dapr_Proto_Placement_V1_PlacementOrder()
    order.operation = "update"
    order.version = 1
    order.tables = dapr
    let theirs = ((try? order.serializedBytes() as [UInt8]) ?? []).count
    print("| tables | encoded UPDATE |")
    print("|---|---|")
    print(
      "| 100 actor types x 100 hosts, this placement | \(ours) bytes (\(String(format: "%.2f", Double(ours) / 1_048_576)) MiB) |"
    )
    print(
      "| the same in Dapr's shape (entity lists in every entry) | \(theirs) bytes (\(String(format: "%.2f", Double(theirs) / 1_048_576)) MiB) |"
    )
  }

  // === A fleet of sidecars ===

  static func fleet(
    port: Int, sidecars count: Int, actorHosts: Int, types: Int, rounds: Int, placementPID: Int?, credentials: String?,
    client: SidecarClient
  ) async throws {
    let typeNames = (0..<types).map { "actor-type-\($0)" }
    let reports = (0..<count).map { index in
      SimulatedSidecar(
        name: hostName(index), appID: "app-\(index)", actorTypes: index < actorHosts ? typeNames : []
      ).report
    }
    let tableBytes = updateBytes(fleetHosts(actorHosts: actorHosts, types: types))
    let identities = try credentials.map { try svids(for: reports, credentials: $0) }
    // All at once, as a fleet after a placement restart.
    let stormStart = ContinuousClock.now
    let fleet: any SidecarFleet =
      switch client {
      case .lean: try await LeanFleet.start(port: port, reports: reports, identities: identities)
      case .grpcSwift: try GRPCSwiftFleet(port: port, reports: reports, identities: identities)
      }
    // Everyone served, and the tables settled: every sidecar's last order is UNLOCK of one same version (checked
    // again after a quiet moment, in case one more round was just starting).
    var settled: UInt64 = 0
    var storm = Duration.zero
    var firstTables: Duration?
    while true {
      try await fleet.waitUntilAllUnlocked(atLeast: nil)
      // Every sidecar registered and was served a first table (the issue's measure).
      if firstTables == nil { firstTables = ContinuousClock.now - stormStart }
      let newest = fleet.newestUnlock
      try await fleet.waitUntilAllUnlocked(atLeast: newest)
      storm = ContinuousClock.now - stormStart
      try await Task.sleep(for: .milliseconds(300))
      if fleet.isSettled(at: newest) {
        settled = newest
        break
      }
    }
    // The fleet idle: after placement's next heap check (every 5 s), which gives back what the storm freed.
    try await Task.sleep(for: .seconds(6))
    let rss = placementPID.flatMap(residentMiB)

    // Rounds: the first actor host adds (then drops) a type; every sidecar must see the new UNLOCK.
    var durations: [Double] = []
    for round in 1...max(1, rounds) {
      var report = reports[0]
      if round % 2 == 1 { report.entities.append("actor-type-extra") }
      let version = settled + UInt64(round)
      let start = ContinuousClock.now
      fleet.reportFromFirst(report)
      try await fleet.waitUntilAllUnlocked(atLeast: version)
      durations.append(nanoseconds(ContinuousClock.now - start) / 1e6)
    }
    print(
      "| \(count) | \(actorHosts) x \(types) | \(String(format: "%.1f", Double(tableBytes) / 1024)) KB | "
        + "\(String(format: "%.2f", nanoseconds(firstTables ?? storm) / 1e9)) s | "
        + "\(String(format: "%.2f", nanoseconds(storm) / 1e9)) s | "
        + "\(format(percentile(durations, 0.5))) ms | \(format(percentile(durations, 0.99))) ms | "
        + "\(rss.map { "\($0) MiB" } ?? "-") |")
    await fleet.stop()
  }

  /// One SVID per sidecar (`app-N` in `default`, as each reports), signed with sentry's issuer, and the check that
  /// the server is placement.
  static func svids(
    for reports: [SimulatedSidecar.Host], credentials: String
  ) throws
    -> (identities: [TLSIdentity], verifier: SPIFFEPeerVerifier)
  {
    func read(_ name: String) throws -> String { try String(contentsOfFile: "\(credentials)/\(name)", encoding: .utf8) }
    let issuer = try Certificate(pemEncoded: try read("issuer.crt"))
    let authority = TestCertificateAuthority(
      certificate: issuer, privateKey: try Certificate.PrivateKey(pemEncoded: try read("issuer.key")))
    let anchors = try TrustBundle(pemEncoded: try read("ca.crt"))
    let identities = try reports.map { report in
      let leaf = try authority.issue(
        spiffeID: try SPIFFEID(trustDomain: "cluster.local", namespace: "default", appID: report.id),
        keyType: .ed25519)
      return try TLSIdentity(certificateChain: [leaf.leaf, issuer], privateKey: leaf.privateKey)
    }
    let placement = try SPIFFEID(trustDomain: "cluster.local", namespace: "default", appID: "dapr-placement")
    return (identities, SPIFFEPeerVerifier(trustAnchors: { anchors }, requirement: .exactly(placement)))
  }

  static func residentMiB(_ pid: Int) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
      let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
      let kib = Int(line.split(separator: " ").dropFirst().first ?? "")
    else { return nil }
    return kib / 1024
  }
}
