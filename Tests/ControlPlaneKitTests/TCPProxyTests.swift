import AsyncHTTPClient
import ControlPlaneKit
import ControlPlaneTestSupport
import Hummingbird
import Logging
import Testing

@Suite(.timeLimit(.minutes(1))) struct TCPProxyTests {
  @Test func theProxyForwardsUntilItIsCutAndRefusesWhileTold() async throws {
    let router = Router()
    router.get("hello") { _, _ in "hello" }
    let listening = Signal<Int>()
    let app = Application(
      router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
      onServerRunning: { listening.fire($0.localAddress?.port ?? 0) }, logger: Logger(label: "proxied"))
    try await withRunningServices([app]) {
      let port = try await listening.value()
      let proxy = try await TCPProxy(targetHost: "127.0.0.1", targetPort: port)
      let url = "http://127.0.0.1:\(proxy.port)/hello"
      #expect(try await fetchOnce(url) == "hello")
      proxy.dropAllConnections()
      #expect(try await fetchOnce(url) == "hello")
      proxy.refuseConnections = true
      proxy.dropAllConnections()
      await #expect(throws: (any Error).self) { _ = try await fetchOnce(url) }
      proxy.refuseConnections = false
      #expect(try await fetchOnce(url) == "hello")
      #expect(proxy.acceptedConnections >= 2)
      await proxy.close()
    }
  }
}

/// One request on a connection of its own, so that no pooled connection hides what the proxy does.
func fetchOnce(_ url: String) async throws -> String {
  let client = HTTPClient(eventLoopGroupProvider: .singleton)
  do {
    let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
    let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
    try await client.shutdown()
    return body
  } catch {
    try? await client.shutdown()
    throw error
  }
}
