import ControlPlaneKit
import Kubernetes

/// Turns informer events into hub sends: every change of a Dapr resource after the first list, and UPDATED for the
/// resources that use a Secret when the Secret changes.
struct ChangeFanOut: Sendable {
  /// Set once, before the streams open; events before then have no stream to go to.
  let hub: LatestValue<ResourceHub?>
  /// The cached objects of a kind in a namespace.
  let objects: @Sendable (ResourceKind, String) -> [JSONValue]

  /// Sends each change of `kind`. Objects of the initial list (the events before `.synced`) are not sent: streams
  /// start empty and sidecars List first, as in Dapr.
  func send<Object: KubernetesObject>(_ events: AsyncStream<InformerEvent<Object>>, as kind: ResourceKind) async {
    var listed = false
    for await event in events {
      if case .synced = event { listed = true }
      guard let hub = hub.current, listed else { continue }
      switch event {
      case .added(let object):
        hub.publish(kind, old: nil, new: ResourceSnapshot(object: .object(object.json)))
      case .updated(let old, let new):
        hub.publish(
          kind, old: ResourceSnapshot(object: .object(old.json)), new: ResourceSnapshot(object: .object(new.json)))
      case .deleted(let object):
        hub.publish(kind, old: ResourceSnapshot(object: .object(object.json)), new: nil)
      case .synced:
        continue
      }
    }
  }

  /// A changed Secret sends UPDATED for the Components, HTTPEndpoints, MCPServers and Configurations that use it,
  /// within the informer's delay, rather than on the sidecar's next re-list as in Dapr.
  func sendUsers(of events: AsyncStream<InformerEvent<Secret>>) async {
    var listed = false
    for await event in events {
      if case .synced = event { listed = true }
      guard let hub = hub.current, listed else { continue }
      let secret: Secret
      switch event {
      case .added(let object), .updated(_, let object), .deleted(let object): secret = object
      case .synced: continue
      }
      let namespace = secret.metadata.namespace ?? ""
      let name = secret.metadata.name ?? ""
      for kind in [ResourceKind.component, .httpEndpoint, .mcpServer, .configuration] {
        let users = objects(kind, namespace).filter { SecretResolver.refers($0, to: name) }
        if !users.isEmpty { hub.republish(kind, users.map(ResourceSnapshot.init(object:))) }
      }
    }
  }
}
