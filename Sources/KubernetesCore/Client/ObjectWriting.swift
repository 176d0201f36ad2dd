/// What controllers change in the API server: create, update, patch and delete. ``KubernetesClient`` is the real
/// one; tests give controllers an in-memory fake (`FakeObjectStore` in ControlPlaneTestSupport) with resource
/// versions, conflicts and injected failures. Reading (lists and watches) stays with the informers.
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
