import ControlPlaneKit
import Foundation
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import NIOSSL

/// A lean gRPC client for the benchmarks' simulated sidecars: one HTTP/2 connection (TLS when asked), streaming
/// calls whose messages are handed to a callback on the connection's event loop as they arrive.
///
/// A benchmark's fleet of sidecars runs in one process on one core, and measures the server on the other; with
/// grpc-swift's client each received message costs a task wake-up and several async hops, more than the server
/// spends sending it, so the fleet, not the server, set the pace. This client speaks the same wire format (HTTP/2
/// with TLS and ALPN `h2`, gRPC's length-prefixed messages) with no task per message. The servers under test are
/// unchanged, and the tests still use grpc-swift's client.
public final class LeanGRPCConnection: Sendable {
  let channel: any Channel
  let multiplexer: NIOHTTP2Handler.StreamMultiplexer
  let authority: String

  /// Connects to `host:port` (an address literal), with TLS from `tls` (nil: plaintext, prior knowledge).
  /// `receiveWindow` is the flow-control window kept open for the server (connection and each stream), and
  /// `maxFrameSize` the largest frame it may send.
  public static func connect(
    host: String, port: Int, tls: LeanGRPCTLS?, receiveWindow: Int = 65_535, maxFrameSize: Int = 1 << 14,
    group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
  ) async throws -> LeanGRPCConnection {
    var connectionSettings = NIOHTTP2Handler.ConnectionConfiguration()
    connectionSettings.initialSettings = [
      HTTP2Setting(parameter: .maxConcurrentStreams, value: 100),
      HTTP2Setting(parameter: .initialWindowSize, value: receiveWindow),
      HTTP2Setting(parameter: .maxFrameSize, value: maxFrameSize),
    ]
    connectionSettings.targetWindowSize = receiveWindow
    var streamSettings = NIOHTTP2Handler.StreamConfiguration()
    streamSettings.targetWindowSize = receiveWindow
    let (connection, stream) = (connectionSettings, streamSettings)
    let (channel, multiplexer) = try await ClientBootstrap(group: group)
      .channelOption(.socketOption(.tcp_nodelay), value: 1)
      .connect(host: host, port: port) { channel in
        channel.eventLoop.makeCompletedFuture {
          let pipeline = channel.pipeline.syncOperations
          if let tls {
            try pipeline.addHandler(
              NIOSSLClientHandler(
                context: tls.context, serverHostname: nil,
                customVerificationCallbackWithMetadata: tls.verifier.nioVerificationCallback))
          }
          let multiplexer = try pipeline.configureHTTP2Pipeline(
            mode: .client, connectionConfiguration: connection, streamConfiguration: stream
          ) { pushed in pushed.close() }
          return (channel, multiplexer)
        }
      }
    return LeanGRPCConnection(channel: channel, multiplexer: multiplexer, authority: "\(host):\(port)")
  }

  init(channel: any Channel, multiplexer: NIOHTTP2Handler.StreamMultiplexer, authority: String) {
    self.channel = channel
    self.multiplexer = multiplexer
    self.authority = authority
  }

  /// Starts the call `path` (`/package.Service/Method`) with `request` as its first message (`endOfRequests`:
  /// the client sends nothing more, as for a server-streaming call). `onMessage` receives each response message's
  /// bytes on the event loop, with the stream to answer on; `onEnd` the call's `grpc-status` (nil when the stream
  /// ended without one).
  public func openStream(
    path: String, request: [UInt8], endOfRequests: Bool,
    onMessage: @escaping @Sendable (ByteBuffer, LeanGRPCStream) -> Void,
    onEnd: @escaping @Sendable (Int?) -> Void = { _ in }
  ) async throws -> LeanGRPCStream {
    let authority = self.authority
    let streamChannel = try await multiplexer.createStreamChannel { stream in
      stream.eventLoop.makeCompletedFuture {
        try stream.pipeline.syncOperations.addHandler(
          LeanGRPCStreamHandler(
            path: path, authority: authority, firstMessage: request, endOfRequests: endOfRequests,
            onMessage: onMessage, onEnd: onEnd))
      }
    }.get()
    return LeanGRPCStream(channel: streamChannel)
  }

  public func close() async {
    try? await channel.close()
  }
}

/// TLS for a ``LeanGRPCConnection``: the context (with the client's identity) and how the server is verified.
public struct LeanGRPCTLS: Sendable {
  let context: NIOSSLContext
  let verifier: SPIFFEPeerVerifier

  /// Mutual TLS as daprd does it: presents `identity`, verifies the server with `verifier`.
  public init(identity: TLSIdentity, verifier: SPIFFEPeerVerifier) throws {
    context = try NIOSSLContext(
      configuration: NIOTLSConfigurations.client(identity: identity, applicationProtocols: ["h2"]))
    self.verifier = verifier
  }
}

/// One call on a ``LeanGRPCConnection``.
public struct LeanGRPCStream: Sendable {
  let channel: any Channel

  /// Sends one request message (from any thread; on the event loop it is written at once).
  public func send(_ message: [UInt8]) {
    let framed = LeanGRPCStreamHandler.frame(message, allocator: channel.allocator)
    let payload = HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(framed)))
    channel.writeAndFlush(payload, promise: nil)
  }

  /// Ends the call (RST_STREAM).
  public func cancel() {
    channel.close(promise: nil)
  }
}

/// Writes a call's request headers and first message, and splits the response's DATA into gRPC messages.
final class LeanGRPCStreamHandler: ChannelInboundHandler {
  typealias InboundIn = HTTP2Frame.FramePayload
  typealias OutboundOut = HTTP2Frame.FramePayload

  let path: String
  let authority: String
  let firstMessage: [UInt8]
  let endOfRequests: Bool
  let onMessage: @Sendable (ByteBuffer, LeanGRPCStream) -> Void
  let onEnd: @Sendable (Int?) -> Void
  var pending = ByteBuffer()
  var status: Int?
  var ended = false

  init(
    path: String, authority: String, firstMessage: [UInt8], endOfRequests: Bool,
    onMessage: @escaping @Sendable (ByteBuffer, LeanGRPCStream) -> Void, onEnd: @escaping @Sendable (Int?) -> Void
  ) {
    self.path = path
    self.authority = authority
    self.firstMessage = firstMessage
    self.endOfRequests = endOfRequests
    self.onMessage = onMessage
    self.onEnd = onEnd
  }

  /// `message` with gRPC's prefix: not compressed, four bytes of length.
  static func frame(_ message: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
    var buffer = allocator.buffer(capacity: 5 + message.count)
    buffer.writeInteger(UInt8(0))
    buffer.writeInteger(UInt32(message.count))
    buffer.writeBytes(message)
    return buffer
  }

  func channelActive(context: ChannelHandlerContext) {
    let headers: HPACKHeaders = [
      ":method": "POST", ":scheme": "https", ":path": path, ":authority": authority,
      "content-type": "application/grpc", "te": "trailers",
    ]
    context.write(wrapOutboundOut(.headers(.init(headers: headers))), promise: nil)
    let body = Self.frame(firstMessage, allocator: context.channel.allocator)
    context.writeAndFlush(
      wrapOutboundOut(.data(.init(data: .byteBuffer(body), endStream: endOfRequests))), promise: nil)
    context.fireChannelActive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .data(let frame):
      if case .byteBuffer(var bytes) = frame.data {
        pending.writeBuffer(&bytes)
        deliverMessages(context: context)
      }
      if frame.endStream { end() }
    case .headers(let frame):
      if let code = frame.headers.first(name: "grpc-status").flatMap({ Int($0) }) { status = code }
      if frame.endStream { end() }
    default:
      break
    }
  }

  func channelInactive(context: ChannelHandlerContext) {
    end()
    context.fireChannelInactive()
  }

  private func deliverMessages(context: ChannelHandlerContext) {
    let stream = LeanGRPCStream(channel: context.channel)
    while pending.readableBytes >= 5, let length = pending.getInteger(at: pending.readerIndex + 1, as: UInt32.self),
      pending.readableBytes >= 5 + Int(length)
    {
      pending.moveReaderIndex(forwardBy: 5)
      onMessage(pending.readSlice(length: Int(length))!, stream)
    }
    pending.discardReadBytes()
  }

  private func end() {
    guard !ended else { return }
    ended = true
    onEnd(status)
  }
}

/// Which client a benchmark's simulated sidecars use: ``LeanGRPCConnection`` (the default; it costs the fleet's core
/// less per message than the server under test spends, so the server sets the pace) or, with
/// `SIDECAR_CLIENT=grpc-swift`, grpc-swift's client (as the tests use; for side-by-side runs).
public enum SidecarClient: String, Sendable {
  case lean
  case grpcSwift = "grpc-swift"

  /// From `SIDECAR_CLIENT`; unset means ``lean``. Any other value ends the benchmark with a message naming it.
  public static func fromEnvironment() -> SidecarClient {
    guard let value = ProcessInfo.processInfo.environment["SIDECAR_CLIENT"] else { return .lean }
    guard let client = SidecarClient(rawValue: value) else {
      FileHandle.standardError.write(Data("SIDECAR_CLIENT is `lean` or `grpc-swift`, not `\(value)`\n".utf8))
      exit(2)
    }
    return client
  }
}
