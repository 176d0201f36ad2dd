import ControlPlaneKit
import Kubernetes
import Logging
import ServiceLifecycle

/// Pods and Configurations for the ``KubernetesValidator``, from cluster-wide informers. Pods are kept slim (name,
/// namespace, the three `dapr.io` annotations the validator reads, the service account), so that a large cluster
/// costs little memory; a pod the cache has not seen yet (created a moment ago) is read once from the API server.
public final class InformerClusterDirectory: ClusterDirectory, Sendable {
  /// The readiness target of the validator.
  public static let readinessTarget = "sentry-kubernetes-validator"

  private let client: KubernetesClient
  private let pods: Informer<Pod>
  private let configurations: Informer<DaprConfiguration>

  public init(client: KubernetesClient, logger: Logger) {
    self.client = client
    var podConfiguration = InformerConfiguration<Pod>()
    podConfiguration.transform = Self.slim
    self.pods = Informer(client: client, configuration: podConfiguration, logger: logger)
    self.configurations = Informer(client: client, logger: logger)
  }

  /// The informers to run; ``isReady`` turns true once both have synced.
  public var informers: [any Service] { [pods, configurations] }

  /// Marks `target` ready once both caches have synced.
  public func markReadyWhenSynced(_ readiness: ReadinessTargets) async {
    await pods.waitUntilSynced()
    await configurations.waitUntilSynced()
    readiness.markReady(Self.readinessTarget)
  }

  public var isReady: Bool { pods.hasSynced && configurations.hasSynced }

  public func pod(namespace: String, name: String) async -> Pod? {
    if let cached = pods.get(namespace: namespace, name: name) { return cached }
    return (try? await client.get(Pod.self, namespace: namespace, name: name)).map(Self.slim)
  }

  public func configuration(namespace: String, name: String) async -> DaprConfiguration? {
    configurations.get(namespace: namespace, name: name)
  }

  /// Only what the validator reads.
  @Sendable static func slim(_ pod: Pod) -> Pod {
    var slim = Pod(name: pod.metadata.name ?? "", namespace: pod.metadata.namespace)
    slim.metadata.uid = pod.metadata.uid
    slim.metadata.resourceVersion = pod.metadata.resourceVersion
    let kept = (pod.metadata.annotations ?? [:]).filter {
      ["dapr.io/app-id", "dapr.io/control-plane", "dapr.io/config"].contains($0.key)
    }
    if !kept.isEmpty { slim.metadata.annotations = kept }
    slim.spec.serviceAccountName = pod.spec.serviceAccountName
    return slim
  }
}
