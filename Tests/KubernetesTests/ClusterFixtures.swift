import ControlPlaneTestSupport
import Foundation
import Kubernetes
import Testing

/// Shared set-up of the tests that talk to the real test control plane.
enum ClusterFixtures {
  /// Runs `body` with an admin client of the shared test control plane.
  static func withAdmin<T: Sendable>(
    _ body: (KubernetesClient, LocalKubernetes.Cluster) async throws -> T
  ) async throws -> T {
    let cluster = try await LocalKubernetes.shared.cluster()
    let client = try cluster.adminClient()
    do {
      let result = try await body(client, cluster)
      await client.shutdown()
      return result
    } catch {
      await client.shutdown()
      throw error
    }
  }

  /// A new namespace for one test, ready for pods (its default service account has its token).
  static func namespace(_ client: KubernetesClient, prefix: String = "test") async throws -> String {
    let name = "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
    try await LocalKubernetes.shared.cluster().createNamespaceForPods(name, client: client)
    return name
  }

  /// Applies the CRDs in `crds/` and waits until they are established.
  static func daprCRDs(_ client: KubernetesClient) async throws {
    try await LocalKubernetes.shared.cluster().installDaprCRDs(client)
  }

  /// Creates `object` unless an object of that name exists.
  static func createIfAbsent<Object: KubernetesObject>(_ client: KubernetesClient, _ object: Object) async throws {
    let result: Result<Object, KubernetesError> = await {
      do throws(KubernetesError) {
        return .success(try await client.create(object))
      } catch {
        return .failure(error)
      }
    }()
    if case .failure(let error) = result, error.code != .alreadyExists { throw error }
  }

}
