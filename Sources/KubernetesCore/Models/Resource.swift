import Foundation

/// Where a kind of object lives in the API: `/api/v1/...` for the core group, `/apis/<group>/<version>/...` else.
public struct ResourceDescriptor: Hashable, Sendable, CustomStringConvertible {
  /// The API group; empty for the core group.
  public var group: String
  public var version: String
  /// The plural resource name in URLs, such as `pods`.
  public var plural: String
  public var kind: String
  public var namespaced: Bool

  public init(group: String, version: String, plural: String, kind: String, namespaced: Bool) {
    self.group = group
    self.version = version
    self.plural = plural
    self.kind = kind
    self.namespaced = namespaced
  }

  /// `v1` or `<group>/<version>`.
  public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

  /// The path of the collection, in a namespace for namespaced kinds (`nil`: across all namespaces).
  public func collectionPath(namespace: String?) -> String {
    let prefix = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
    if namespaced, let namespace { return "\(prefix)/namespaces/\(namespace.urlPathEscaped)/\(plural)" }
    return "\(prefix)/\(plural)"
  }

  /// The path of one object.
  public func objectPath(namespace: String?, name: String) -> String {
    "\(collectionPath(namespace: namespace))/\(name.urlPathEscaped)"
  }

  public var description: String { group.isEmpty ? plural : "\(plural).\(group)" }
}

/// A top-level Kubernetes object of a known kind.
public protocol KubernetesObject: JSONObjectView {
  static var resource: ResourceDescriptor { get }
}

extension KubernetesObject {
  /// A new object of this kind, with `apiVersion` and `kind` set.
  public init(name: String, namespace: String? = nil) {
    self.init(json: [
      "apiVersion": .string(Self.resource.apiVersion), "kind": .string(Self.resource.kind),
    ])
    metadata.name = name
    if Self.resource.namespaced { metadata.namespace = namespace }
  }

  public var apiVersion: String? {
    get { self["apiVersion"] }
    set { self["apiVersion"] = newValue }
  }

  public var kind: String? {
    get { self["kind"] }
    set { self["kind"] = newValue }
  }

  public var metadata: ObjectMeta {
    get { self["metadata"] ?? ObjectMeta() }
    set { self["metadata"] = newValue }
  }

  /// `namespace/name`, or `name` for cluster-scoped objects: the key of caches and logs.
  public var key: String {
    let meta = metadata
    guard let namespace = meta.namespace, !namespace.isEmpty else { return meta.name ?? "" }
    return "\(namespace)/\(meta.name ?? "")"
  }
}

/// Standard object metadata.
public struct ObjectMeta: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var name: String? {
    get { self["name"] }
    set { self["name"] = newValue }
  }
  public var generateName: String? {
    get { self["generateName"] }
    set { self["generateName"] = newValue }
  }
  public var namespace: String? {
    get { self["namespace"] }
    set { self["namespace"] = newValue }
  }
  public var uid: String? {
    get { self["uid"] }
    set { self["uid"] = newValue }
  }
  public var resourceVersion: String? {
    get { self["resourceVersion"] }
    set { self["resourceVersion"] = newValue }
  }
  public var generation: Int64? {
    get { self["generation"] }
    set { self["generation"] = newValue }
  }
  public var creationTimestamp: String? {
    get { self["creationTimestamp"] }
    set { self["creationTimestamp"] = newValue }
  }
  public var deletionTimestamp: String? {
    get { self["deletionTimestamp"] }
    set { self["deletionTimestamp"] = newValue }
  }
  public var labels: [String: String]? {
    get { self["labels"] }
    set { self["labels"] = newValue }
  }
  public var annotations: [String: String]? {
    get { self["annotations"] }
    set { self["annotations"] = newValue }
  }
  public var ownerReferences: [OwnerReference]? {
    get { self["ownerReferences"] }
    set { self["ownerReferences"] = newValue }
  }
  public var finalizers: [String]? {
    get { self["finalizers"] }
    set { self["finalizers"] = newValue }
  }
}

/// A link to the object that owns this one (garbage collection).
public struct OwnerReference: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  /// An owner reference to `owner`; `controller: true` marks it as the managing controller.
  public init<Owner: KubernetesObject>(to owner: Owner, controller: Bool = true, blockOwnerDeletion: Bool = true) {
    self.init()
    apiVersion = Owner.resource.apiVersion
    kind = Owner.resource.kind
    name = owner.metadata.name
    uid = owner.metadata.uid
    self.controller = controller
    self.blockOwnerDeletion = blockOwnerDeletion
  }

  public var apiVersion: String? {
    get { self["apiVersion"] }
    set { self["apiVersion"] = newValue }
  }
  public var kind: String? {
    get { self["kind"] }
    set { self["kind"] = newValue }
  }
  public var name: String? {
    get { self["name"] }
    set { self["name"] = newValue }
  }
  public var uid: String? {
    get { self["uid"] }
    set { self["uid"] = newValue }
  }
  public var controller: Bool? {
    get { self["controller"] }
    set { self["controller"] = newValue }
  }
  public var blockOwnerDeletion: Bool? {
    get { self["blockOwnerDeletion"] }
    set { self["blockOwnerDeletion"] = newValue }
  }
}

/// A page of a list: the items and where the list stands.
public struct KubernetesList<Item: KubernetesObject>: Codable, Sendable, JSONParsable {
  public var items: [Item]
  public var metadata: ListMeta

  public init(items: [Item], metadata: ListMeta) {
    self.items = items
    self.metadata = metadata
  }

  enum CodingKeys: String, CodingKey { case items, metadata }

  public init(parsing value: JSONValue) throws {
    guard let object = value.objectValue else {
      throw JSONShapeError(description: "expected a JSON object for a list of \(Item.self)")
    }
    let rawItems = object["items"]?.arrayValue ?? []
    var items: [Item] = []
    items.reserveCapacity(rawItems.count)
    for raw in rawItems {
      var item = try Item(parsing: raw)
      if item.kind == nil {
        item.apiVersion = Item.resource.apiVersion
        item.kind = Item.resource.kind
      }
      items.append(item)
    }
    self.items = items
    self.metadata = object["metadata"].flatMap(ListMeta.init(jsonValue:)) ?? ListMeta()
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    // The API server writes `"items": null` for an empty list.
    var items = try container.decodeIfPresent([Item].self, forKey: .items) ?? []
    // Items of a list carry no apiVersion/kind; give them theirs so they serialise like single gets.
    for index in items.indices where items[index].kind == nil {
      items[index].apiVersion = Item.resource.apiVersion
      items[index].kind = Item.resource.kind
    }
    self.items = items
    self.metadata = try container.decodeIfPresent(ListMeta.self, forKey: .metadata) ?? ListMeta()
  }
}

/// The metadata of a list.
public struct ListMeta: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var resourceVersion: String? {
    get { self["resourceVersion"] }
    set { self["resourceVersion"] = newValue }
  }
  /// Set when more pages follow.
  public var `continue`: String? {
    get { self["continue"] }
    set { self["continue"] = newValue }
  }
}

/// The API server's `Status` object: the body of every error response.
public struct Status: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var status: String? { self["status"] }
  public var message: String? { self["message"] }
  public var reason: String? { self["reason"] }
  public var code: Int? { self["code"] }
  public var details: StatusDetails? { self["details"] }
}

/// The details of a `Status`: which object, and for `Invalid`, which fields.
public struct StatusDetails: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var name: String? { self["name"] }
  public var kind: String? { self["kind"] }
  public var causes: [StatusCause]? { self["causes"] }
}

/// One cause of an error, such as an invalid field.
public struct StatusCause: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var reason: String? { self["reason"] }
  public var message: String? { self["message"] }
  public var field: String? { self["field"] }
}

extension String {
  /// The string as one URL path segment.
  var urlPathEscaped: String {
    addingPercentEncoding(withAllowedCharacters: .urlPathSegmentAllowed) ?? self
  }
}

extension CharacterSet {
  /// Characters allowed in one path segment (no `/`).
  static let urlPathSegmentAllowed: CharacterSet = {
    var allowed = CharacterSet.urlPathAllowed
    allowed.remove(charactersIn: "/")
    return allowed
  }()
}
