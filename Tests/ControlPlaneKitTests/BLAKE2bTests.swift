import ControlPlaneKit
import Testing

@Suite struct BLAKE2bTests {
  static func hex(_ bytes: [UInt8]) -> String { bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined() }

  @Test(
    "Digests match RFC 7693 and independent implementations",
    arguments: [
      // RFC 7693 Appendix A.
      (
        Array("abc".utf8),
        "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
      ),
      (
        [],
        "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce"
      ),
    ])
  func digests(message: [UInt8], expected: String) {
    #expect(Self.hex(BLAKE2b.hash(message)) == expected)
  }

  /// Lengths around the block boundary, against Python's hashlib (first 16 bytes of the 64-byte digest).
  @Test(
    "Messages around block boundaries hash as hashlib does",
    arguments: [
      (1, "2fa3f686df876995167e7c2e5d74c4c7"), (127, "b6292669ccd38d5f01caae96ba272c76"),
      (128, "2319e3789c47e2daa5fe807f61bec2a1"), (129, "f59711d44a031d5f97a9413c065d1e61"),
      (256, "93463ac058b6163eb43be3f5bb32b285"), (1000, "c11e1c0340bd7e5a1b275f1230c962fa"),
    ])
  func blockBoundaries(length: Int, expectedPrefix: String) {
    let message = (0..<length).map { UInt8($0 % 251) }
    #expect(Self.hex(Array(BLAKE2b.hash(message).prefix(16))) == expectedPrefix)
  }

  /// RFC 7693 Appendix E: keyed and unkeyed digests of every length pair, hashed together.
  @Test func theRFCSelfTestGrandHashMatches() {
    func sequence(_ length: Int, seed: UInt32) -> [UInt8] {
      var a: UInt32 = 0xDEAD_4BAD &* seed
      var b: UInt32 = 1
      return (0..<length).map { _ in
        let t = a &+ b
        a = b
        b = t
        return UInt8(truncatingIfNeeded: t >> 24)
      }
    }
    var all: [UInt8] = []
    for digestLength in [20, 32, 48, 64] {
      for inputLength in [0, 3, 128, 129, 255, 1024] {
        let input = sequence(inputLength, seed: UInt32(inputLength))
        all += BLAKE2b.hash(input, digestLength: digestLength)
        all += BLAKE2b.hash(
          input, digestLength: digestLength, key: sequence(digestLength, seed: UInt32(digestLength)))
      }
    }
    #expect(
      Self.hex(BLAKE2b.hash(all, digestLength: 32))
        == "c23a7800d98123bd10f506c61e29da5603d763b8bbad2e737f5e765a7bccd475")
  }

  @Test func theRingHashIsTheDigestsFirstEightBytesLittleEndian() {
    for text in ["", "actor-1", "192.168.1.83:609920", String(repeating: "é", count: 100)] {
      let digest = BLAKE2b.hash(Array(text.utf8))
      let expected = digest.prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
      #expect(BLAKE2b.ringHash(text) == expected, "\(text)")
    }
  }
}

extension String {
  fileprivate func leftPadded(to width: Int) -> String {
    String(repeating: "0", count: Swift.max(0, width - count)) + self
  }
}
