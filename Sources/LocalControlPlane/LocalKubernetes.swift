import Foundation
import Kubernetes

/// A real Kubernetes 1.20 control plane (etcd, kube-apiserver, kube-controller-manager built from Debian's
/// sources) for the tests of one test run: started on first use by `scripts/kubernetes/start.sh`, shared by every
/// suite, stopped when the test process exits (the script watches its parent).
///
/// Set `DAPR_TEST_KUBECONFIG` (and `DAPR_TEST_ETCD`) to use a control plane that is already running instead.
public actor LocalKubernetes {
  /// The control plane of this test run.
  public static let shared = LocalKubernetes()

  /// How to reach a running control plane.
  public struct Cluster: Sendable {
    /// The admin kubeconfig (client certificate in `system:masters`).
    public let kubeconfigPath: String
    /// `https://127.0.0.1:<port>`.
    public let server: String
    /// etcd's client URL, for compactions.
    public let etcdURL: String?
    /// The state folder: certificates, kubeconfigs and the components' logs (kept after the run).
    public let directory: String?

    /// The admin configuration.
    public func configuration() throws -> KubernetesConfiguration {
      try KubernetesConfiguration.kubeconfig(path: kubeconfigPath)
    }

    /// A client with admin rights; shut it down after use.
    public func adminClient() throws -> KubernetesClient {
      try KubernetesClient(configuration: try configuration())
    }

    /// Creates namespace `name` and waits until pods can be created in it: the controller manager has made its
    /// `default` service account and that account's token.
    public func createNamespaceForPods(_ name: String, client: KubernetesClient) async throws {
      _ = try await client.create(Namespace(name: name))
      try await eventually("the default service account of \(name) has a token") {
        let account = try? await client.get(ServiceAccount.self, namespace: name, name: "default")
        return account?.json["secrets"]?.arrayValue?.isEmpty == false
      }
    }

    /// Applies the CRDs in `crds/` (once is enough; later calls find them) and waits until they are served.
    public func installDaprCRDs(_ client: KubernetesClient) async throws {
      let folder = LocalKubernetes.repositoryRoot.appendingPathComponent("crds")
      for file in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
      where file.hasSuffix(".yaml") {
        let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
        for document in try YAMLDocuments.parse(text) {
          guard let object = document.objectValue else { continue }
          let crd = CustomResourceDefinition(json: object)
          let name = crd.metadata.name ?? ""
          let created: Result<CustomResourceDefinition, KubernetesError> = await {
            do throws(KubernetesError) {
              return .success(try await client.create(crd))
            } catch {
              return .failure(error)
            }
          }()
          if case .failure(let error) = created, error.code != .alreadyExists { throw error }
          try await eventually("CRD \(name) is established") {
            try await client.get(CustomResourceDefinition.self, name: name).isEstablished
          }
        }
      }
    }
  }

  private var starting: Task<Cluster, any Error>?
  private var process: Process?

  /// The repository's root, found from this file's location.
  public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// Starts the control plane, or returns the one already started.
  public func cluster() async throws -> Cluster {
    if let starting { return try await starting.value }
    let task = Task { try await self.launch() }
    starting = task
    return try await task.value
  }

  private func launch() async throws -> Cluster {
    let environment = ProcessInfo.processInfo.environment
    if let kubeconfig = environment["DAPR_TEST_KUBECONFIG"] {
      let configuration = try KubernetesConfiguration.kubeconfig(path: kubeconfig)
      return Cluster(
        kubeconfigPath: kubeconfig, server: configuration.server, etcdURL: environment["DAPR_TEST_ETCD"],
        directory: nil)
    }
    let (cluster, process) = try await Self.start(arguments: [])
    self.process = process
    return cluster
  }

  /// A control plane of its own for one test (for example with `--audit`, or where cluster-scoped objects must
  /// not meet other suites'), stopped by `stop()` or when the test process exits.
  public final class Dedicated: Sendable {
    public let cluster: Cluster
    private let pid: Int32

    init(cluster: Cluster, pid: Int32) {
      self.cluster = cluster
      self.pid = pid
    }

    /// The audit log, when started with `audit: true`.
    public var auditLogPath: String? { cluster.directory.map { $0 + "/logs/audit.log" } }

    /// Stops the control plane (its script stops etcd, the API server and the controller manager).
    public func stop() { kill(pid, SIGTERM) }

    /// Stops the control plane and waits (blocking, up to 30 s) until its script has stopped everything.
    public func stopAndWait() {
      stop()
      for _ in 0..<300 where kill(pid, 0) == 0 { usleep(100_000) }
    }
  }

  /// Starts a control plane for one test or one local run; with `audit` the API server logs every service
  /// account's request; `serviceCIDR` is the range of the Services' cluster IPs (see ``WebhookRouting``).
  public static func dedicated(audit: Bool = false, serviceCIDR: String? = nil) async throws -> Dedicated {
    var arguments = audit ? ["--audit"] : []
    if let serviceCIDR { arguments += ["--service-cidr", serviceCIDR] }
    let (cluster, process) = try await start(arguments: arguments)
    return Dedicated(cluster: cluster, pid: process.processIdentifier)
  }

  /// Runs `scripts/kubernetes/start.sh` with `arguments` and waits for its READY line.
  static func start(arguments: [String]) async throws -> (Cluster, Process) {
    let root = Self.repositoryRoot
    let runs = root.appendingPathComponent(".cache/test-clusters")
    try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
    Self.pruneOldRuns(in: runs, keeping: 3)
    let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
    let directory = runs.appendingPathComponent(
      "\(stamp)-\(ProcessInfo.processInfo.processIdentifier)-\(UInt16.random(in: 0...UInt16.max))")
    let log = directory.path + ".start.log"
    _ = FileManager.default.createFile(atPath: log, contents: nil)

    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments =
      [root.appendingPathComponent("scripts/kubernetes/start.sh").path, "--dir", directory.path, "--keep"] + arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    try SpawnThread.shared.run { try process.run() }

    // The script prints one line, `READY kubeconfig=... server=... etcd=... dir=...`, when the control plane is up.
    let line = try await Task.detached { () throws -> String in
      var data = Data()
      while true {
        let chunk = output.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        data.append(chunk)
        if data.contains(UInt8(ascii: "\n")) { break }
      }
      return String(decoding: data, as: UTF8.self)
    }.value
    guard line.hasPrefix("READY ") else {
      let tail = (try? String(contentsOfFile: log, encoding: .utf8))?.suffix(4000) ?? ""
      throw LocalKubernetesError(message: "the test control plane did not start; \(log) ends with:\n\(tail)")
    }
    var fields: [String: String] = [:]
    for pair in line.dropFirst(6).split(whereSeparator: \.isWhitespace) {
      let parts = pair.split(separator: "=", maxSplits: 1)
      if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
    }
    guard let kubeconfig = fields["kubeconfig"], let server = fields["server"] else {
      throw LocalKubernetesError(message: "unexpected line from start.sh: \(line)")
    }
    let child = process.processIdentifier
    atexit_b { kill(child, SIGTERM) }
    let cluster = Cluster(kubeconfigPath: kubeconfig, server: server, etcdURL: fields["etcd"], directory: fields["dir"])
    return (cluster, process)
  }

  /// Removes the folders of earlier test runs but the last `count`; never one of this process's own.
  private static func pruneOldRuns(in folder: URL, keeping count: Int) {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    let own = "-\(ProcessInfo.processInfo.processIdentifier)"
    let runs = Set(entries.map { $0.replacingOccurrences(of: ".start.log", with: "") }).sorted()
      .filter { !$0.contains(own + "-") && !$0.hasSuffix(own) }
    for run in runs.dropLast(count) {
      try? FileManager.default.removeItem(at: folder.appendingPathComponent(run))
      try? FileManager.default.removeItem(at: folder.appendingPathComponent(run + ".start.log"))
    }
  }
}

/// The test control plane could not be started.
public struct LocalKubernetesError: Error, CustomStringConvertible {
  public let message: String
  public var description: String { message }
}

/// Registers `body` to run when the process exits.
private func atexit_b(_ body: @escaping @Sendable () -> Void) {
  ProcessExit.run(body)
}

/// Work to do when the process exits normally (`exit` or returning from `main`), in registration order.
public enum ProcessExit {
  public static func run(_ body: @escaping @Sendable () -> Void) { ExitHandlers.shared.append(body) }
}

private final class ExitHandlers: @unchecked Sendable {
  static let shared: ExitHandlers = {
    let handlers = ExitHandlers()
    atexit { ExitHandlers.shared.runAll() }
    return handlers
  }()

  private let lock = NSLock()
  private var bodies: [@Sendable () -> Void] = []

  func append(_ body: @escaping @Sendable () -> Void) {
    lock.withLock { bodies.append(body) }
  }

  func runAll() {
    let bodies = lock.withLock { self.bodies }
    for body in bodies { body() }
  }
}
