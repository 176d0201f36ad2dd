import NIOCore
import NIOEmbedded
import Testing

@testable import ControlPlaneKit

@Suite struct CompactingReadHandlerTests {
  @Test(
    "Reads are copied only when the buffer they arrived in would be held mostly empty",
    arguments: [
      (readable: 9, storage: 32_768, copied: true),  // a PING frame in NIOSSL's plaintext buffer
      (readable: 16_000, storage: 32_768, copied: true),
      (readable: 17_000, storage: 32_768, copied: false),  // more than half used
      (readable: 32_768, storage: 32_768, copied: false),  // a full read
      (readable: 100, storage: 2_048, copied: false),  // NIO's small read buffers: little to save
      (readable: 0, storage: 4_096, copied: true),
    ])
  func decisions(readable: Int, storage: Int, copied: Bool) {
    #expect(CompactingReadHandler.shouldCompact(readable: readable, storageCapacity: storage) == copied)
  }

  @Test func aSmallReadGoesOnInABufferOfItsOwnSizeAndTheLargeOneIsFreeForTheNextRead() throws {
    let channel = EmbeddedChannel(handler: CompactingReadHandler())
    var large = channel.allocator.buffer(capacity: 32_768)
    large.writeString("PRI * HTTP/2.0")
    try channel.writeInbound(large)
    let passed = try #require(try channel.readInbound(as: ByteBuffer.self))
    #expect(passed.getString(at: passed.readerIndex, length: passed.readableBytes) == "PRI * HTTP/2.0")
    #expect(passed.storageCapacity < 1024)

    var full = channel.allocator.buffer(capacity: 8_192)
    full.writeRepeatingByte(7, count: 8_192)
    try channel.writeInbound(full)
    let untouched = try #require(try channel.readInbound(as: ByteBuffer.self))
    #expect(untouched == full)
    #expect(untouched.storageCapacity == full.storageCapacity)
    #expect(try channel.finish().isClean)
  }
}
