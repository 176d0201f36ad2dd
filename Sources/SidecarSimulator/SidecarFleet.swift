import ControlPlaneKit
import Foundation
import Kubernetes
import Logging
import ServiceLifecycle
import Synchronization

/// Simulated sidecars for pods: the named ones, or every injected pod (`dapr.io/sidecar-injected=true`) of the
/// watched namespaces as they come and go, each with its own identity and connections, all in this process.
public final class SidecarFleet: Service, Sendable {
  /// Which pods get a simulated sidecar.
  public enum Pods: Sendable {
    /// These pods, `namespace/name`.
    case named([String])
    /// Every injected pod of these namespaces (empty: all namespaces).
    case injected(namespaces: [String])
  }

  /// The pod annotation that stands in for the app's `/dapr/config`: the actor types its app hosts (comma-separated).
  public static let actorTypesAnnotation = "sidecar-simulator.dapr.io/actor-types"

  let client: KubernetesClient
  let pods: Pods
  let addresses: AddressBook
  let relistInterval: Duration
  let tokenDirectory: URL
  let metrics: SimulatorMetrics
  let logger: Logger
  private let running = Mutex<[String: Member]>([:])
  private let commands: AsyncStream<Command>
  private let commandContinuation: AsyncStream<Command>.Continuation

  struct Member: Sendable {
    let sidecar: SimulatedDaprd
    let stop: StopSignal
  }

  enum Command: Sendable {
    case start(key: String, sidecar: SimulatedDaprd, stop: StopSignal)
  }

  public init(
    client: KubernetesClient, pods: Pods, addresses: AddressBook, relistInterval: Duration = .seconds(60),
    tokenDirectory: URL, metrics: SimulatorMetrics, logger: Logger
  ) {
    self.client = client
    self.pods = pods
    self.addresses = addresses
    self.relistInterval = relistInterval
    self.tokenDirectory = tokenDirectory
    self.metrics = metrics
    self.logger = logger
    (commands, commandContinuation) = AsyncStream.makeStream()
  }

  /// The running sidecars, by `namespace/pod`.
  public var sidecars: [String: SimulatedDaprd] { running.withLock { $0.mapValues(\.sidecar) } }

  public func sidecar(namespace: String, pod: String) -> SimulatedDaprd? {
    running.withLock { $0["\(namespace)/\(pod)"]?.sidecar }
  }

  public func run() async throws {
    try FileManager.default.createDirectory(at: tokenDirectory, withIntermediateDirectories: true)
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { [self] in
        // The sidecars, each until its pod goes away or the fleet stops.
        await withTaskGroup(of: Void.self) { sidecars in
          for await case .start(let key, let sidecar, let stop) in commands {
            sidecars.addTask { [self] in
              await withTaskGroup(of: Void.self) { one in
                one.addTask { [self] in
                  do {
                    try await sidecar.run()
                  } catch {
                    logger.error("Simulated sidecar \(key) could not start", metadata: ["error": "\(error)"])
                  }
                }
                one.addTask { await stop.wait() }
                await one.next()
                one.cancelAll()
              }
            }
          }
          sidecars.cancelAll()
        }
      }
      group.addTask { [self] in
        while true {
          try await Task.sleep(for: .seconds(1))
          let members = running.withLock { Array($0.values) }
          metrics.sidecars.set(Double(members.count))
          metrics.healthySidecars.set(Double(members.filter { $0.sidecar.isHealthy }.count))
        }
      }
      group.addTask { [self] in
        try await cancelWhenGracefulShutdown { [self] in try await follow() }
      }
      try await group.next()
      commandContinuation.finish()
      for member in running.withLock({ Array($0.values) }) { member.stop.fire() }
      group.cancelAll()
    }
  }

  /// Starts sidecars for the named pods once they carry daprd, or follows the injected pods of the namespaces.
  func follow() async throws {
    switch pods {
    case .named(let names):
      for name in names {
        let parts = name.split(separator: "/", maxSplits: 1).map(String.init)
        let (namespace, podName) = parts.count == 2 ? (parts[0], parts[1]) : ("default", parts[0])
        while true {
          if let pod = try? await client.get(Pod.self, namespace: namespace, name: podName) {
            start(pod)
            break
          }
          logger.info("Waiting for pod \(namespace)/\(podName)")
          try await Task.sleep(for: .seconds(1))
        }
      }
      try await Task.sleep(for: .seconds(365 * 86_400))
    case .injected(let namespaces):
      var configuration = InformerConfiguration<Pod>()
      configuration.labelSelector = "dapr.io/sidecar-injected=true"
      let informers = (namespaces.isEmpty ? [nil] : namespaces.map { Optional($0) }).map {
        Informer<Pod>(client: client, namespace: $0, configuration: configuration, logger: logger)
      }
      try await withThrowingTaskGroup(of: Void.self) { group in
        for informer in informers {
          let events = informer.events()
          group.addTask { try await informer.run() }
          group.addTask { [self] in
            for await event in events {
              switch event {
              case .added(let pod): start(pod)
              case .updated(_, let pod): if pod.metadata.deletionTimestamp != nil { stop(pod) } else { start(pod) }
              case .deleted(let pod): stop(pod)
              case .synced: continue
              }
            }
          }
        }
        try await group.waitForAll()
      }
    }
  }

  static func key(_ pod: Pod) -> String { "\(pod.metadata.namespace ?? "")/\(pod.metadata.name ?? "")" }

  /// Starts a sidecar for `pod` unless one runs for it.
  func start(_ pod: Pod) {
    let key = Self.key(pod)
    guard running.withLock({ $0[key] == nil }) else { return }
    let configuration: DaprdConfiguration
    do {
      configuration = try DaprdConfiguration(pod: .object(pod.json))
    } catch {
      logger.warning("Not simulating a sidecar for \(key): \(error)")
      return
    }
    let actorTypes = (pod.metadata.annotations?[Self.actorTypesAnnotation] ?? "").split(separator: ",")
      .map { String($0).trimmingWhitespace }.filter { !$0.isEmpty }
    var sidecarLogger = logger
    sidecarLogger[metadataKey: "pod"] = "\(key)"
    let sidecar = SimulatedDaprd(
      configuration: configuration, actorTypes: actorTypes, addresses: addresses,
      tokens: PodTokenSource(
        client: client, namespace: configuration.namespace, podName: pod.metadata.name ?? "",
        audience: configuration.tokenAudience, expirationSeconds: configuration.tokenExpirationSeconds,
        directory: tokenDirectory),
      relistInterval: relistInterval, metrics: metrics, logger: sidecarLogger)
    let stop = StopSignal()
    running.withLock { $0[key] = Member(sidecar: sidecar, stop: stop) }
    logger.info("Simulating the sidecar of pod \(key) (app \(configuration.appID))")
    commandContinuation.yield(.start(key: key, sidecar: sidecar, stop: stop))
  }

  func stop(_ pod: Pod) {
    let key = Self.key(pod)
    guard let member = running.withLock({ $0.removeValue(forKey: key) }) else { return }
    logger.info("Pod \(key) is gone; its simulated sidecar stops")
    member.stop.fire()
  }
}

/// Fired once to stop one sidecar.
final class StopSignal: Sendable {
  private let stream: AsyncStream<Void>
  private let continuation: AsyncStream<Void>.Continuation

  init() { (stream, continuation) = AsyncStream.makeStream() }

  func fire() { continuation.finish() }

  func wait() async { for await _ in stream {} }
}
