import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCertificateReloading
import NIOCore
import NIOHTTP2
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization
import X509

/// Passes on the bytes of a read in a buffer of their own size when the buffer they arrived in is mostly empty
/// space.
///
/// NIOSSL decrypts into a 32 KiB buffer and NIO reads a socket into buffers of up to 64 KiB. nio-http2's frame
/// decoder keeps the last buffer it was given (or a copy grown from it) while a connection is idle, and NIOSSL then
/// has to copy its own buffer before the next read: for a fleet of idle sidecar connections, about 100 KB per
/// connection held for nothing. Copying a small read costs an allocation and a `memcpy`; large reads, which fill
/// their buffer, go on as they are.
final class CompactingReadHandler: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = ByteBuffer
  typealias InboundOut = ByteBuffer

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let buffer = unwrapInboundIn(data)
    guard Self.shouldCompact(readable: buffer.readableBytes, storageCapacity: buffer.storageCapacity) else {
      context.fireChannelRead(data)
      return
    }
    var compact = context.channel.allocator.buffer(capacity: buffer.readableBytes)
    compact.writeImmutableBuffer(buffer)
    context.fireChannelRead(wrapInboundOut(compact))
  }

  /// Whether a read of `readable` bytes in a buffer whose storage holds `storageCapacity` is worth copying: at
  /// least 4 KiB and at least half of the storage would otherwise be held empty.
  static func shouldCompact(readable: Int, storageCapacity: Int) -> Bool {
    let wasted = storageCapacity - readable
    return wasted >= 4096 && wasted >= storageCapacity / 2
  }
}
