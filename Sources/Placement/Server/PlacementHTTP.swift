import ControlPlaneKit
import Foundation
import Hummingbird

/// `/placement/state` and `/placement/lookup` on the healthz port (behind `--metadata-enabled`).
enum PlacementHTTP {
  struct StateHost: Codable, Equatable {
    var name: String
    var id: String
    var api_level: UInt32
    var namespace: String
    var entities: [String]
    var operation: Int
  }

  struct StateTable: Codable, Equatable {
    var hosts: [StateHost]
    var version: UInt64
  }

  struct State: Codable, Equatable {
    var tables: [String: StateTable]
  }

  struct LookupAnswer: Codable, Equatable {
    struct Host: Codable, Equatable {
      var name: String
      var id: String
      var port: Int64
    }
    var namespace: String
    var type: String
    var id: String
    var host: Host
  }

  struct Problem: Codable, Equatable {
    var errorCode: String
    var message: String
  }

  /// The state in Dapr's current JSON shape.
  static func state(of hub: PlacementHub) -> State {
    State(
      tables: hub.snapshot().mapValues { table in
        StateTable(
          hosts: table.hosts.map {
            StateHost(
              name: $0.name, id: $0.id, api_level: $0.apiLevel, namespace: $0.namespace, entities: $0.entities,
              operation: $0.operation.rawValue)
          },
          version: table.version)
      })
  }

  static func install(on router: Router<BasicRequestContext>, hub: PlacementHub, leadership: LatestValue<Bool>) {
    router.get("placement/state") { _, _ -> Response in
      // Dapr answers a follower with 200 and `null`; a clear error helps whoever is looking.
      guard leadership.current else {
        return notLeader()
      }
      return json(state(of: hub), status: .ok)
    }
    router.get("placement/lookup") { request, _ -> Response in
      let query = request.uri.queryParameters
      var missing: [String] = []
      var values: [String: String] = [:]
      for name in ["namespace", "type", "id"] {
        if let value = query[Substring(name)], !value.isEmpty {
          values[name] = String(value)
        } else {
          missing.append(name)
        }
      }
      guard missing.isEmpty else {
        return json(
          Problem(
            errorCode: "ERR_BAD_REQUEST",
            message:
              "missing query parameter(s): \(missing.joined(separator: ", ")) (namespace, type and id are required)"),
          status: .badRequest)
      }
      guard leadership.current else {
        return notLeader()
      }
      let (namespace, type, id) = (values["namespace"]!, values["type"]!, values["id"]!)
      guard let host = hub.lookup(namespace: namespace, type: type, id: id) else {
        return json(
          Problem(
            errorCode: "ERR_ACTOR_NO_ADDRESS",
            message: "did not find address for actor '\(type)/\(id)' in namespace \(namespace)"),
          status: .notFound)
      }
      return json(
        LookupAnswer(
          namespace: namespace, type: type, id: id, host: .init(name: host.name, id: host.id, port: host.port)),
        status: .ok)
    }
  }

  /// A follower's answer (Dapr's follower answers 200 with `null`).
  static func notLeader() -> Response {
    json(
      Problem(errorCode: "ERR_NOT_LEADER", message: "this placement replica is not the leader"),
      status: .serviceUnavailable)
  }

  static func json(_ value: some Encodable, status: HTTPResponse.Status) -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let body = (try? encoder.encode(value)) ?? Data("{}".utf8)
    return Response(
      status: status, headers: [.contentType: "application/json"],
      body: .init(byteBuffer: ByteBuffer(bytes: body)))
  }
}
