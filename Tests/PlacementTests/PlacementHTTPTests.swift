import AsyncHTTPClient
import ControlPlaneKit
import ControlPlaneTestSupport
import Foundation
import Logging
import PlacementSimulator
import Testing

@testable import Placement

@Suite(.timeLimit(.minutes(1))) struct PlacementHTTPTests {
  static func get(_ url: String) async throws -> (status: UInt, body: String) {
    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
    return (response.status.code, String(buffer: try await response.body.collect(upTo: 1 << 20)))
  }

  /// Runs the health server with placement's routes while `body` runs, with its base URL.
  static func withHealthServer(
    _ fixture: PlacementFixture, _ body: @Sendable (String) async throws -> Void
  ) async throws {
    let routes = HealthRoutes()
    let (hub, leadership) = (fixture.hub, fixture.leadership)
    routes.add { router in PlacementHTTP.install(on: router, hub: hub, leadership: leadership) }
    let listening = Signal<Int>()
    let app = ObservabilityServers.healthApplication(
      host: "127.0.0.1", port: 0, readiness: ReadinessTargets([ObservabilityServers.healthzTarget]),
      logger: Logger(label: "test"), routes: routes,
      onListening: { listening.fire($0) })
    try await withRunningServices([app]) { try await body("http://127.0.0.1:\(try await listening.value())") }
  }

  @Test func stateIsDaprsShapeAndLookupAnswersWhatTheRingSays() async throws {
    let fixture = try PlacementFixture(tls: false)
    try await fixture.run { port in
      try await fixture.withClient(port: port) { client in
        let hosts = (1...3).map {
          SimulatedSidecar(name: "10.0.0.\($0):50002", appID: "app\($0)", namespace: "shop", actorTypes: ["Cart"])
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
          for (index, sidecar) in hosts.enumerated() {
            start(sidecar, on: client, in: &group)
            _ = try await sidecar.waitFor("unlock", version: UInt64(index + 1))
          }
          try await Self.withHealthServer(fixture) { base in
            let state = try await Self.get("\(base)/placement/state")
            #expect(state.status == 200)
            let json = try #require(
              JSONSerialization.jsonObject(with: Data(state.body.utf8)) as? [String: [String: [String: Any]]])
            let shop = try #require(json["tables"]?["shop"])
            #expect(shop["version"] as? Int == 3)
            let listed = try #require(shop["hosts"] as? [[String: Any]])
            #expect(listed.map { $0["name"] as? String } == ["10.0.0.1:50002", "10.0.0.2:50002", "10.0.0.3:50002"])
            #expect(Set(listed[0].keys) == ["name", "id", "api_level", "namespace", "entities", "operation"])

            // The golden vectors of daprd's ring (replication factor 100).
            for (id, owner) in [("actor-1", "10.0.0.1:50002"), ("actor-2", "10.0.0.3:50002"), ("0", "10.0.0.2:50002")] {
              let answer = try await Self.get("\(base)/placement/lookup?namespace=shop&type=Cart&id=\(id)")
              #expect(answer.status == 200)
              #expect(answer.body.contains("\"name\":\"\(owner)\""), "\(id): \(answer.body)")
            }
            let unknown = try await Self.get("\(base)/placement/lookup?namespace=shop&type=Nope&id=1")
            #expect(unknown.status == 404 && unknown.body.contains("ERR_ACTOR_NO_ADDRESS"))
            let incomplete = try await Self.get("\(base)/placement/lookup?namespace=shop")
            #expect(incomplete.status == 400 && incomplete.body.contains("type, id"))

            fixture.leadership.set(false)
            let follower = try await Self.get("\(base)/placement/state")
            #expect(follower.status == 503 && follower.body.contains("ERR_NOT_LEADER"))
          }
          for sidecar in hosts { sidecar.close() }
          try await group.waitForAll()
        }
      }
    }
  }
}
