import Foundation
import Kubernetes
import Testing

@Suite struct ConfigurationTests {
  func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kubeconfig-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  @Test func aKubeconfigWithInlineDataAndAContextNamespaceLoads() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("config").path
    try """
    apiVersion: v1
    kind: Config
    current-context: dev
    clusters:
    - name: local
      cluster:
        server: https://127.0.0.1:6443/
        certificate-authority-data: \(Data("CA PEM".utf8).base64EncodedString())
    users:
    - name: admin
      user:
        client-certificate-data: \(Data("CERT".utf8).base64EncodedString())
        client-key-data: \(Data("KEY".utf8).base64EncodedString())
    contexts:
    - name: dev
      context: {cluster: local, user: admin, namespace: team-a}
    """.write(toFile: path, atomically: true, encoding: .utf8)

    let configuration = try KubernetesConfiguration.kubeconfig(path: path)
    #expect(configuration.server == "https://127.0.0.1:6443")
    #expect(configuration.certificateAuthorityPEM == Array("CA PEM".utf8))
    #expect(configuration.clientCertificatePEM == Array("CERT".utf8))
    #expect(configuration.clientKeyPEM == Array("KEY".utf8))
    #expect(configuration.namespace == "team-a")
    #expect(configuration.token == nil)
  }

  @Test func relativeFilesAndTokenFilesResolveAgainstTheKubeconfigsFolder() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    try "CA FROM FILE".write(to: directory.appendingPathComponent("ca.crt"), atomically: true, encoding: .utf8)
    let path = directory.appendingPathComponent("config").path
    try """
    current-context: c
    clusters: [{name: k, cluster: {server: "https://k:443", certificate-authority: ca.crt}}]
    users: [{name: u, user: {tokenFile: token}}]
    contexts: [{name: c, context: {cluster: k, user: u}}]
    """.write(toFile: path, atomically: true, encoding: .utf8)
    let configuration = try KubernetesConfiguration.kubeconfig(path: path)
    #expect(configuration.certificateAuthorityPEM == Array("CA FROM FILE".utf8))
    #expect(configuration.token == .file(directory.appendingPathComponent("token").path))
  }

  @Test(
    "Broken kubeconfigs are refused with the problem named",
    arguments: [
      ("clusters: [", "does not parse"),
      ("clusters: []\ncontexts: []", "no current-context"),
      ("current-context: x\ncontexts: []", "no context named x"),
      ("current-context: x\ncontexts: [{name: x, context: {cluster: gone}}]", "unknown cluster gone"),
      (
        "current-context: x\ncontexts: [{name: x, context: {cluster: k}}]\nclusters: [{name: k, cluster: {server: s, certificate-authority-data: '%%%'}}]",
        "not base64"
      ),
    ])
  func brokenKubeconfigs(content: String, fragment: String) throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("config").path
    try content.write(toFile: path, atomically: true, encoding: .utf8)
    do {
      _ = try KubernetesConfiguration.kubeconfig(path: path)
      Issue.record("accepted: \(content)")
    } catch {
      #expect(error.code == .invalidConfiguration)
      #expect(error.message.contains(fragment), "\(error.message)")
    }
  }

  @Test func inClusterNeedsTheServiceEnvironment() {
    do {
      _ = try KubernetesConfiguration.inCluster(environment: [:])
      Issue.record("accepted an empty environment")
    } catch {
      #expect(error.message.contains("KUBERNETES_SERVICE_HOST"))
    }
  }

  @Test func inClusterReadsTheServiceAccountFolder() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    try "TOKEN".write(to: directory.appendingPathComponent("token"), atomically: true, encoding: .utf8)
    try "CA".write(to: directory.appendingPathComponent("ca.crt"), atomically: true, encoding: .utf8)
    try "dapr-system\n".write(to: directory.appendingPathComponent("namespace"), atomically: true, encoding: .utf8)
    let configuration = try KubernetesConfiguration.inCluster(
      environment: ["KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"],
      serviceAccountDirectory: directory.path)
    #expect(configuration.server == "https://10.0.0.1:443")
    #expect(configuration.namespace == "dapr-system")
    #expect(configuration.token == .file(directory.appendingPathComponent("token").path))
  }

  @Test func withNothingToGoOnLoadingSaysWhatToDo() {
    do {
      _ = try KubernetesConfiguration.load(environment: ["HOME": "/nonexistent"])
      Issue.record("loaded from nothing")
    } catch {
      #expect(error.message.contains("--kubeconfig"))
    }
  }

  @Test func anExplicitPathWinsOverTheEnvironment() {
    do {
      _ = try KubernetesConfiguration.load(
        kubeconfigPath: "/nonexistent/explicit", environment: ["KUBECONFIG": "/nonexistent/env"])
      Issue.record("loaded a missing file")
    } catch {
      #expect(error.message.contains("/nonexistent/explicit"))
    }
  }
}
