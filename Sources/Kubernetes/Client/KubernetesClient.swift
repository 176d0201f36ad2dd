import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization

/// A typed client of the Kubernetes API on AsyncHTTPClient: get, list, create, update, patch, delete and watch any
/// ``KubernetesObject``, plus the TokenReview and TokenRequest calls the control plane needs.
///
/// Every failure is a ``KubernetesError``. Call ``shutdown()`` before dropping the client.
public final class KubernetesClient: Sendable {
  public let configuration: KubernetesConfiguration
  let http: HTTPClient
  let tokens: BearerTokens?
  let logger: Logger
  /// The time limit of one non-watch request.
  public let requestTimeout: TimeAmount
  private let isShutDown = Atomic<Bool>(false)

  public init(
    configuration: KubernetesConfiguration, logger: Logger = Logger(label: "dapr.kubernetes"),
    requestTimeout: TimeAmount = .seconds(30),
    eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
  ) throws(KubernetesError) {
    guard let url = URL(string: configuration.server), url.scheme == "https" || url.scheme == "http", url.host != nil
    else {
      throw .configuration("the API server address \"\(configuration.server)\" is not an http(s) URL")
    }
    var tls = TLSConfiguration.makeClientConfiguration()
    do {
      if let ca = configuration.certificateAuthorityPEM {
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
      }
      if let certificate = configuration.clientCertificatePEM, let key = configuration.clientKeyPEM {
        tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate).map { .certificate($0) }
        tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
      }
    } catch {
      throw .configuration("the TLS material of \(configuration.source) does not load: \(error)")
    }
    if configuration.insecureSkipTLSVerify { tls.certificateVerification = .none }
    var httpConfiguration = HTTPClient.Configuration(
      tlsConfiguration: tls, redirectConfiguration: .disallow,
      timeout: .init(connect: .seconds(10), read: nil),
      connectionPool: .init(idleTimeout: .seconds(90), concurrentHTTP1ConnectionsPerHostSoftLimit: 64))
    httpConfiguration.httpVersion = .automatic
    self.http = HTTPClient(eventLoopGroupProvider: .shared(eventLoopGroup), configuration: httpConfiguration)
    self.configuration = configuration
    self.tokens = configuration.token.map(BearerTokens.init)
    self.logger = logger
    self.requestTimeout = requestTimeout
  }

  /// Closes the client's connections.
  public func shutdown() async {
    guard !isShutDown.exchange(true, ordering: .relaxed) else { return }
    try? await http.shutdown()
  }

  deinit {
    // A client dropped without shutdown() (a test that failed half-way, a task that was cancelled) still closes its
    // connections; the HTTP client keeps itself alive until that is done.
    if !isShutDown.exchange(true, ordering: .relaxed) {
      http.shutdown(queue: .global()) { _ in }
    }
  }

  // === Verbs ===

  /// Reads one object.
  public func get<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String? = nil, name: String
  ) async throws(KubernetesError) -> Object {
    try await call(.GET, Object.resource.objectPath(namespace: namespace, name: name))
  }

  /// Reads one page of a collection (all namespaces when `namespace` is nil).
  public func list<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String? = nil, options: ListOptions = ListOptions()
  ) async throws(KubernetesError) -> KubernetesList<Object> {
    try await call(.GET, Object.resource.collectionPath(namespace: namespace), query: options.query)
  }

  /// Reads a whole collection, page by page.
  public func listAll<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String? = nil, options: ListOptions = ListOptions()
  ) async throws(KubernetesError) -> KubernetesList<Object> {
    var options = options
    var page = try await list(Object.self, namespace: namespace, options: options)
    var items = page.items
    while let next = page.metadata.continue, !next.isEmpty {
      options.continueToken = next
      page = try await list(Object.self, namespace: namespace, options: options)
      items += page.items
    }
    return KubernetesList(items: items, metadata: page.metadata)
  }

  /// Creates `object` in its namespace (`metadata.namespace`).
  public func create<Object: KubernetesObject>(_ object: Object) async throws(KubernetesError) -> Object {
    try await call(
      .POST, Object.resource.collectionPath(namespace: object.metadata.namespace), body: try Self.encode(object))
  }

  /// Replaces `object`. Its `metadata.resourceVersion`, when set, is a precondition: a stale version fails with
  /// ``KubernetesError/Code/conflict``.
  public func update<Object: KubernetesObject>(_ object: Object) async throws(KubernetesError) -> Object {
    guard let name = object.metadata.name else { throw .configuration("cannot update an object without a name") }
    return try await call(
      .PUT, Object.resource.objectPath(namespace: object.metadata.namespace, name: name), body: try Self.encode(object))
  }

  /// Reads an object, changes it with `mutate` and writes it back, starting over (up to `attempts` times) when
  /// someone else changed it in between: the read-modify-write loop of every controller.
  public func update<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String? = nil, name: String, attempts: Int = 5,
    mutate: (inout Object) throws(KubernetesError) -> Void
  ) async throws(KubernetesError) -> Object {
    var attempt = 0
    while true {
      attempt += 1
      var object = try await get(Object.self, namespace: namespace, name: name)
      try mutate(&object)
      do {
        return try await update(object)
      } catch  where error.code == .conflict && attempt < attempts {
        continue
      }
    }
  }

  /// Patches one object.
  public func patch<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String? = nil, name: String, _ patch: Patch, fieldManager: String? = nil,
    force: Bool = false
  ) async throws(KubernetesError) -> Object {
    var query: [(String, String)] = []
    if let fieldManager { query.append(("fieldManager", fieldManager)) }
    if force { query.append(("force", "true")) }
    return try await call(
      .PATCH, Object.resource.objectPath(namespace: namespace, name: name), query: query, body: try patch.body(),
      contentType: patch.contentType)
  }

  /// Deletes one object; with `resourceVersion`, only if it is still at that version.
  public func delete<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String? = nil, name: String, resourceVersion: String? = nil,
    propagationPolicy: String? = nil
  ) async throws(KubernetesError) {
    var options: JSONObject = ["apiVersion": "v1", "kind": "DeleteOptions"]
    if let resourceVersion { options["preconditions"] = ["resourceVersion": .string(resourceVersion)] }
    if let propagationPolicy { options["propagationPolicy"] = .string(propagationPolicy) }
    let _: JSONValue = try await call(
      .DELETE, Object.resource.objectPath(namespace: namespace, name: name), body: try Self.encode(options))
  }

  /// Asks the API server who `token` belongs to, for any of `audiences`.
  public func review(token: String, audiences: [String]) async throws(KubernetesError) -> TokenReview {
    try await call(
      .POST, TokenReview.resource.collectionPath(namespace: nil),
      body: try Self.encode(TokenReview(token: token, audiences: audiences)))
  }

  /// Issues a token for a service account (the `token` subresource).
  public func requestToken(
    serviceAccount: String, namespace: String, _ request: TokenRequest
  ) async throws(KubernetesError) -> TokenRequest {
    let path = ServiceAccount.resource.objectPath(namespace: namespace, name: serviceAccount) + "/token"
    return try await call(.POST, path, body: try Self.encode(request))
  }

  /// Reads a path that is not an object (for example `/readyz` or `/version`) as text.
  public func getRaw(_ path: String) async throws(KubernetesError) -> String {
    let (_, body) = try await send(.GET, path, query: [], body: nil, contentType: nil)
    return String(buffer: body)
  }

  // === Transport ===

  func call<Response: Decodable>(
    _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: ByteBuffer? = nil,
    contentType: String = "application/json"
  ) async throws(KubernetesError) -> Response {
    let (_, responseBody) = try await send(method, path, query: query, body: body, contentType: contentType)
    do {
      return try JSONCoding.decode(Response.self, from: Data(buffer: responseBody))
    } catch {
      throw KubernetesError(
        code: .malformedResponse,
        message: "\(method) \(path) answered with a body that is not a \(Response.self): \(error)")
    }
  }

  func send(
    _ method: HTTPMethod, _ path: String, query: [(String, String)], body: ByteBuffer?, contentType: String?
  ) async throws(KubernetesError) -> (HTTPResponseStatus, ByteBuffer) {
    let request = try makeRequest(method, path, query: query, body: body, contentType: contentType)
    let label = "\(method) \(path)"
    do {
      let response = try await http.execute(request, timeout: requestTimeout)
      let responseBody = try await response.body.collect(upTo: 256 << 20)
      guard (200..<300).contains(response.status.code) else {
        throw Self.errorResponse(status: Int(response.status.code), body: responseBody, request: label)
      }
      return (response.status, responseBody)
    } catch let error as KubernetesError {
      throw error
    } catch {
      throw Self.transportError(error, request: label, server: configuration.server)
    }
  }

  func makeRequest(
    _ method: HTTPMethod, _ path: String, query: [(String, String)], body: ByteBuffer?, contentType: String?
  ) throws(KubernetesError) -> HTTPClientRequest {
    var components = URLComponents()
    components.path = path
    if !query.isEmpty { components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
    // `+` is legal in a query but means a space to Go's parser.
    let suffix = (components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")).map { "?\($0)" } ?? ""
    var request = HTTPClientRequest(url: configuration.server + components.percentEncodedPath + suffix)
    request.method = method
    request.headers.add(name: "Accept", value: "application/json")
    request.headers.add(name: "User-Agent", value: "dapr-control-plane-swift")
    if let tokens { request.headers.add(name: "Authorization", value: "Bearer \(try tokens.current())") }
    if let body {
      request.headers.add(name: "Content-Type", value: contentType ?? "application/json")
      request.body = .bytes(body)
    }
    return request
  }

  static func encode<Value: Encodable>(_ value: Value) throws(KubernetesError) -> ByteBuffer {
    do {
      return ByteBuffer(data: try JSONCoding.encode(value))
    } catch {
      throw KubernetesError(code: .malformedResponse, message: "cannot encode \(Value.self): \(error)")
    }
  }

  static func errorResponse(status: Int, body: ByteBuffer, request: String) -> KubernetesError {
    let decoded = try? JSONCoding.decode(Status.self, from: Data(buffer: body))
    let statusObject = decoded?.json["kind"]?.stringValue == "Status" ? decoded : nil
    var error = KubernetesError.fromResponse(httpStatus: status, status: statusObject, request: request)
    if statusObject == nil, body.readableBytes > 0 {
      let text = String(buffer: body).prefix(200)
      error = KubernetesError(
        code: error.code, httpStatus: status, message: "\(request) answered HTTP \(status): \(text)")
    }
    return error
  }

  static func transportError(_ error: any Error, request: String, server: String) -> KubernetesError {
    if error is CancellationError {
      return KubernetesError(code: .cancelled, message: "\(request) was cancelled")
    }
    if let tlsError = error as? NIOSSLError {
      return KubernetesError(code: .tlsFailure, message: "TLS with \(server) failed during \(request): \(tlsError)")
    }
    if let boringError = error as? BoringSSLError {
      return KubernetesError(
        code: .tlsFailure,
        message: "TLS with \(server) failed during \(request) (wrong CA or client certificate?): \(boringError)")
    }
    if let httpError = error as? HTTPClientError {
      switch httpError {
      case .deadlineExceeded, .readTimeout:
        return KubernetesError(code: .timeout, message: "\(request) to \(server) timed out")
      case .cancelled:
        return KubernetesError(code: .cancelled, message: "\(request) was cancelled")
      case .connectTimeout:
        return KubernetesError(code: .unreachable, message: "cannot connect to \(server): connection timed out")
      default:
        return KubernetesError(code: .unreachable, message: "\(request) to \(server) failed: \(httpError)")
      }
    }
    return KubernetesError(code: .unreachable, message: "cannot reach \(server) for \(request): \(error)")
  }
}

extension Patch {
  func body() throws(KubernetesError) -> ByteBuffer {
    switch self {
    case .json(let operations): try KubernetesClient.encode(operations)
    case .merge(let value), .strategicMerge(let value), .apply(let value): try KubernetesClient.encode(value)
    }
  }
}

extension KubernetesClient: ObjectWriting, ObjectReading, ObjectListing, ObjectWatching {}

extension KubernetesClient {
  /// The client of a service that can run without a cluster (serving health and metrics only): nil, with an error
  /// line saying what is not served, when no kubeconfig or in-cluster configuration is reachable.
  public static func ifConfigured(
    kubeconfigPath: String?, logger: Logger, clientLogger: Logger, unserved: String
  ) throws -> KubernetesClient? {
    let configuration: KubernetesConfiguration
    do {
      configuration = try KubernetesConfiguration.load(kubeconfigPath: kubeconfigPath)
    } catch {
      logger.error("No Kubernetes configuration (\(error)); \(unserved) is not served")
      return nil
    }
    return try KubernetesClient(configuration: configuration, logger: clientLogger)
  }
}

/// Shuts a client down when the process stops. List it before the services that use the client: a service group
/// stops its services in reverse order, so the client closes last (a leader can still release its lease).
public struct KubernetesClientCloser: ServiceLifecycle.Service {
  public let client: KubernetesClient

  public init(client: KubernetesClient) { self.client = client }

  public func run() async throws {
    try? await gracefulShutdown()
    await client.shutdown()
  }
}
