import Foundation
import Kubernetes

/// What a sidecar holds of the operator's resources: each List replaces a kind, each update event changes one
/// object, as daprd applies them. Resources are kept as the operator sent them (secrets resolved).
public struct OperatorView: Hashable, Sendable {
  /// The seven kinds the operator serves, in the order daprd lists them at start-up.
  public enum Kind: String, CaseIterable, Sendable, Codable {
    case configuration, resiliency, component, httpEndpoint, subscription, mcpServer, workflowAccessPolicy
  }

  /// Kind → name → object.
  public private(set) var objects: [Kind: [String: JSONValue]] = [:]
  /// How many update events each kind received (CREATED, UPDATED, DELETED).
  public private(set) var events: [Kind: Int] = [:]
  /// How many Lists each kind received.
  public private(set) var lists: [Kind: Int] = [:]

  public init() {}

  /// A List's answer replaces what the kind held.
  public mutating func replace(_ kind: Kind, with encoded: [Data]) throws {
    var byName: [String: JSONValue] = [:]
    for data in encoded {
      let object = try JSONCoding.parse(data)
      byName[Self.name(of: object)] = object
    }
    objects[kind] = byName
    lists[kind, default: 0] += 1
  }

  /// The answer of a Get (the Configuration named by `--config`).
  public mutating func set(_ kind: Kind, _ encoded: Data) throws {
    let object = try JSONCoding.parse(encoded)
    objects[kind, default: [:]][Self.name(of: object)] = object
  }

  /// One update event: 1 CREATED, 2 UPDATED, 3 DELETED (`dapr.proto.operator.v1.ResourceEventType`).
  public mutating func apply(_ kind: Kind, type: Int, _ encoded: Data) throws {
    let object = try JSONCoding.parse(encoded)
    let name = Self.name(of: object)
    switch type {
    case 1, 2: objects[kind, default: [:]][name] = object
    case 3: objects[kind]?[name] = nil
    default: return
    }
    events[kind, default: 0] += 1
  }

  static func name(of object: JSONValue) -> String { object["metadata"]?["name"]?.stringValue ?? "" }

  /// The objects of a kind, by name.
  public func names(_ kind: Kind) -> [String] { (objects[kind] ?? [:]).keys.sorted() }

  /// The objects of `kind` that app `appID` loads: those without scopes, or scoped to it (daprd filters every kind
  /// but Components, which the operator already filtered).
  public func loaded(_ kind: Kind, appID: String) -> [JSONValue] {
    (objects[kind] ?? [:]).sorted { $0.key < $1.key }.map(\.value).filter { object in
      let scopes = object["scopes"]?.arrayValue?.compactMap(\.stringValue) ?? []
      return scopes.isEmpty || scopes.contains(appID)
    }
  }
}
