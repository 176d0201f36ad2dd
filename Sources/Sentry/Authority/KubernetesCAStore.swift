import ControlPlaneKit
import Foundation
import Kubernetes
import Logging
import ServiceLifecycle

/// The `dapr-trust-bundle` Secret (the credentials) and ConfigMap (the published anchors) in sentry's namespace.
/// Both objects are created by the chart; sentry reads and updates them, with resourceVersion preconditions so that
/// replicas racing to generate a CA end with one.
public final class KubernetesCAStore: CAStore {
  public let namespace: String
  public let name: String
  /// The keys, named after the `--issuer-*-filename` flags (default `ca.crt`, `issuer.crt`, `issuer.key`).
  public let keys: [CAMaterialError.Part: String]
  private let client: KubernetesClient
  private let secrets: Informer<Secret>
  private let configMaps: Informer<ConfigMap>

  public init(
    client: KubernetesClient, namespace: String, name: String = "dapr-trust-bundle",
    keys: [CAMaterialError.Part: String], logger: Logger
  ) {
    self.client = client
    self.namespace = namespace
    self.name = name
    self.keys = keys
    var secretsConfiguration = InformerConfiguration<Secret>()
    secretsConfiguration.fieldSelector = "metadata.name=\(name)"
    var configMapsConfiguration = InformerConfiguration<ConfigMap>()
    configMapsConfiguration.fieldSelector = "metadata.name=\(name)"
    self.secrets = Informer(client: client, namespace: namespace, configuration: secretsConfiguration, logger: logger)
    self.configMaps = Informer(
      client: client, namespace: namespace, configuration: configMapsConfiguration, logger: logger)
  }

  /// The informers that notice changes; run them with sentry's services.
  public var informers: [any Service] { [secrets, configMaps] }

  public func describe(_ part: CAMaterialError.Part) -> String {
    "Secret \(namespace)/\(name) key \(key(part))"
  }

  public var publishedAnchorsDescription: String {
    "ConfigMap \(namespace)/\(name) key \(key(.trustAnchors))"
  }

  private func key(_ part: CAMaterialError.Part) -> String { keys[part] ?? part.rawValue }

  public func read() async throws(CAStoreError) -> StoredCA {
    let secret: Secret
    let configMap: ConfigMap
    do {
      secret = try await client.get(Secret.self, namespace: namespace, name: name)
    } catch {
      throw Self.readError(error, "Secret \(namespace)/\(name)")
    }
    do {
      configMap = try await client.get(ConfigMap.self, namespace: namespace, name: name)
    } catch {
      throw Self.readError(error, "ConfigMap \(namespace)/\(name)")
    }
    func secretValue(_ part: CAMaterialError.Part) -> String? {
      secret.data?[key(part)].flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) }
    }
    var stored = StoredCA(
      trustAnchors: secretValue(.trustAnchors), issuerCertificate: secretValue(.issuerCertificate),
      issuerKey: secretValue(.issuerKey), publishedAnchors: configMap.data?[key(.trustAnchors)],
      publishesAnchors: true)
    stored.secretVersion = secret.metadata.resourceVersion
    stored.configMapVersion = configMap.metadata.resourceVersion
    return stored
  }

  public func write(_ material: CAMaterial, over previous: StoredCA) async throws(CAStoreError) {
    var patchData: JSONObject = [:]
    patchData[key(.trustAnchors)] = .string(Data(material.trustAnchorsPEM.utf8).base64EncodedString())
    patchData[key(.issuerCertificate)] = .string(Data(material.issuerCertificatePEM.utf8).base64EncodedString())
    patchData[key(.issuerKey)] = .string(Data(material.issuerKeyPEM.utf8).base64EncodedString())
    // A merge patch with a resourceVersion precondition: another replica's write in between is a conflict.
    let patch: JSONValue = [
      "metadata": ["resourceVersion": .string(previous.secretVersion ?? "")], "data": .object(patchData),
    ]
    do {
      _ = try await client.patch(Secret.self, namespace: namespace, name: name, .merge(patch))
    } catch {
      throw Self.writeError(error, "Secret \(namespace)/\(name)")
    }
  }

  public func publish(anchorsPEM: String, over previous: StoredCA) async throws(CAStoreError) {
    let patch: JSONValue = [
      "metadata": ["resourceVersion": .string(previous.configMapVersion ?? "")],
      "data": [.init(stringLiteral: key(.trustAnchors)): .string(anchorsPEM)],
    ]
    do {
      _ = try await client.patch(ConfigMap.self, namespace: namespace, name: name, .merge(patch))
    } catch {
      throw Self.writeError(error, "ConfigMap \(namespace)/\(name)")
    }
  }

  public func changes() -> AsyncStream<Void> {
    let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    let secretEvents = secrets.events()
    let configMapEvents = configMaps.events()
    let forward = Task {
      await withTaskGroup(of: Void.self) { group in
        group.addTask { for await _ in secretEvents { continuation.yield() } }
        group.addTask { for await _ in configMapEvents { continuation.yield() } }
      }
      continuation.finish()
    }
    continuation.onTermination = { _ in forward.cancel() }
    return stream
  }

  static func readError(_ error: KubernetesError, _ object: String) -> CAStoreError {
    if error.code == .notFound {
      return CAStoreError(
        .missing,
        "\(object) does not exist. The Helm chart creates it; create it empty (kubectl create secret generic / "
          + "kubectl create configmap) to let sentry generate a CA, or fill it with your own.")
    }
    return CAStoreError(.failed, "cannot read \(object): \(error.message)")
  }

  static func writeError(_ error: KubernetesError, _ object: String) -> CAStoreError {
    if error.code == .conflict { return CAStoreError(.conflict, "\(object) changed while sentry was writing it") }
    return CAStoreError(.failed, "cannot update \(object): \(error.message)")
  }
}

extension StoredCA {
  /// The resourceVersions the values were read at (Kubernetes).
  var secretVersion: String? {
    get { versions.secret }
    set { versions.secret = newValue }
  }
  var configMapVersion: String? {
    get { versions.configMap }
    set { versions.configMap = newValue }
  }
}
