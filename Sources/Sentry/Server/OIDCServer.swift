import ControlPlaneKit
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import ServiceLifecycle
import X509

/// Serves ``OIDCDiscovery`` over HTTPS (or plain HTTP with `--oidc-server-tls-enabled=false`), with the key set of
/// the JWT signer in use, so a rotated-in key is published as soon as it is stored. Waits for the TLS files, as
/// Dapr's does, and serves a renewed certificate from the same files to new connections.
public struct OIDCServer: Service {
  public static let readinessTarget = "oidc-server"

  let discovery: OIDCDiscovery
  let jwtIssuer: LatestValue<JWTIssuer?>
  let readiness: ReadinessTargets
  let logger: Logger
  let onListening: @Sendable (Int) async -> Void

  public init(
    discovery: OIDCDiscovery, jwtIssuer: LatestValue<JWTIssuer?>, readiness: ReadinessTargets, logger: Logger,
    onListening: @escaping @Sendable (Int) async -> Void = { _ in }
  ) {
    self.discovery = discovery
    self.jwtIssuer = jwtIssuer
    self.readiness = readiness
    self.logger = logger
    self.onListening = onListening
  }

  public func run() async throws {
    let settings = discovery.settings
    let responder = CallbackResponder<BasicRequestContext> { [discovery, jwtIssuer] request, _ in
      let signer = jwtIssuer.current
      let reply = discovery.answer(
        method: request.method.rawValue, path: request.uri.path, host: request.head.authority ?? "",
        forwardedHost: request.headers[HTTPField.Name("X-Forwarded-Host")!], keySet: signer?.keySet,
        signingAlgorithm: signer?.key.algorithm.rawValue)
      var headers: HTTPFields = [.contentType: reply.contentType]
      if let cache = reply.cacheControl { headers[.cacheControl] = cache }
      return Response(
        status: .init(code: reply.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: reply.body)))
    }
    let server: HTTPServerBuilder
    var watcher: Task<Void, Never>?
    if let files = settings.tls {
      guard let identity = try await waitForIdentity(files) else { return }
      let current = LatestValue(identity)
      server = try .tls(.http1(), configuration: HummingbirdTLSConfigurations.server(identity: current))
      watcher = Task { await keepReloading(files, into: current) }
      logger.info("Starting OIDC HTTP server on \(settings.host):\(settings.port)")
    } else {
      server = .http1()
      logger.info("Starting OIDC HTTP server (insecure) on \(settings.host):\(settings.port)")
    }
    defer { watcher?.cancel() }
    let readiness = self.readiness
    let onListening = self.onListening
    if !settings.allowedHosts.isEmpty {
      logger.info("OIDC server will only accept requests for hosts: \(settings.allowedHosts)")
    }
    try await Application(
      responder: responder, server: server,
      configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: nil),
      onServerRunning: { channel in
        readiness.markReady(Self.readinessTarget)
        await onListening(channel.localAddress?.port ?? settings.port)
      },
      logger: logger
    ).run()
  }

  /// The certificate and key from their files, once both exist and parse; nil when shut down first.
  func waitForIdentity(_ files: OIDCSettings.TLSFiles) async throws -> TLSIdentity? {
    var warned = false
    while true {
      do {
        return try Self.identity(files)
      } catch {
        if !warned {
          logger.warning("Waiting for TLS certificate and key files to be available: \(error)")
          warned = true
        }
      }
      do {
        try await Task.sleep(for: .seconds(1))
        try await gracefulShutdown()
      } catch is CancellationError {
        return nil
      } catch {
        // Not shutting down: look again.
      }
    }
  }

  static func identity(_ files: OIDCSettings.TLSFiles) throws -> TLSIdentity {
    guard let certificate = FileManager.default.contents(atPath: files.certificate),
      let key = FileManager.default.contents(atPath: files.key)
    else { throw OIDCServerError("cannot read \(files.certificate) and \(files.key)") }
    do {
      let chain = try CAMaterial.certificates(in: String(decoding: certificate, as: UTF8.self))
      let privateKey = try Certificate.PrivateKey(pemEncoded: String(decoding: key, as: UTF8.self))
      return try TLSIdentity(certificateChain: chain, privateKey: privateKey)
    } catch {
      throw OIDCServerError("failed to load TLS certificate and key: \(error)")
    }
  }

  /// Re-reads the files every few seconds; a changed, valid pair is served to new connections.
  func keepReloading(_ files: OIDCSettings.TLSFiles, into current: LatestValue<TLSIdentity>) async {
    while !Task.isCancelled {
      try? await Task.sleep(for: .seconds(5))
      guard let next = try? Self.identity(files), next.leaf != current.current.leaf else { continue }
      current.set(next)
      logger.info("OIDC TLS certificate changed; serving the new one")
    }
  }
}

struct OIDCServerError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
