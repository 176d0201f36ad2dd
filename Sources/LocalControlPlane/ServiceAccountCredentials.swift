import Foundation
import Kubernetes

/// What a kubelet gives a control-plane pod, made for a process on this machine: a kubeconfig that authenticates
/// as the pod's service account (a TokenRequest token, as the in-cluster token would), and the projected token bound
/// to the pod that proves its identity to sentry.
public enum ServiceAccountCredentials {
  /// Writes to `path` a kubeconfig for the API server of `base` that authenticates as `serviceAccount`.
  public static func writeKubeconfig(
    admin: KubernetesClient, base: KubernetesConfiguration, serviceAccount: String, namespace: String, to path: String,
    lifetime: Duration = .seconds(86_400)
  ) async throws {
    let issued = try await admin.requestToken(
      serviceAccount: serviceAccount, namespace: namespace,
      TokenRequest(audiences: [], expirationSeconds: Int(lifetime.components.seconds)))
    guard let token = issued.token else {
      throw LaunchPlan.Unsupported(description: "the API server issued no token for \(namespace)/\(serviceAccount)")
    }
    let authority = base.certificateAuthorityPEM.map { Data($0).base64EncodedString() } ?? ""
    let kubeconfig = """
      apiVersion: v1
      kind: Config
      clusters:
      - name: local
        cluster:
          server: \(base.server)
          certificate-authority-data: \(authority)
      users:
      - name: \(serviceAccount)
        user:
          token: \(token)
      contexts:
      - name: \(serviceAccount)@local
        context: {cluster: local, user: \(serviceAccount), namespace: \(namespace)}
      current-context: \(serviceAccount)@local

      """
    try write(kubeconfig, to: path)
  }

  /// Writes to `path` a token of `serviceAccount` bound to `pod`, for `audience` (sentry's SPIFFE ID), as the
  /// chart's projected `dapr-identity-token` volume holds it.
  public static func writeBoundToken(
    admin: KubernetesClient, serviceAccount: String, namespace: String, pod: Pod, audience: String, to path: String,
    lifetime: Duration = .seconds(86_400)
  ) async throws {
    let issued = try await admin.requestToken(
      serviceAccount: serviceAccount, namespace: namespace,
      TokenRequest(
        audiences: [audience], expirationSeconds: Int(lifetime.components.seconds),
        boundPod: (pod.metadata.name ?? "", pod.metadata.uid ?? "")))
    guard let token = issued.token else {
      throw LaunchPlan.Unsupported(
        description: "the API server issued no token bound to pod \(pod.metadata.name ?? "")")
    }
    try write(token, to: path)
  }

  /// Writes `text` readable by this user only (tokens are secrets).
  static func write(_ text: String, to path: String) throws {
    guard
      FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
    else { throw LaunchPlan.Unsupported(description: "cannot write \(path)") }
  }
}
