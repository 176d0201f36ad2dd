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
  /// The keys, named after the `--issuer-*-filename` flags (default `ca.crt`, `issuer.crt`, `issuer.key`) and the
  /// base names of `--jwt-key-filename` and `--jwks-filename` (default `jwt.key`, `jwks.json`), as Dapr names them.
  public let keys: [CAStoreEntry: String]
  /// The Secret holding the root key (`--keep-root-key`), read and written only then.
  public let rootKeySecret: String?
  private let client: KubernetesClient
  private let secrets: Informer<Secret>
  private let configMaps: Informer<ConfigMap>

  public init(
    client: KubernetesClient, namespace: String, name: String = "dapr-trust-bundle",
    keys: [CAStoreEntry: String], rootKeySecret: String? = nil, logger: Logger
  ) {
    self.rootKeySecret = rootKeySecret
    self.client = client
    self.namespace = namespace
    self.name = name
    self.keys = keys.mapValues { ($0 as NSString).lastPathComponent }
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

  public func describe(_ entry: CAStoreEntry) -> String {
    if entry.isRootKey { return "Secret \(namespace)/\(rootKeySecret ?? Self.rootKeySecretName) key \(key(entry))" }
    return "Secret \(namespace)/\(name) key \(key(entry))"
  }

  /// The root key's Secret, as the chart names it.
  public static let rootKeySecretName = "dapr-sentry-root-key"

  public var publishedAnchorsDescription: String {
    "ConfigMap \(namespace)/\(name) key \(key(.trustAnchors))"
  }

  private func key(_ entry: CAStoreEntry) -> String { keys[entry] ?? entry.defaultName }

  /// The entries the ConfigMap carries.
  static let publishedEntries: [CAStoreEntry] = [.trustAnchors, .jwks]

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
    var stored = StoredCA(publishesAnchors: true)
    for entry in CAStoreEntry.allCases where !entry.isRootKey {
      stored[entry] = secret.data?[key(entry)].flatMap { Data(base64Encoded: $0) }.map {
        String(decoding: $0, as: UTF8.self)
      }
    }
    for entry in Self.publishedEntries {
      stored.published[entry] = configMap.data?[key(entry)].nonEmpty
    }
    stored.secretVersion = secret.metadata.resourceVersion
    stored.configMapVersion = configMap.metadata.resourceVersion
    if let rootKeySecret {
      let rootSecret: Secret
      do {
        rootSecret = try await client.get(Secret.self, namespace: namespace, name: rootKeySecret)
      } catch {
        throw Self.readError(error, "Secret \(namespace)/\(rootKeySecret)")
      }
      for entry in CAStoreEntry.allCases where entry.isRootKey {
        stored[entry] = rootSecret.data?[key(entry)].flatMap { Data(base64Encoded: $0) }.map {
          String(decoding: $0, as: UTF8.self)
        }
      }
      stored.versions.rootKeySecret = rootSecret.metadata.resourceVersion
    }
    return stored
  }

  /// Merge patches with a resourceVersion precondition: another replica's write in between is a conflict. The
  /// Secret first, then the ConfigMap, so that published copies never run ahead of the credentials.
  public func apply(_ update: CAStoreUpdate, over previous: StoredCA) async throws(CAStoreError) {
    let base64 = update.entries.mapValues { $0.map { Data($0.utf8).base64EncodedString() } }
    let rootKeys = base64.filter { $0.key.isRootKey }
    if !rootKeys.isEmpty && rootKeySecret == nil {
      throw CAStoreError(.failed, "sentry was asked to store the root key without --keep-root-key")
    }
    // The bundle first, then the root key: only the replica whose bundle write won stores its root's key, so the
    // stored key always belongs to the stored root (written the other way round, two replicas generating at once
    // could leave one's key beside the other's root). A crash in between leaves no key, which sentry reports.
    let bundle = base64.filter { !$0.key.isRootKey }
    if !bundle.isEmpty {
      try await patch(Secret.self, bundle, version: previous.secretVersion)
    }
    if !rootKeys.isEmpty, let rootKeySecret {
      try await patch(Secret.self, rootKeys, version: previous.versions.rootKeySecret, objectName: rootKeySecret)
    }
    if !update.published.isEmpty {
      try await patch(ConfigMap.self, update.published, version: previous.configMapVersion)
    }
  }

  /// Sets or removes (nil) `data` keys of the object with a resourceVersion precondition.
  private func patch<Object: KubernetesObject>(
    _ type: Object.Type, _ entries: [CAStoreEntry: String?], version: String?, objectName: String? = nil
  ) async throws(CAStoreError) {
    let objectName = objectName ?? name
    var data: JSONObject = [:]
    for (entry, value) in entries { data[key(entry)] = value.map { .string($0) } ?? .null }
    let patch: JSONValue = ["metadata": ["resourceVersion": .string(version ?? "")], "data": .object(data)]
    do {
      _ = try await client.patch(type, namespace: namespace, name: objectName, .merge(patch))
    } catch {
      throw Self.writeError(error, "\(Object.resource.kind) \(namespace)/\(objectName)")
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
