import ControlPlaneKit
import Foundation
import Kubernetes
import Logging
import Prometheus
import ServiceLifecycle

/// Keeps the `<app-id>-dapr` Service of every Dapr-enabled Deployment and StatefulSet (and Argo Rollout, with
/// `--enable-argo-rollout-service-reconciler`): creates it, reverts hand edits, and deletes it when the workload stops
/// being Dapr-enabled (the garbage collector removes it with the workload). Runs on the leader only.
final class ServiceReconciler: Sendable {
  /// Where workloads and Services are watched and Services written: the API server, or a fake in unit tests.
  let client: any ObjectWatching & ObjectWriting
  /// Informer backoffs and the work queue's retries run on it.
  let clock: any Clock<Duration>
  let logger: Logger
  let registry: MetricsRegistry
  /// `--watch-namespace`: only these namespaces (empty: all).
  let namespaces: Set<String>
  /// `--enable-argo-rollout-service-reconciler`: Rollouts too (their CRD must be installed).
  let argoRollouts: Bool

  init(
    client: any ObjectWatching & ObjectWriting, registry: MetricsRegistry, namespaces: Set<String> = [],
    argoRollouts: Bool = false, clock: any Clock<Duration> = ContinuousClock(), logger: Logger
  ) {
    self.client = client
    self.clock = clock
    self.registry = registry
    self.namespaces = namespaces
    self.argoRollouts = argoRollouts
    self.logger = logger
  }

  /// The informers' namespace: the one watched namespace, or all of them (filtered by ``watches(_:)``).
  var informerNamespace: String? { namespaces.count == 1 ? namespaces.first : nil }

  func watches(_ namespace: String) -> Bool { namespaces.isEmpty || namespaces.contains(namespace) }

  func count(_ action: String, appID: String) {
    registry.counter(
      "dapr_operator_service_\(action)_total", help: "The number of <app-id>-dapr Services \(action).",
      labels: [("app_id", appID)]
    ).increment()
  }

  /// Watches workloads and their Services until cancelled.
  func run() async throws {
    func workloadInformer<Workload: KubernetesObject>(_ type: Workload.Type) -> Informer<Workload> {
      var configuration = InformerConfiguration<Workload>()
      configuration.transform = ServicePlanner.workloadFacts
      return Informer(
        client: client, namespace: informerNamespace, configuration: configuration, clock: clock, logger: logger)
    }
    let deployments = workloadInformer(Deployment.self)
    let statefulSets = workloadInformer(StatefulSet.self)
    let rollouts = argoRollouts ? workloadInformer(ArgoRollout.self) : nil
    var serviceConfiguration = InformerConfiguration<KubernetesService>()
    serviceConfiguration.labelSelector = "dapr.io/enabled=true"
    let services = Informer<KubernetesService>(
      client: client, namespace: informerNamespace, configuration: serviceConfiguration, clock: clock, logger: logger)
    let workloads: @Sendable (String, String, String) -> JSONValue? = { kind, namespace, name in
      switch kind {
      case "Deployment": deployments.get(namespace: namespace, name: name).map { .object($0.json) }
      case "StatefulSet": statefulSets.get(namespace: namespace, name: name).map { .object($0.json) }
      case "Rollout": rollouts?.get(namespace: namespace, name: name).map { .object($0.json) }
      default: nil
      }
    }
    // Every change becomes a key in one work queue: repeated events for a workload are reconciled once, and a
    // reconcile that fails (a conflict, an API server error) comes back after the key's backoff instead of being
    // logged and dropped.
    let loop = ReconcileLoop<WorkloadKey>(clock: clock) { [self] key in
      guard let workload = workloads(key.kind, key.namespace, key.name) else { return .done }
      do {
        try await reconcile(workload, services: ServiceView(services))
        return .done
      } catch {
        logger.error("Cannot reconcile the Dapr Service of \(key.namespace)/\(key.name): \(error); retrying")
        return .failed
      }
    }
    // Subscribed before the informers start: their first list arrives as events, so every existing workload is
    // reconciled when this replica becomes the leader, and nothing that happens before the Services are cached is
    // lost.
    let deploymentEvents = deployments.events()
    let statefulSetEvents = statefulSets.events()
    let rolloutEvents = rollouts?.events()
    let serviceEvents = services.events()
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await deployments.run() }
      group.addTask { try await statefulSets.run() }
      if let rollouts { group.addTask { try await rollouts.run() } }
      group.addTask { try await services.run() }
      group.addTask {
        await services.waitUntilSynced()
        await withTaskGroup(of: Void.self) { inner in
          inner.addTask { await loop.run() }
          inner.addTask {
            for await event in deploymentEvents { WorkloadKey(event, kind: "Deployment").map(loop.add) }
          }
          inner.addTask {
            for await event in statefulSetEvents { WorkloadKey(event, kind: "StatefulSet").map(loop.add) }
          }
          if let rolloutEvents {
            inner.addTask {
              for await event in rolloutEvents { WorkloadKey(event, kind: "Rollout").map(loop.add) }
            }
          }
          inner.addTask {
            // A Service edited or deleted by hand: reconcile its owner again.
            for await event in serviceEvents {
              let service: KubernetesService
              switch event {
              case .updated(_, let new): service = new
              case .deleted(let old): service = old
              default: continue
              }
              guard let owner = service.json["metadata"]?["ownerReferences"]?.arrayValue?.first,
                let kind = owner["kind"]?.stringValue, let name = owner["name"]?.stringValue
              else { continue }
              loop.add(WorkloadKey(kind: kind, namespace: service.metadata.namespace ?? "", name: name))
            }
          }
        }
      }
      try await group.waitForAll()
    }
  }

  /// Brings the workload's Service to what it should be; an API error is thrown for the queue to retry.
  func reconcile(_ workload: JSONValue, services: ServiceView) async throws(KubernetesError) {
    let namespace = workload["metadata"]?["namespace"]?.stringValue ?? ""
    guard watches(namespace) else { return }
    guard let (appID, desired) = ServicePlanner.desired(for: workload) else {
      // No longer Dapr-enabled: remove the Service this workload owns, if any.
      try await removeServices(ownedBy: workload["metadata"]?["uid"]?.stringValue, in: namespace, services: services)
      return
    }
    let name = "\(appID)-dapr"
    if let existing = services.get(namespace, name) {
      guard let updated = ServicePlanner.reconciled(existing: .object(existing.json), desired: desired),
        let object = updated.objectValue
      else { return }
      _ = try await client.update(KubernetesService(json: object))
      count("updated", appID: appID)
      logger.info("Updated Service \(namespace)/\(name)")
      return
    }
    let created: Bool
    do {
      _ = try await client.create(KubernetesService(json: desired.objectValue ?? [:]))
      created = true
    } catch {
      // Created meanwhile (the cache had not seen it yet): its watch event brings it back here.
      guard error.code == .alreadyExists else { throw error }
      created = false
    }
    if created {
      count("created", appID: appID)
      logger.info("Created Service \(namespace)/\(name)")
    }
  }

  private func removeServices(
    ownedBy uid: String?, in namespace: String, services: ServiceView
  ) async throws(KubernetesError) {
    for service in services.inNamespace(namespace) {
      let owners = service.json["metadata"]?["ownerReferences"]?.arrayValue ?? []
      guard owners.contains(where: { $0["uid"]?.stringValue == uid }) else { continue }
      let name = service.metadata.name ?? ""
      do {
        try await client.delete(
          KubernetesService.self, namespace: namespace, name: name, resourceVersion: nil, propagationPolicy: nil)
      } catch {
        guard error.code == .notFound else { throw error }
        continue
      }
      count("deleted", appID: service.json["metadata"]?["annotations"]?["dapr.io/app-id"]?.stringValue ?? "")
      logger.info("Deleted Service \(namespace)/\(name) of a workload no longer using Dapr")
    }
  }
}

/// The Services a reconcile sees: the informer's cache, or a fake's objects in unit tests.
struct ServiceView: Sendable {
  let get: @Sendable (_ namespace: String, _ name: String) -> KubernetesService?
  let inNamespace: @Sendable (_ namespace: String) -> [KubernetesService]

  init(
    get: @escaping @Sendable (String, String) -> KubernetesService?,
    inNamespace: @escaping @Sendable (String) -> [KubernetesService]
  ) {
    self.get = get
    self.inNamespace = inNamespace
  }

  init(_ informer: Informer<KubernetesService>) {
    self.init(
      get: { informer.get(namespace: $0, name: $1) },
      inNamespace: { namespace in informer.store.values.filter { $0.metadata.namespace == namespace } })
  }
}

/// A workload the Service reconciler keeps a Service for: its kind, namespace and name.
struct WorkloadKey: Hashable, Sendable {
  let kind: String
  let namespace: String
  let name: String

  init(kind: String, namespace: String, name: String) {
    self.kind = kind
    self.namespace = namespace
    self.name = name
  }

  /// The key of an added or updated workload (a deletion needs nothing: the garbage collector removes its Service).
  init?<Object: KubernetesObject>(_ event: InformerEvent<Object>, kind: String) {
    switch event {
    case .added(let workload), .updated(_, let workload):
      self.init(kind: kind, namespace: workload.metadata.namespace ?? "", name: workload.metadata.name ?? "")
    case .deleted, .synced: return nil
    }
  }
}

/// Runs the leader-only controllers (the Service reconciler, the watchdog) while this replica holds the Lease
/// `operator.dapr.io`; the API keeps serving on every replica, and a replica that loses the Lease stops only them.
struct LeaderOnlyControllers: Service {
  let elector: LeaderElector?
  /// The Service reconciler, the watchdog: each runs while this replica leads.
  let controllers: [@Sendable () async throws -> Void]

  init(elector: LeaderElector?, controllers: [@Sendable () async throws -> Void]) {
    self.elector = elector
    self.controllers = controllers
  }

  init(elector: LeaderElector?, reconciler: ServiceReconciler) {
    self.init(elector: elector, controllers: [{ try await reconciler.run() }])
  }

  func run() async throws {
    let controllers = self.controllers
    @Sendable func all() async throws {
      try await withThrowingTaskGroup(of: Void.self) { group in
        for controller in controllers { group.addTask { try await controller() } }
        try await group.waitForAll()
      }
    }
    try await untilShutdown {
      if let elector {
        await elector.runWhileLeader { try await all() }
      } else {
        try await all()
      }
    }
  }
}
