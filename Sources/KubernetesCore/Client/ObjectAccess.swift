/// What controllers change in the API server: create, update, patch and delete. ``KubernetesClient`` is the real
/// one; tests give controllers an in-memory fake (`FakeObjectStore` in ControlPlaneTestSupport) with resource
/// versions, conflicts and injected failures. Lists and watches are ``ObjectWatching``, for the informers.
public protocol ObjectWriting: Sendable {
  func create<Object: KubernetesObject>(_ object: Object) async throws(KubernetesError) -> Object
  func update<Object: KubernetesObject>(_ object: Object) async throws(KubernetesError) -> Object
  func patch<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String?, name: String, _ patch: Patch, fieldManager: String?, force: Bool
  ) async throws(KubernetesError) -> Object
  func delete<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String?, name: String, resourceVersion: String?, propagationPolicy: String?
  ) async throws(KubernetesError)
}

/// Reading one object by name, for controllers that read before they write (the leader elector's Lease).
public protocol ObjectReading: Sendable {
  func get<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String?, name: String
  ) async throws(KubernetesError) -> Object
}

/// Listing every object of a kind that matches `options` (its label selector), all pages: for controllers that look
/// at the cluster in passes (the watchdog) rather than through an informer.
public protocol ObjectListing: Sendable {
  func listAll<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String?, options: ListOptions
  ) async throws(KubernetesError) -> KubernetesList<Object>
}

/// What an informer needs: one page of a collection, and a watch from the version it reflects. ``KubernetesClient``
/// is the real one; `FakeObjectStore` keeps a history of its writes and replays it to watches, answering 410 for a
/// version older than what it kept, as the API server does after compaction.
public protocol ObjectWatching: Sendable {
  /// One page of the collection in `namespace` (all namespaces when nil); `metadata.continue` names the next.
  func list<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String?, options: ListOptions
  ) async throws(KubernetesError) -> KubernetesList<Object>

  /// The changes after `options.resourceVersion`, until the server ends the watch (the sequence ends) or it breaks
  /// (the sequence throws a ``KubernetesError``; ``KubernetesError/Code/gone`` when the version is too old).
  func watch<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String?, options: WatchOptions
  ) async throws(KubernetesError) -> WatchEvents<Object>
}
