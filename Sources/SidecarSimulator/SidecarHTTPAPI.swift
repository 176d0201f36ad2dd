import Foundation
import Hummingbird
import Kubernetes
import Logging
import ServiceLifecycle

/// A small HTTP API on the simulated sidecars, so that a person or a test can ask what they see:
///
/// - `GET /v1.0/healthz` (204 healthy, 500 not yet, as daprd) and `GET /v1.0/metadata` (daprd's JSON), when the
///   process simulates exactly one sidecar;
/// - the same under `/sidecars/<namespace>/<pod>/v1.0/...` for each sidecar, and `GET /sidecars` listing them;
/// - the simulator's own: `GET .../v1.0-sim/details` (identity, operator and placement state), `GET
///   .../v1.0-sim/actors/<type>/<id>` (the host the ring gives that actor; `POST .../v1.0-sim/actors/<type>` with a
///   JSON array of ids answers many at once), `GET .../v1.0-sim/resources/<kind>` (what the operator sent, as the
///   sidecar holds it), `POST .../v1.0-sim/renew` (ask sentry for a certificate now; 200 with the SPIFFE ID, or 502
///   with sentry's refusal).
public struct SidecarHTTPAPI: Service {
  let fleet: SidecarFleet
  let host: String
  let port: Int
  let logger: Logger
  var onListening: @Sendable (Int) async -> Void = { _ in }

  public init(
    fleet: SidecarFleet, host: String, port: Int, logger: Logger,
    onListening: @escaping @Sendable (Int) async -> Void = { _ in }
  ) {
    self.fleet = fleet
    self.host = host
    self.port = port
    self.logger = logger
    self.onListening = onListening
  }

  public func run() async throws {
    let router = Router()
    let fleet = self.fleet
    router.get("sidecars") { _, _ -> Response in
      let list: [JSONValue] = fleet.sidecars.sorted { $0.key < $1.key }.map { key, sidecar in
        [
          "key": .string(key), "appID": .string(sidecar.configuration.appID), "healthy": .bool(sidecar.isHealthy),
        ]
      }
      return try Self.json(.array(list))
    }
    // One sidecar: daprd's own paths.
    router.get("v1.0/**") { request, context -> Response in
      let all = fleet.sidecars
      guard all.count == 1, let sidecar = all.first?.value else {
        return try Self.json(
          ["error": .string("this process simulates \(all.count) sidecars: use /sidecars/<namespace>/<pod>/v1.0/...")],
          status: .notFound)
      }
      return try await Self.answer(sidecar, path: "v1.0/" + Self.rest(request), method: request.method)
    }
    router.on("sidecars/:namespace/:pod/**", method: .get) { request, context -> Response in
      try await Self.routed(fleet, request, context)
    }
    router.on("sidecars/:namespace/:pod/**", method: .post) { request, context -> Response in
      try await Self.routed(fleet, request, context)
    }
    router.post("v1.0-sim/**") { request, _ -> Response in
      guard fleet.sidecars.count == 1, let sidecar = fleet.sidecars.first?.value else {
        return try Self.json(["error": "name the sidecar: /sidecars/<namespace>/<pod>/v1.0-sim/..."], status: .notFound)
      }
      return try await Self.answer(sidecar, path: "v1.0-sim/" + Self.rest(request), method: .post, request: request)
    }
    router.post("v1.0-sim/renew") { _, _ -> Response in
      guard fleet.sidecars.count == 1, let sidecar = fleet.sidecars.first?.value else {
        return try Self.json(
          ["error": "name the sidecar: /sidecars/<namespace>/<pod>/v1.0-sim/renew"], status: .notFound)
      }
      return try await Self.answer(sidecar, path: "v1.0-sim/renew", method: .post)
    }
    router.get("v1.0-sim/**") { request, _ -> Response in
      guard fleet.sidecars.count == 1, let sidecar = fleet.sidecars.first?.value else {
        return try Self.json(["error": "name the sidecar: /sidecars/<namespace>/<pod>/v1.0-sim/..."], status: .notFound)
      }
      return try await Self.answer(sidecar, path: "v1.0-sim/" + Self.rest(request), method: .get)
    }
    let onListening = self.onListening
    try await Application(
      router: router, configuration: .init(address: .hostname(host, port: port), serverName: nil),
      onServerRunning: { await onListening($0.localAddress?.port ?? 0) }, logger: logger
    ).run()
  }

  static func rest(_ request: Request) -> String {
    let path = request.uri.path
    for prefix in ["/v1.0-sim/", "/v1.0/"] where path.hasPrefix(prefix) { return String(path.dropFirst(prefix.count)) }
    return ""
  }

  static func routed(_ fleet: SidecarFleet, _ request: Request, _ context: BasicRequestContext) async throws -> Response
  {
    let namespace = context.parameters.get("namespace") ?? ""
    let pod = context.parameters.get("pod") ?? ""
    guard let sidecar = fleet.sidecar(namespace: namespace, pod: pod) else {
      return try json(["error": .string("no simulated sidecar for pod \(namespace)/\(pod)")], status: .notFound)
    }
    let prefix = "/sidecars/\(namespace)/\(pod)/"
    let path = request.uri.path.hasPrefix(prefix) ? String(request.uri.path.dropFirst(prefix.count)) : ""
    return try await answer(sidecar, path: path, method: request.method, request: request)
  }

  static func answer(
    _ sidecar: SimulatedDaprd, path: String, method: HTTPRequest.Method, request: Request? = nil
  )
    async throws -> Response
  {
    let parts = path.split(separator: "/").map(String.init)
    switch (method, parts.first, parts.dropFirst().first) {
    case (.get, "v1.0-sim", "resources") where parts.count == 3:
      guard let kind = OperatorView.Kind(rawValue: parts[2]) else {
        return try json(
          ["error": .string("no kind \(parts[2]); kinds: \(OperatorView.Kind.allCases.map(\.rawValue))")],
          status: .notFound)
      }
      let objects = sidecar.view.objects[kind] ?? [:]
      return try json(.array(objects.keys.sorted().map { objects[$0]! }))
    case (.post, "v1.0-sim", "actors") where parts.count == 3:
      // A batch of lookups: a JSON array of actor ids in, an object of id → host out (null for none).
      guard let request,
        let ids = try? JSONCoding.parse(Data(buffer: try await request.body.collect(upTo: 4 << 20))).arrayValue
      else { return try json(["error": "the body must be a JSON array of actor ids"], status: .badRequest) }
      var hosts: JSONObject = [:]
      for id in ids.compactMap(\.stringValue) {
        hosts[id] = sidecar.host(actorType: parts[2], id: id).map { .string($0.host) } ?? .null
      }
      return try json(.object(hosts))
    case (.get, "v1.0", "healthz"):
      return Response(status: sidecar.isHealthy ? .noContent : .internalServerError)
    case (.get, "v1.0", "metadata"):
      return try json(sidecar.metadata)
    case (.get, "v1.0-sim", "details"):
      return try json(sidecar.details)
    case (.get, "v1.0-sim", "actors") where parts.count == 4:
      guard let found = sidecar.host(actorType: parts[2], id: parts[3]) else {
        return try json(
          ["error": .string("did not find address for actor '\(parts[2])/\(parts[3])'")], status: .notFound)
      }
      return try json(["host": .string(found.host), "appID": .string(found.appID)])
    case (.post, "v1.0-sim", "renew"):
      switch await sidecar.renewNow() {
      case .success(let id): return try json(["spiffeID": .string(id)])
      case .failure(let error): return try json(["error": .string("\(error)")], status: .badGateway)
      }
    default:
      return try json(["error": .string("no such path: \(path)")], status: .notFound)
    }
  }

  static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) throws -> Response {
    Response(
      status: status, headers: [.contentType: "application/json"],
      body: .init(byteBuffer: ByteBuffer(bytes: try JSONCoding.encode(value, sortedKeys: true))))
  }
}
