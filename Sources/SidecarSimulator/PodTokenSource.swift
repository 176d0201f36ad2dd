import Foundation
import Kubernetes

/// A service-account token bound to the simulated pod, for sentry's audience: what the kubelet puts into the
/// injected `dapr-identity-token` projected volume, asked for with TokenRequest instead (there is no kubelet here).
public final class PodTokenSource: IdentityTokenSource {
  public let file: String
  public let refreshInterval: Duration
  let client: KubernetesClient
  let namespace: String
  let podName: String
  let audience: String
  let expirationSeconds: Int

  public init(
    client: KubernetesClient, namespace: String, podName: String, audience: String, expirationSeconds: Int,
    directory: URL
  ) {
    self.client = client
    self.namespace = namespace
    self.podName = podName
    self.audience = audience
    // TokenRequest's minimum lifetime is ten minutes.
    self.expirationSeconds = max(600, expirationSeconds)
    refreshInterval = .seconds(max(60, self.expirationSeconds / 2))
    file = directory.appendingPathComponent("\(namespace).\(podName).token").path
  }

  public func refresh() async throws {
    let pod = try await client.get(Pod.self, namespace: namespace, name: podName)
    let account = pod.spec.serviceAccountName ?? "default"
    let issued = try await client.requestToken(
      serviceAccount: account, namespace: namespace,
      TokenRequest(
        audiences: [audience], expirationSeconds: expirationSeconds,
        boundPod: (pod.metadata.name ?? podName, pod.metadata.uid ?? "")))
    guard let token = issued.token else {
      throw DaprdConfiguration.Unusable(description: "no token was issued for pod \(namespace)/\(podName)")
    }
    guard
      FileManager.default.createFile(atPath: file, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600])
    else { throw DaprdConfiguration.Unusable(description: "cannot write \(file)") }
  }
}
