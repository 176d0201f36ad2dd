import NIOCore
import NIOPosix
import Synchronization

/// A loopback TCP proxy a test can cut: every connection it accepts is piped to `target`; ``dropAllConnections()``
/// closes them all at once (a broken network, as a client sees it), and ``refuseConnections`` makes new ones fail.
public final class TCPProxy: Sendable {
  /// The port the proxy listens on.
  public let port: Int
  private let listener: any Channel
  private let connections = Mutex<[ObjectIdentifier: any Channel]>([:])
  private let refusing = Atomic<Bool>(false)
  private let accepted = Atomic<Int>(0)
  private let blackhole = BlackholeSwitch()

  /// Starts a proxy to `targetHost:targetPort`.
  public init(
    targetHost: String, targetPort: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
  )
    async throws
  {
    let box = ProxyState()
    let blackhole = self.blackhole
    let bootstrap = ServerBootstrap(group: group)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { inbound in
        box.accept(inbound, targetHost: targetHost, targetPort: targetPort, group: group, blackhole: blackhole)
      }
    let listener = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
    self.listener = listener
    self.port = listener.localAddress?.port ?? 0
    box.owner.withLock { $0 = self }
  }

  /// Closes every open connection.
  public func dropAllConnections() {
    let open = connections.withLock { state -> [any Channel] in
      defer { state.removeAll() }
      return Array(state.values)
    }
    for channel in open { channel.close(promise: nil) }
  }

  /// While true, new connections are closed as soon as they arrive.
  public var refuseConnections: Bool {
    get { refusing.load(ordering: .relaxed) }
    set { refusing.store(newValue, ordering: .relaxed) }
  }

  /// While true, bytes in both directions are silently dropped: the connections stay open but carry nothing, as
  /// when a peer vanishes without a FIN or RST (a half-open connection).
  public var blackholeTraffic: Bool {
    get { blackhole.on.load(ordering: .relaxed) }
    set { blackhole.on.store(newValue, ordering: .relaxed) }
  }

  /// How many connections the proxy accepted so far.
  public var acceptedConnections: Int { accepted.load(ordering: .relaxed) }

  /// Stops listening and closes every connection.
  public func close() async {
    dropAllConnections()
    try? await listener.close()
  }

  fileprivate func register(_ channel: any Channel) -> Bool {
    if refusing.load(ordering: .relaxed) { return false }
    accepted.add(1, ordering: .relaxed)
    connections.withLock { $0[ObjectIdentifier(channel)] = channel }
    channel.closeFuture.whenComplete { [weak self] _ in
      _ = self?.connections.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }
    return true
  }
}

/// Wires accepted connections to outbound ones.
private final class ProxyState: Sendable {
  let owner = Mutex<TCPProxy?>(nil)

  func accept(
    _ inbound: any Channel, targetHost: String, targetPort: Int, group: any EventLoopGroup,
    blackhole: BlackholeSwitch
  ) -> EventLoopFuture<Void> {
    guard let proxy = owner.withLock({ $0 }), proxy.register(inbound) else {
      return inbound.close()
    }
    return ClientBootstrap(group: inbound.eventLoop)
      .connect(host: targetHost, port: targetPort)
      .flatMap { outbound in
        _ = proxy.register(outbound)
        // The accepted channel starts reading once this initializer completes, when both pipes are in place.
        return inbound.pipeline.addHandler(Pipe(peer: outbound, blackhole: blackhole)).flatMap {
          outbound.pipeline.addHandler(Pipe(peer: inbound, blackhole: blackhole))
        }
      }
      .flatMapError { _ in inbound.close() }
  }
}

/// Copies bytes to the peer channel and closes it when this side closes.
private final class Pipe: ChannelDuplexHandler, Sendable {
  typealias InboundIn = ByteBuffer
  typealias OutboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  let peer: any Channel
  let blackhole: BlackholeSwitch

  init(peer: any Channel, blackhole: BlackholeSwitch) {
    self.peer = peer
    self.blackhole = blackhole
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    if blackhole.on.load(ordering: .relaxed) { return }
    let contextChannel = context.channel
    peer.writeAndFlush(unwrapInboundIn(data)).whenFailure { _ in contextChannel.close(promise: nil) }
  }

  func channelInactive(context: ChannelHandlerContext) {
    peer.close(promise: nil)
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    context.close(promise: nil)
  }
}

/// Shared by a proxy and its pipes.
final class BlackholeSwitch: Sendable {
  let on = Atomic<Bool>(false)
}
