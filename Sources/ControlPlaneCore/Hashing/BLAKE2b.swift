/// BLAKE2b (RFC 7693), the hash daprd's actor placement ring is built on.
///
/// Written here because none of the packages this project may use offers it (swift-crypto has no BLAKE2); it is the
/// one cryptographic primitive the project implements itself. It is checked against the RFC's vectors and its
/// self-test in `BLAKE2bTests`. Only one-shot hashing is offered: the ring hashes short strings.
public enum BLAKE2b {
  /// The largest digest and key, in bytes.
  public static let maximumLength = 64
  /// The block size, in bytes.
  static let blockSize = 128

  /// The digest of `message`, `digestLength` bytes long (1...64), keyed by `key` (0...64 bytes).
  public static func hash(
    _ message: some Sequence<UInt8>, digestLength: Int = 64, key: some Collection<UInt8> = [UInt8]()
  ) -> [UInt8] {
    precondition((1...maximumLength).contains(digestLength), "BLAKE2b digest length must be 1...64 bytes")
    precondition(key.count <= maximumLength, "BLAKE2b key must be at most 64 bytes")
    let bytes = Array(message)
    var state = State(digestLength: digestLength, keyLength: key.count)
    if key.isEmpty {
      bytes.withUnsafeBytes { state.absorbAll($0) }
    } else {
      // A key is hashed as a first block of its own, zero-padded.
      var keyed = Array(key)
      keyed.append(contentsOf: repeatElement(0, count: blockSize - keyed.count))
      keyed += bytes
      keyed.withUnsafeBytes { state.absorbAll($0) }
    }
    return state.digest(length: digestLength)
  }

  /// The hash daprd's placement ring uses: the first 8 bytes of the unkeyed BLAKE2b-512 digest of the UTF-8
  /// bytes of `string`, read as a little-endian integer.
  public static func ringHash(_ string: String) -> UInt64 {
    var string = string
    return string.withUTF8 { utf8 in
      var state = State(digestLength: 64, keyLength: 0)
      state.absorbAll(UnsafeRawBufferPointer(utf8))
      return state.h.0
    }
  }

  // === The compression function ===

  /// Initialisation vector (the first 64 bits of the fractional parts of the square roots of the first 8 primes).
  @usableFromInline static let iv: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (
    0x6a09_e667_f3bc_c908, 0xbb67_ae85_84ca_a73b, 0x3c6e_f372_fe94_f82b, 0xa54f_f53a_5f1d_36f1,
    0x510e_527f_ade6_82d1, 0x9b05_688c_2b3e_6c1f, 0x1f83_d9ab_fb41_bd6b, 0x5be0_cd19_137e_2179
  )

  /// The message schedule: sigma[r % 10] for rounds 0...11, flattened.
  static let sigma: [UInt8] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3,
    11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4,
    7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8,
    9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13,
    2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9,
    12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11,
    13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10,
    6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5,
    10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3,
  ]

  struct State {
    var h: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    /// Bytes hashed so far (128-bit counter; messages here never exceed the low word, but the high word is kept).
    var t0: UInt64 = 0
    var t1: UInt64 = 0

    init(digestLength: Int, keyLength: Int) {
      h = BLAKE2b.iv
      // Parameter block word 0: digest length, key length, fanout 1, depth 1.
      h.0 ^= 0x0101_0000 ^ (UInt64(keyLength) << 8) ^ UInt64(digestLength)
    }

    /// Absorbs a whole message and finalises: every block but the last is compressed as it comes, the last one
    /// (possibly empty, zero-padded) with the final flag.
    mutating func absorbAll(_ bytes: UnsafeRawBufferPointer) {
      var offset = 0
      let count = bytes.count
      while count - offset > BLAKE2b.blockSize {
        increment(by: BLAKE2b.blockSize)
        compress(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + BLAKE2b.blockSize]), last: false)
        offset += BLAKE2b.blockSize
      }
      let remaining = count - offset
      increment(by: remaining)
      withUnsafeTemporaryAllocation(byteCount: BLAKE2b.blockSize, alignment: 8) { block in
        block.initializeMemory(as: UInt8.self, repeating: 0)
        if remaining > 0 {
          block.baseAddress!.copyMemory(from: bytes.baseAddress! + offset, byteCount: remaining)
        }
        compress(UnsafeRawBufferPointer(block), last: true)
      }
    }

    mutating func increment(by count: Int) {
      let (sum, overflow) = t0.addingReportingOverflow(UInt64(count))
      t0 = sum
      if overflow { t1 &+= 1 }
    }

    func digest(length: Int) -> [UInt8] {
      var words = [h.0, h.1, h.2, h.3, h.4, h.5, h.6, h.7]
      for index in words.indices { words[index] = words[index].littleEndian }
      return words.withUnsafeBytes { Array($0.prefix(length)) }
    }

    @inline(__always)
    mutating func compress(_ block: UnsafeRawBufferPointer, last: Bool) {
      // Message words, little-endian.
      var m = (
        UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
        UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0)
      )
      withUnsafeMutableBytes(of: &m) { words in
        words.copyMemory(from: UnsafeRawBufferPointer(rebasing: block.prefix(BLAKE2b.blockSize)))
      }
      #if _endian(big)
        withUnsafeMutableBytes(of: &m) { raw in
          let words = raw.bindMemory(to: UInt64.self)
          for index in words.indices { words[index] = UInt64(littleEndian: words[index]) }
        }
      #endif

      var v0 = h.0, v1 = h.1, v2 = h.2, v3 = h.3, v4 = h.4, v5 = h.5, v6 = h.6, v7 = h.7
      var v8 = BLAKE2b.iv.0, v9 = BLAKE2b.iv.1, v10 = BLAKE2b.iv.2, v11 = BLAKE2b.iv.3
      var v12 = BLAKE2b.iv.4 ^ t0, v13 = BLAKE2b.iv.5 ^ t1
      var v14 = last ? ~BLAKE2b.iv.6 : BLAKE2b.iv.6, v15 = BLAKE2b.iv.7

      withUnsafeBytes(of: &m) { raw in
        let words = raw.bindMemory(to: UInt64.self).baseAddress!
        BLAKE2b.sigma.withUnsafeBufferPointer { schedule in
          var s = schedule.baseAddress!
          for _ in 0..<12 {
            mix(&v0, &v4, &v8, &v12, words[Int(s[0])], words[Int(s[1])])
            mix(&v1, &v5, &v9, &v13, words[Int(s[2])], words[Int(s[3])])
            mix(&v2, &v6, &v10, &v14, words[Int(s[4])], words[Int(s[5])])
            mix(&v3, &v7, &v11, &v15, words[Int(s[6])], words[Int(s[7])])
            mix(&v0, &v5, &v10, &v15, words[Int(s[8])], words[Int(s[9])])
            mix(&v1, &v6, &v11, &v12, words[Int(s[10])], words[Int(s[11])])
            mix(&v2, &v7, &v8, &v13, words[Int(s[12])], words[Int(s[13])])
            mix(&v3, &v4, &v9, &v14, words[Int(s[14])], words[Int(s[15])])
            s += 16
          }
        }
      }

      h.0 ^= v0 ^ v8
      h.1 ^= v1 ^ v9
      h.2 ^= v2 ^ v10
      h.3 ^= v3 ^ v11
      h.4 ^= v4 ^ v12
      h.5 ^= v5 ^ v13
      h.6 ^= v6 ^ v14
      h.7 ^= v7 ^ v15
    }
  }
}

/// The G mixing function.
@inline(__always)
private func mix(
  _ a: inout UInt64, _ b: inout UInt64, _ c: inout UInt64, _ d: inout UInt64, _ x: UInt64, _ y: UInt64
) {
  a = a &+ b &+ x
  d = rotateRight(d ^ a, 32)
  c = c &+ d
  b = rotateRight(b ^ c, 24)
  a = a &+ b &+ y
  d = rotateRight(d ^ a, 16)
  c = c &+ d
  b = rotateRight(b ^ c, 63)
}

@inline(__always)
private func rotateRight(_ value: UInt64, _ count: UInt64) -> UInt64 {
  (value &>> count) | (value &<< (64 &- count))
}
