import ControlPlaneKit
import Kubernetes
import Logging

/// Fills in the secrets Dapr resources refer to (`secretKeyRef`), from Secret informers rather than an API-server
/// call per resource. A resource whose Secret is missing is left out, counted and logged, and gets a Warning Event;
/// the rest of its list still goes out.
final class SecretResolver: Sendable {
  /// One Secret informer for the whole cluster, or one per namespace of ``namespaces``.
  let informers: [Informer<Secret>]
  /// The namespaces whose Secrets the operator may read (`--secret-namespaces`); empty: every namespace.
  let namespaces: Set<String>
  let events: EventRecorder
  let metrics: OperatorMetrics
  let logger: Logger

  init(
    client: any ObjectWatching & ObjectWriting, namespaces: Set<String>, clock: any Clock<Duration>,
    metrics: OperatorMetrics, logger: Logger
  ) {
    self.namespaces = namespaces
    informers =
      namespaces.isEmpty
      ? [Informer(client: client, clock: clock, logger: logger)]
      : namespaces.sorted().map { Informer(client: client, namespace: $0, clock: clock, logger: logger) }
    events = EventRecorder(client: client, clock: clock, logger: logger)
    self.metrics = metrics
    self.logger = logger
  }

  /// The object with its secrets filled in, or nil (logged and counted) when a Secret it needs is missing. This is
  /// where the operator does better than Dapr: one broken resource no longer fails the whole list.
  func resolved(_ kind: ResourceKind, _ object: JSONValue) -> JSONValue? {
    do {
      return try resolving(kind, object)
    } catch {
      metrics.secretFailures.increment()
      logger.error("Leaving out a resource its sidecars cannot use yet: \(error)")
      recordMissingSecret(object, error)
      return nil
    }
  }

  /// `object` with the secrets it refers to filled in, or why that is impossible.
  func resolving(_ kind: ResourceKind, _ object: JSONValue) throws(SecretResolution.MissingSecret) -> JSONValue {
    if !namespaces.isEmpty, let namespace = object["metadata"]?["namespace"]?.stringValue,
      !namespaces.contains(namespace), Self.refers(object, to: nil)
    {
      throw SecretResolution.MissingSecret(
        resource: SecretResolution.label(of: object), secret: namespace,
        problem:
          "the operator may read Secrets only in \(namespaces.sorted().joined(separator: ", ")) "
          + "(--secret-namespaces, the chart's dapr_rbac.secretReader.namespaces), not in \(namespace)")
    }
    let lookup: SecretResolution.SecretLookup = { namespace, name in
      guard let secret = self.secret(namespace: namespace, name: name) else { return nil }
      return (secret.json["data"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
    }
    switch kind {
    case .component: return try SecretResolution.component(object, lookup: lookup)
    case .httpEndpoint: return try SecretResolution.httpEndpoint(object, lookup: lookup)
    case .configuration: return try SecretResolution.configuration(object, lookup: lookup)
    case .mcpServer: return try SecretResolution.mcpServer(object, lookup: lookup)
    case .subscription, .resiliency, .workflowAccessPolicy: return object
    }
  }

  /// A Secret from the informer that holds its namespace.
  func secret(namespace: String, name: String) -> Secret? {
    for informer in informers where informer.namespace == nil || informer.namespace == namespace {
      return informer.get(namespace: namespace, name: name)
    }
    return nil
  }

  /// Whether any `secretKeyRef` in the object names `secret` (any Secret when nil).
  static func refers(_ value: JSONValue, to secret: String?) -> Bool {
    switch value {
    case .object(let object):
      if let name = object["secretKeyRef"]?["name"]?.stringValue, !name.isEmpty, secret == nil || name == secret {
        return true
      }
      return object.values.contains { refers($0, to: secret) }
    case .array(let array):
      return array.contains { refers($0, to: secret) }
    default:
      return false
    }
  }

  /// A Warning Event on the resource, so `kubectl describe component` says why sidecars do not get it; once per
  /// resource and Secret every ten minutes, not on every list.
  func recordMissingSecret(_ object: JSONValue, _ error: SecretResolution.MissingSecret) {
    let uid = object["metadata"]?["uid"]?.stringValue ?? ""
    events.warn(
      about: object, key: "\(uid)/\(error.secret)", reason: "SecretNotFound",
      message: "\(error.description); sidecars do not receive this resource until it exists")
  }
}
