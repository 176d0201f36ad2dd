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

extension KubernetesClient: ObjectWriting {}
