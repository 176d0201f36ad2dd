import KubernetesCore

/// The Dapr resource kinds the operator serves.
public enum ResourceKind: String, Sendable, CaseIterable, Hashable {
  case component, configuration, subscription, resiliency, httpEndpoint, mcpServer, workflowAccessPolicy

  /// Kinds whose CRDs Dapr 1.18 added: an operator started on a cluster without them serves empty lists and quiet
  /// streams for them (as Dapr tolerates), since `helm upgrade` never installs new CRDs.
  public var isOptional: Bool { self == .mcpServer || self == .workflowAccessPolicy }
}

/// One stored Dapr resource, as the operator sees it for fan-out.
public struct ResourceSnapshot: Hashable, Sendable {
  public var namespace: String
  public var name: String
  public var resourceVersion: String
  /// Empty: every app in the namespace.
  public var scopes: [String]
  /// The object as read from the API server (what sidecars receive, after secret resolution).
  public var object: JSONValue

  public init(object: JSONValue) {
    self.object = object
    namespace = object["metadata"]?["namespace"]?.stringValue ?? ""
    name = object["metadata"]?["name"]?.stringValue ?? ""
    resourceVersion = object["metadata"]?["resourceVersion"]?.stringValue ?? ""
    scopes = object["scopes"]?.arrayValue?.compactMap(\.stringValue) ?? []
  }

  /// Whether the app `appID` in `namespace` may see this object.
  public func isVisible(to stream: StreamScope) -> Bool {
    namespace == stream.namespace && (scopes.isEmpty || scopes.contains(stream.appID))
  }
}

/// Who a stream belongs to: the namespace asked for (checked against the certificate) and the certificate's app id.
public struct StreamScope: Hashable, Sendable {
  public var namespace: String
  public var appID: String

  public init(namespace: String, appID: String) {
    self.namespace = namespace
    self.appID = appID
  }
}

/// `dapr.proto.operator.v1.ResourceEventType`.
public enum ResourceEventType: Int, Sendable, Hashable {
  case created = 1, updated = 2, deleted = 3
}

/// What a stream receives when a resource changes, as Dapr decides it:
///
/// - only objects of the stream's namespace that are in scope for its app are sent;
/// - an object that leaves the scope is sent as DELETED carrying the old object, one that enters it as CREATED;
/// - an update that does not change `resourceVersion` (an informer resync) sends nothing;
/// - a deletion is sent as DELETED with the last known object.
public enum ResourceFanOut {
  public static func event(
    old: ResourceSnapshot?, new: ResourceSnapshot?, for stream: StreamScope
  ) -> (type: ResourceEventType, object: ResourceSnapshot)? {
    let wasVisible = old?.isVisible(to: stream) ?? false
    let isVisible = new?.isVisible(to: stream) ?? false
    switch (old, new) {
    case (nil, let new?):
      return isVisible ? (.created, new) : nil
    case (let old?, nil):
      return wasVisible ? (.deleted, old) : nil
    case (let old?, let new?):
      if old.resourceVersion == new.resourceVersion, !old.resourceVersion.isEmpty { return nil }
      switch (wasVisible, isVisible) {
      case (true, true): return (.updated, new)
      case (true, false): return (.deleted, old)
      case (false, true): return (.created, new)
      case (false, false): return nil
      }
    case (nil, nil):
      return nil
    }
  }
}

/// Which Configurations an app's ConfigurationUpdate stream carries: the ones its pods name in `dapr.io/config`, as
/// Dapr's operator does after 1.18 (in 1.18 every Configuration of the namespace went to every sidecar). An app whose
/// pods are not known yet is absent from the map and gets every Configuration of its namespace, so nothing is lost
/// while the pod cache catches up.
public struct ConfigurationSelection: Sendable {
  /// One injected pod: its namespace, app id (the `dapr.io/app-id` label) and `dapr.io/config` annotation.
  public struct Pod: Hashable, Sendable {
    public var namespace: String
    public var appID: String
    public var configuration: String?

    public init(namespace: String, appID: String, configuration: String?) {
      self.namespace = namespace
      self.appID = appID
      self.configuration = configuration
    }
  }

  let names: [StreamScope: Set<String>]

  public init(pods: some Sequence<Pod>) {
    var names: [StreamScope: Set<String>] = [:]
    for pod in pods where !pod.appID.isEmpty {
      let scope = StreamScope(namespace: pod.namespace, appID: pod.appID)
      names[scope, default: []].formUnion(pod.configuration.flatMap { $0.isEmpty ? nil : [$0] } ?? [])
    }
    self.names = names
  }

  /// Whether the Configuration `name` goes to `stream`.
  public func carries(_ name: String, to stream: StreamScope) -> Bool {
    names[stream].map { $0.contains(name) } ?? true
  }
}
