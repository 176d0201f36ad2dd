import ControlPlaneKit
import ControlPlaneTestSupport
import DaprProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Kubernetes
import LeanGRPCClient
import Logging
import Operator
import ServiceLifecycle
import Synchronization
import X509

/// The operator's fan-out benchmark; `scripts/benchmarks/operator.sh` runs it against the test control plane.
///
/// - `OperatorBenchmark setup DIR`: a CA, the operator's identity and one sidecar identity (namespace `bench`).
/// - `OperatorBenchmark server KUBECONFIG DIR PORT`: the operator's API (caches, fan-out, gRPC over mTLS).
/// - `OperatorBenchmark clients KUBECONFIG DIR PORT SIDECARS CHANGES SERVER_PID`: that many sidecars (on the client
///   ``SidecarClient/fromEnvironment()`` names), each on its own connection with a ComponentUpdate stream; then
///   CHANGES edits of Component `bench/bench` through the API server, each timed until the last stream has it; and
///   the server's resident memory with the streams connected.
/// - `OperatorBenchmark idle KUBECONFIG DIR PORT SIDECARS SERVER_PID`: that many sidecars holding all seven update
///   streams on one connection each, as daprd does; once an edit of each of the five real kinds has reached every
///   stream of its kind, the server's resident memory.
struct BenchmarkFailure: Error, CustomStringConvertible {
  let description: String
}

@main
struct OperatorBenchmark {
  static func main() async throws {
    ControlPlaneProcess.runTasksOnEventLoops()
    let arguments = Array(CommandLine.arguments.dropFirst())
    switch arguments.first {
    case "setup" where arguments.count == 2:
      try setup(directory: arguments[1])
    case "server" where arguments.count == 4:
      try await server(kubeconfig: arguments[1], directory: arguments[2], port: Int(arguments[3]) ?? 0)
    case "idle" where arguments.count == 6:
      let numbers = arguments[3...].compactMap { Int($0) }
      try await idle(
        kubeconfig: arguments[1], directory: arguments[2], port: numbers[0], sidecars: numbers[1], serverPID: numbers[2]
      )
    case "clients" where arguments.count == 7:
      let numbers = arguments[3...].compactMap { Int($0) }
      try await clients(
        kubeconfig: arguments[1], directory: arguments[2], port: numbers[0], sidecars: numbers[1],
        changes: numbers[2], serverPID: numbers[3], client: SidecarClient.fromEnvironment())
    default:
      print(
        "usage: OperatorBenchmark setup DIR | server KUBECONFIG DIR PORT"
          + " | clients KUBECONFIG DIR PORT SIDECARS CHANGES SERVER_PID | idle KUBECONFIG DIR PORT SIDECARS SERVER_PID")
      exit(2)
    }
  }

  static let operatorID = try! SPIFFEID(trustDomain: "cluster.local", namespace: "dapr-system", appID: "dapr-operator")
  static let sidecarID = try! SPIFFEID(trustDomain: "cluster.local", namespace: "bench", appID: "app")

  static func setup(directory: String) throws {
    let ca = try TestCertificateAuthority()
    func write(_ name: String, _ text: String) throws {
      try text.write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8)
    }
    try write("ca.pem", try ca.trustBundle.pemEncoded())
    for (name, id) in [("operator", operatorID), ("sidecar", sidecarID)] {
      let identity = try ca.issue(spiffeID: id, keyType: .ecdsaP256, validity: 86_400)
      try write("\(name).pem", try identity.leaf.serializeAsPEM().pemString)
      try write("\(name)-key.pem", try identity.privateKey.serializeAsPEM().pemString)
    }
  }

  static func load(_ directory: String, _ name: String) throws -> (LatestValue<TLSIdentity>, TrustBundle) {
    let identity = try TLSIdentity(
      certificateChain: [Certificate(pemEncoded: String(contentsOfFile: "\(directory)/\(name).pem", encoding: .utf8))],
      privateKey: Certificate.PrivateKey(
        pemEncoded: String(contentsOfFile: "\(directory)/\(name)-key.pem", encoding: .utf8)))
    return (LatestValue(identity), try TrustBundle(contentsOfFile: "\(directory)/ca.pem"))
  }

  static func server(kubeconfig: String, directory: String, port: Int) async throws {
    var logger = Logger(label: "dapr.operator")
    logger.logLevel = .warning
    let (identity, anchors) = try load(directory, "operator")
    let client = try KubernetesClient(
      configuration: try KubernetesConfiguration.kubeconfig(path: kubeconfig), logger: logger)
    let environment = ProcessEnvironment(
      component: .operator, logger: logger, metrics: MetricsRegistry(),
      readiness: ReadinessTargets([OperatorServer.apiTarget, "operator-caches"]))
    let services = OperatorServer.apiServices(
      client: client, identity: identity, anchors: LatestValue(anchors), host: "127.0.0.1", port: port,
      environment: environment)
    var configuration = ServiceGroupConfiguration(
      // As every control-plane process: freed heap memory and, once ready, start-up's code pages go back to the system.
      services: (services + [HeapTrimService(releasingStartupPagesOnce: environment.readiness, logger: logger)]).map {
        .init(service: $0)
      },
      gracefulShutdownSignals: [.sigterm], logger: logger)
    // As the operator itself: a stop that takes longer is cut short.
    configuration.maximumGracefulShutdownDuration = .seconds(5)
    let group = ServiceGroup(configuration: configuration)
    try await group.run()
    await client.shutdown()
  }

  /// Receipts of each change marker, across every stream.
  final class Receipts: Sendable {
    let counts = Mutex<[String: (count: Int, last: ContinuousClock.Instant)]>([:])

    func record(_ marker: String) {
      let now = ContinuousClock.now
      counts.withLock { counts in
        counts[marker] = ((counts[marker]?.count ?? 0) + 1, now)
      }
    }

    func count(_ marker: String) -> (Int, ContinuousClock.Instant?) {
      counts.withLock { ($0[marker]?.count ?? 0, $0[marker]?.last) }
    }
  }

  /// One gRPC client (one connection) per sidecar, with the sidecar's identity.
  static func sidecarClients(
    directory: String, port: Int, count: Int
  ) throws -> [GRPCClient<HTTP2ClientTransport.Posix>] {
    let (identity, anchors) = try load(directory, "sidecar")
    return try (0..<count).map { _ in
      GRPCClient(
        transport: try SecureGRPC.clientTransport(
          host: "127.0.0.1", port: port,
          security: .tls(
            identity: identity,
            verifier: SPIFFEPeerVerifier(trustAnchors: { anchors }, requirement: .exactly(operatorID)))))
    }
  }

  /// The `marker` annotation of an object received on a stream.
  static func marker(_ bytes: Data) -> String? {
    (try? JSONCoding.parse(bytes))?["metadata"]?["annotations"]?["marker"]?.stringValue
  }

  /// Opens daprd's seven update streams on `client`, recording each received object's marker by kind.
  static func openSevenStreams(
    _ client: GRPCClient<HTTP2ClientTransport.Posix>, receipts: Receipts,
    group: inout ThrowingTaskGroup<Void, any Error>
  ) {
    let api = Dapr_Proto_Operator_V1_Operator.Client(wrapping: client)
    @Sendable func record(_ kind: String, _ bytes: Data) {
      if let marker = marker(bytes) { receipts.record("\(kind)/\(marker)") }
    }
    let ns = "bench"
    group.addTask {
      try? await api.componentUpdate(.with { $0.namespace = ns }) {
        for try await e in $0.messages { record("component", e.component) }
      }
    }
    group.addTask {
      try? await api.configurationUpdate(.with { $0.namespace = ns }) {
        for try await e in $0.messages { record("configuration", e.configuration) }
      }
    }
    group.addTask {
      try? await api.subscriptionUpdate(.with { $0.namespace = ns }) {
        for try await e in $0.messages { record("subscription", e.subscription) }
      }
    }
    group.addTask {
      try? await api.resiliencyUpdate(.with { $0.namespace = ns }) {
        for try await e in $0.messages { record("resiliency", e.resiliency) }
      }
    }
    group.addTask {
      try? await api.httpEndpointUpdate(.with { $0.namespace = ns }) {
        for try await e in $0.messages { record("httpendpoint", e.httpEndpoints) }
      }
    }
    group.addTask { try? await api.mcpServerUpdate(.with { $0.namespace = ns }) { for try await _ in $0.messages {} } }
    group.addTask {
      try? await api.workflowAccessPolicyUpdate(.with { $0.namespace = ns }) { for try await _ in $0.messages {} }
    }
  }

  static func idle(kubeconfig: String, directory: String, port: Int, sidecars: Int, serverPID: Int) async throws {
    let receipts = Receipts()
    let grpcClients = try sidecarClients(directory: directory, port: port, count: sidecars)
    let kubernetes = try KubernetesClient(configuration: try KubernetesConfiguration.kubeconfig(path: kubeconfig))
    try await withThrowingTaskGroup(of: Void.self) { group in
      for client in grpcClients {
        group.addTask { try await client.runConnections() }
        openSevenStreams(client, receipts: receipts, group: &group)
      }
      // Until an edit of each kind has reached every stream of that kind: all streams are connected.
      var round = 0
      let kinds = ["component", "configuration", "subscription", "resiliency", "httpendpoint"]
      while true {
        round += 1
        guard round <= 30 else {
          throw BenchmarkFailure(description: "after 30 edits of each kind, not every stream had received one")
        }
        let marker = JSONValue.object(["metadata": ["annotations": ["marker": .string("idle-\(round)")]]])
        _ = try await kubernetes.patch(DaprComponent.self, namespace: "bench", name: "bench", .merge(marker))
        _ = try await kubernetes.patch(DaprConfiguration.self, namespace: "bench", name: "bench", .merge(marker))
        _ = try await kubernetes.patch(DaprSubscription.self, namespace: "bench", name: "bench", .merge(marker))
        _ = try await kubernetes.patch(DaprResiliency.self, namespace: "bench", name: "bench", .merge(marker))
        _ = try await kubernetes.patch(DaprHTTPEndpoint.self, namespace: "bench", name: "bench", .merge(marker))
        let deadline = ContinuousClock.now + .seconds(10)
        func done() -> Bool { kinds.allSatisfy { receipts.count("\($0)/idle-\(round)").0 >= sidecars } }
        while !done(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if done() { break }
      }
      // Idle: after the operator's next heap check (every 5 s), which gives back what connecting freed.
      try await Task.sleep(for: .seconds(6))
      let rss = residentMiB(serverPID)
      print("| \(sidecars) | 7 (one connection each) | \(rss.map { "\($0) MiB" } ?? "-") |")
      for client in grpcClients { client.beginGracefulShutdown() }
      group.cancelAll()
    }
    await kubernetes.shutdown()
  }

  /// The Component's `marker` metadata value in an update event's bytes.
  static func componentMarker(_ component: Data) -> String? {
    (try? JSONCoding.parse(component))?["spec"]?["metadata"]?.arrayValue?.first?["value"]?.stringValue
  }

  /// Connects `sidecars` lean sidecars, each with a ComponentUpdate stream, a hundred handshakes at a time.
  static func leanSidecars(
    directory: String, port: Int, count: Int, receipts: Receipts
  ) async throws
    -> [LeanGRPCConnection]
  {
    let (identity, anchors) = try load(directory, "sidecar")
    let tls = try LeanGRPCTLS(
      identity: identity.current,
      verifier: SPIFFEPeerVerifier(trustAnchors: { anchors }, requirement: .exactly(operatorID)))
    var request = Dapr_Proto_Operator_V1_ComponentUpdateRequest()
    request.namespace = "bench"
    let requestBytes: [UInt8] = try request.serializedBytes()
    var connections: [LeanGRPCConnection] = []
    for start in stride(from: 0, to: count, by: 100) {
      try await withThrowingTaskGroup(of: LeanGRPCConnection.self) { group in
        for _ in start..<min(count, start + 100) {
          group.addTask {
            let connection = try await LeanGRPCConnection.connect(host: "127.0.0.1", port: port, tls: tls)
            _ = try await connection.openStream(
              path: "/dapr.proto.operator.v1.Operator/ComponentUpdate", request: requestBytes, endOfRequests: true
            ) { message, _ in
              let bytes = Data(message.readableBytesView)
              guard let event = try? Dapr_Proto_Operator_V1_ComponentUpdateEvent(serializedBytes: bytes),
                let marker = componentMarker(event.component)
              else { return }
              receipts.record(marker)
            }
            return connection
          }
        }
        for try await connection in group { connections.append(connection) }
      }
    }
    return connections
  }

  static func clients(
    kubeconfig: String, directory: String, port: Int, sidecars: Int, changes: Int, serverPID: Int,
    client: SidecarClient
  ) async throws {
    let receipts = Receipts()
    let grpcClients = client == .grpcSwift ? try sidecarClients(directory: directory, port: port, count: sidecars) : []
    let leanConnections =
      client == .lean
      ? try await leanSidecars(directory: directory, port: port, count: sidecars, receipts: receipts) : []
    let kubernetes = try KubernetesClient(configuration: try KubernetesConfiguration.kubeconfig(path: kubeconfig))
    try await withThrowingTaskGroup(of: Void.self) { group in
      for client in grpcClients {
        group.addTask { try await client.runConnections() }
        group.addTask {
          var request = Dapr_Proto_Operator_V1_ComponentUpdateRequest()
          request.namespace = "bench"
          try? await Dapr_Proto_Operator_V1_Operator.Client(wrapping: client).componentUpdate(request) { response in
            for try await event in response.messages {
              if let marker = componentMarker(event.component) { receipts.record(marker) }
            }
          }
        }
      }
      func change(_ marker: String) async throws -> ContinuousClock.Instant {
        let start = ContinuousClock.now
        _ = try await kubernetes.patch(
          DaprComponent.self, namespace: "bench", name: "bench",
          .merge(["spec": ["metadata": [["name": "marker", "value": .string(marker)]]]]))
        return start
      }
      // Warm up until one change reaches every stream: all are connected.
      var warmup = 0
      while true {
        warmup += 1
        _ = try await change("warmup-\(warmup)")
        let deadline = ContinuousClock.now + .seconds(5)
        while receipts.count("warmup-\(warmup)").0 < sidecars, ContinuousClock.now < deadline {
          try await Task.sleep(for: .milliseconds(20))
        }
        if receipts.count("warmup-\(warmup)").0 >= sidecars { break }
      }
      let rss = residentMiB(serverPID)
      var durations: [Double] = []
      for index in 1...changes {
        let marker = "change-\(index)"
        let start = try await change(marker)
        while receipts.count(marker).0 < sidecars { try await Task.sleep(for: .microseconds(200)) }
        let last = receipts.count(marker).1!
        durations.append(
          Double((last - start).components.attoseconds) / 1e15 + Double((last - start).components.seconds) * 1000)
      }
      durations.sort()
      let p50 = durations[durations.count / 2]
      let p99 = durations[min(durations.count - 1, Int((Double(durations.count) * 0.99).rounded(.up)) - 1)]
      print(String(format: "| %d | %.1f ms | %.1f ms | %@ |", sidecars, p50, p99, rss.map { "\($0) MiB" } ?? "-"))
      for client in grpcClients { client.beginGracefulShutdown() }
      for connection in leanConnections { await connection.close() }
      group.cancelAll()
    }
    await kubernetes.shutdown()
  }

  static func residentMiB(_ pid: Int) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
      let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
      let kib = Int(line.split(separator: " ").dropFirst().first ?? "")
    else { return nil }
    return kib / 1024
  }
}
