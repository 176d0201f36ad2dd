import ControlPlaneKit
import DaprProto
import GRPCCore
import GRPCNIOTransportHTTP2
import LeanGRPCClient
import PlacementSimulator
import Synchronization

/// A fleet of simulated sidecars on a placement server, each on its own HTTP/2 connection with one
/// `ReportDaprStatus` stream that reports its host and acknowledges every order, as daprd 1.17 does.
protocol SidecarFleet: Sendable {
  /// Waits until every sidecar has an UNLOCK of at least `version` (of any version when nil).
  func waitUntilAllUnlocked(atLeast version: UInt64?) async throws
  /// The newest UNLOCK any sidecar has.
  var newestUnlock: UInt64 { get }
  /// Whether every sidecar's last order is the UNLOCK of `version`.
  func isSettled(at version: UInt64) -> Bool
  /// Sends a new report from the first sidecar.
  func reportFromFirst(_ report: SimulatedSidecar.Host)
  func stop() async
}

/// Each sidecar a ``LeanGRPCConnection``: orders are handled (read, recorded, acknowledged) on the event loop as
/// they arrive, so that the fleet's core is not what limits a round.
final class LeanFleet: SidecarFleet {
  let progress: FleetProgress
  let connections: [LeanGRPCConnection]
  let first: LeanGRPCStream

  /// Connects every sidecar at once, each with its report; `identities` (one per sidecar) for mutual TLS.
  static func start(
    port: Int, reports: [SimulatedSidecar.Host], identities: (identities: [TLSIdentity], verifier: SPIFFEPeerVerifier)?
  ) async throws -> LeanFleet {
    let progress = FleetProgress(sidecars: reports.count)
    let tls = try identities.map { set in
      try set.identities.map { try LeanGRPCTLS(identity: $0, verifier: set.verifier) }
    }
    let sidecars = try await withThrowingTaskGroup(of: (Int, LeanGRPCConnection, LeanGRPCStream).self) { group in
      for (index, report) in reports.enumerated() {
        group.addTask {
          let connection = try await LeanGRPCConnection.connect(
            host: "127.0.0.1", port: port, tls: tls?[index],
            // As daprd's grpc-go, which grows its window with its bandwidth estimate: an UPDATE larger than 64 KiB
            // does not wait a round trip for a WINDOW_UPDATE.
            receiveWindow: 4 << 20, maxFrameSize: 1 << 20)
          let stream = try await connection.openStream(
            path: "/dapr.proto.placement.v1.Placement/ReportDaprStatus", request: try report.serializedBytes(),
            endOfRequests: false
          ) { message, stream in
            guard let order = try? message.withUnsafeReadableBytes({ try SimulatedSidecar.orderHeader(of: $0) })
            else { return }
            progress.record(index, order)
            if let ack: [UInt8] = try? SimulatedSidecar.acknowledgement(of: order, from: report).serializedBytes() {
              stream.send(ack)
            }
          }
          return (index, connection, stream)
        }
      }
      var sidecars: [(Int, LeanGRPCConnection, LeanGRPCStream)] = []
      for try await sidecar in group { sidecars.append(sidecar) }
      return sidecars.sorted { $0.0 < $1.0 }
    }
    return LeanFleet(progress: progress, connections: sidecars.map(\.1), first: sidecars[0].2)
  }

  init(progress: FleetProgress, connections: [LeanGRPCConnection], first: LeanGRPCStream) {
    self.progress = progress
    self.connections = connections
    self.first = first
  }

  func waitUntilAllUnlocked(atLeast version: UInt64?) async { await progress.waitUntilAllUnlocked(atLeast: version) }
  var newestUnlock: UInt64 { progress.newestUnlock }
  func isSettled(at version: UInt64) -> Bool { progress.isSettled(at: version) }
  func reportFromFirst(_ report: SimulatedSidecar.Host) {
    if let bytes: [UInt8] = try? report.serializedBytes() { first.send(bytes) }
  }
  func stop() async {
    for connection in connections { await connection.close() }
  }
}

/// Which UNLOCK each sidecar of a ``LeanFleet`` has reached, and the one waiter for all of them.
final class FleetProgress: Sendable {
  struct State {
    var lastOperation: [String]
    var unlocked: [UInt64?]
    var waiter: (version: UInt64?, remaining: Int, continuation: CheckedContinuation<Void, Never>)?
  }
  let state: Mutex<State>

  init(sidecars: Int) {
    state = Mutex(
      State(lastOperation: Array(repeating: "", count: sidecars), unlocked: Array(repeating: nil, count: sidecars)))
  }

  static func reached(_ unlocked: UInt64?, _ version: UInt64?) -> Bool {
    guard let unlocked else { return false }
    return version.map { unlocked >= $0 } ?? true
  }

  func record(_ index: Int, _ order: SimulatedSidecar.Order) {
    state.withLock { state in
      state.lastOperation[index] = order.operation
      guard order.operation == "unlock" else { return }
      let before = state.unlocked[index]
      state.unlocked[index] = order.version
      guard var waiter = state.waiter, !Self.reached(before, waiter.version),
        Self.reached(order.version, waiter.version)
      else { return }
      waiter.remaining -= 1
      if waiter.remaining == 0 {
        state.waiter = nil
        waiter.continuation.resume()
      } else {
        state.waiter = waiter
      }
    }
  }

  func waitUntilAllUnlocked(atLeast version: UInt64?) async {
    await withCheckedContinuation { continuation in
      state.withLock { state in
        let remaining = state.unlocked.count { !Self.reached($0, version) }
        if remaining == 0 { return continuation.resume() }
        state.waiter = (version, remaining, continuation)
      }
    }
  }

  var newestUnlock: UInt64 { state.withLock { $0.unlocked.compactMap { $0 }.max() ?? 0 } }

  func isSettled(at version: UInt64) -> Bool {
    state.withLock { state in
      state.lastOperation.allSatisfy { $0 == "unlock" } && state.unlocked.allSatisfy { $0 == version }
    }
  }
}

/// Each sidecar a ``SimulatedSidecar`` on grpc-swift's client (as the tests use): each order costs the fleet's core
/// more than placement spends sending it. For comparison with ``LeanFleet``.
final class GRPCSwiftFleet: SidecarFleet {
  let sidecars: [SimulatedSidecar]
  let clients: [GRPCClient<HTTP2ClientTransport.Posix>]
  let running: Task<Void, Never>

  init(
    port: Int, reports: [SimulatedSidecar.Host], identities: (identities: [TLSIdentity], verifier: SPIFFEPeerVerifier)?
  ) throws {
    sidecars = reports.map { report in
      SimulatedSidecar(
        name: report.name, appID: report.id, namespace: report.namespace, actorTypes: report.entities,
        decodesTables: false)
    }
    clients = try reports.indices.map { index in
      let security: GRPCClientSecurity =
        identities.map { .tls(identity: LatestValue($0.identities[index]), verifier: $0.verifier) } ?? .plaintext
      let transport = try SecureGRPC.clientTransport(host: "127.0.0.1", port: port, security: security) { config in
        config.http2.maxFrameSize = 1 << 20
        config.http2.targetWindowSize = 4 << 20
      }
      return GRPCClient(transport: transport)
    }
    let (sidecars, clients) = (self.sidecars, self.clients)
    running = Task {
      await withTaskGroup(of: Void.self) { group in
        for client in clients { group.addTask { try? await client.runConnections() } }
        for (sidecar, client) in zip(sidecars, clients) { group.addTask { await sidecar.run(on: client) } }
      }
    }
  }

  func waitUntilAllUnlocked(atLeast version: UInt64?) async throws {
    for sidecar in sidecars {
      _ = try await sidecar.waitUntil { orders in
        orders.contains { $0.operation == "unlock" && FleetProgress.reached($0.version, version) }
      }
    }
  }

  var newestUnlock: UInt64 {
    sidecars.compactMap { $0.orders.last { $0.operation == "unlock" }?.version }.max() ?? 0
  }

  func isSettled(at version: UInt64) -> Bool {
    sidecars.allSatisfy { $0.orders.last?.operation == "unlock" && $0.orders.last?.version == version }
  }

  func reportFromFirst(_ report: SimulatedSidecar.Host) { sidecars[0].send(report) }

  func stop() async {
    for sidecar in sidecars { sidecar.close() }
    for client in clients { client.beginGracefulShutdown() }
    running.cancel()
    await running.value
  }
}
