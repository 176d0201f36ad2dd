import ControlPlaneTestSupport
import Foundation
import Kubernetes
import Logging

/// Measures the Kubernetes client's reflector against the real test control plane:
///
/// 1. writes `objects` ConfigMaps (32 writers),
/// 2. syncs an informer over all of them (list in pages of 500): time, objects/s, resident memory per object,
/// 3. streams `updates` changes through the synced informer: end-to-end events/s,
/// 4. decodes the same list again in-process, without the network: the client's own decoding cost.
///
/// `swift run -c release ReflectorBenchmark [objects] [updates]`
@main
struct ReflectorBenchmark {
  static func main() async throws {
    let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
    let objects = arguments.first ?? 10_000
    let updates = arguments.dropFirst().first ?? 5_000
    let cluster = try await LocalKubernetes.shared.cluster()
    let client = try cluster.adminClient()
    let namespace = "bench-\(UInt32.random(in: 0...UInt32.max))"
    _ = try await client.create(Namespace(name: namespace))
    report(
      "reflector benchmark: \(objects) ConfigMaps, \(updates) updates, \(ProcessInfo.processInfo.activeProcessorCount) cores"
    )

    // 1. Writing.
    let writeStart = ContinuousClock.now
    try await concurrently(objects, width: 32) { index in
      var map = ConfigMap(name: "object-\(index)", namespace: namespace)
      map.metadata.labels = ["benchmark": "reflector", "shard": String(index % 16)]
      map.data = ["index": String(index), "payload": String(repeating: "x", count: 200)]
      _ = try await client.create(map)
    }
    let writeTime = ContinuousClock.now - writeStart
    report(
      row(
        "create \(objects) objects (API server bound)", writeTime, rate: Double(objects) / writeTime.seconds,
        unit: "objects/s"))

    // 2. Initial sync.
    let baseline = residentBytes()
    let informer = Informer<ConfigMap>(client: client, namespace: namespace, logger: Logger(label: "bench"))
    let running = Task { try await informer.run() }
    let syncStart = ContinuousClock.now
    await informer.waitUntilSynced()
    let syncTime = ContinuousClock.now - syncStart
    let afterSync = residentBytes()
    report(row("initial list + sync", syncTime, rate: Double(objects) / syncTime.seconds, unit: "objects/s"))
    report(
      "  resident memory: \(mebibytes(baseline)) before, \(mebibytes(afterSync)) after sync, "
        + "\((afterSync - baseline) / max(objects, 1)) bytes per cached object")

    // 3. Events through the watch.
    var events = informer.events().makeAsyncIterator()
    let updateStart = ContinuousClock.now
    let writer = Task {
      try await concurrently(updates, width: 32) { index in
        _ = try await client.patch(
          ConfigMap.self, namespace: namespace, name: "object-\(index % objects)",
          .merge(["data": ["update": .string(String(index))]]))
      }
    }
    var seen = 0
    while seen < updates, let event = await events.next() {
      if case .updated = event { seen += 1 }
    }
    try await writer.value
    let updateTime = ContinuousClock.now - updateStart
    report(
      row(
        "\(updates) updates written and seen by the informer", updateTime, rate: Double(seen) / updateTime.seconds,
        unit: "events/s"))

    // 4. Decoding alone.
    let page = try await client.getRaw("/api/v1/namespaces/\(namespace)/configmaps")
    let bytes = Data(page.utf8)
    let decodeStart = ContinuousClock.now
    let rounds = 3
    for _ in 0..<rounds {
      let list = try JSONCoding.decode(KubernetesList<ConfigMap>.self, from: bytes)
      // The namespace also holds the kube-root-ca.crt ConfigMap that Kubernetes puts in every namespace.
      precondition(list.items.count >= objects)
    }
    let decodeTime = (ContinuousClock.now - decodeStart) / rounds
    report(
      row(
        "decode one \(bytes.count / 1024) KiB list in-process", decodeTime, rate: Double(objects) / decodeTime.seconds,
        unit: "objects/s"))

    running.cancel()
    _ = try? await running.value
    try await client.delete(Namespace.self, name: namespace)
    await client.shutdown()
  }

  static func concurrently(
    _ count: Int, width: Int, _ body: @escaping @Sendable (Int) async throws -> Void
  ) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
      var next = 0
      while next < min(width, count) {
        let index = next
        group.addTask { try await body(index) }
        next += 1
      }
      while try await group.next() != nil {
        if next < count {
          let index = next
          group.addTask { try await body(index) }
          next += 1
        }
      }
    }
  }

  /// Writes a line at once (stdout is block-buffered when it is not a terminal).
  static func report(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
  }

  static func row(_ name: String, _ time: Duration, rate: Double, unit: String) -> String {
    "  \(name): \(String(format: "%.3f", time.seconds)) s, \(Int(rate)) \(unit)"
  }

  static func residentBytes() -> Int {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
      let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
    else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
  }

  static func mebibytes(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
}

extension Duration {
  var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
