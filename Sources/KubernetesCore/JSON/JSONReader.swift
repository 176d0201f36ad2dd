/// Reads JSON text (RFC 8259, UTF-8) straight into a ``JSONValue``.
///
/// Part of this package's thin Kubernetes client, next to ``JSONValue``'s writer. Everything the control plane reads
/// from the API server (lists, watch events, admission reviews) is untyped JSON first; Foundation's
/// `JSONSerialization` on Linux builds Foundation objects and then spends most of its time creating each string
/// through unspecialised generic code, and converting its objects to ``JSONValue`` costs as much again; this reader
/// does both in one pass over the bytes (`BENCHMARKS.md` has the measurements, under the injector and the
/// Kubernetes substrate).
///
/// What it accepts is what `JSONSerialization` with `.fragmentsAllowed` accepts for UTF-8 input: any value at the top
/// level, surrounded by whitespace, a leading byte order mark skipped; integers that fit `Int64` become
/// ``JSONValue/int(_:)``, every other number ``JSONValue/double(_:)``; objects keep their members in document order
/// (``JSONObject``), a repeated key in the place of its first occurrence with its last value. Everything else is an
/// error that names the byte offset and what was wrong: invalid UTF-8, unescaped control characters, lone surrogates,
/// numbers out of `Double`'s range, trailing text, nesting deeper than ``maximumDepth``.
public struct JSONReader {
  /// Deeper documents are refused rather than risk the stack (Foundation's limit too).
  public static let maximumDepth = 512

  public struct SyntaxError: Error, Equatable, CustomStringConvertible {
    /// The offset of the offending byte, or of the start of the literal, string or escape sequence it belongs to.
    public let offset: Int
    public let reason: String
    public var description: String { "invalid JSON at byte \(offset): \(reason)" }

    public init(offset: Int, reason: String) {
      self.offset = offset
      self.reason = reason
    }
  }

  /// Parses one JSON document.
  public static func parse(_ bytes: UnsafeRawBufferPointer) throws(SyntaxError) -> JSONValue {
    var reader = JSONReader(bytes: bytes)
    if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { reader.offset = 3 }
    reader.skipWhitespace()
    let value = try reader.readValue(depth: 0)
    reader.skipWhitespace()
    guard reader.offset == bytes.count else { throw reader.error("unexpected text after the document") }
    return value
  }

  private let bytes: UnsafeRawBufferPointer
  private var offset = 0

  private init(bytes: UnsafeRawBufferPointer) {
    self.bytes = bytes
  }

  private func error(_ reason: String, at offset: Int? = nil) -> SyntaxError {
    SyntaxError(offset: offset ?? self.offset, reason: reason)
  }

  private var next: UInt8? { offset < bytes.count ? bytes[offset] : nil }

  private mutating func skipWhitespace() {
    while offset < bytes.count {
      switch bytes[offset] {
      case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): offset += 1
      default: return
      }
    }
  }

  private mutating func readValue(depth: Int) throws(SyntaxError) -> JSONValue {
    guard let byte = next else { throw error("the document ends where a value was expected") }
    switch byte {
    case UInt8(ascii: "\""): return .string(try readString())
    case UInt8(ascii: "{"): return try readObject(depth: depth + 1)
    case UInt8(ascii: "["): return try readArray(depth: depth + 1)
    case UInt8(ascii: "t"): return try readLiteral("true", .bool(true))
    case UInt8(ascii: "f"): return try readLiteral("false", .bool(false))
    case UInt8(ascii: "n"): return try readLiteral("null", .null)
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try readNumber()
    default: throw error("unexpected character '\(Self.printable(byte))' where a value was expected")
    }
  }

  private mutating func readLiteral(_ literal: StaticString, _ value: JSONValue) throws(SyntaxError) -> JSONValue {
    let expected = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
    guard bytes.count - offset >= expected.count, expected.indices.allSatisfy({ bytes[offset + $0] == expected[$0] })
    else { throw error("expected '\(literal)'") }
    offset += expected.count
    return value
  }

  private mutating func readObject(depth: Int) throws(SyntaxError) -> JSONValue {
    guard depth <= Self.maximumDepth else { throw error("nested deeper than \(Self.maximumDepth) levels") }
    offset += 1  // {
    skipWhitespace()
    if next == UInt8(ascii: "}") {
      offset += 1
      return .object([:])
    }
    var members: [JSONObject.Element] = []
    members.reserveCapacity(4)
    while true {
      guard next != nil else { throw error("the document ends inside an object") }
      guard next == UInt8(ascii: "\"") else { throw error("expected a member name in quotes") }
      let key = try readString()
      skipWhitespace()
      guard next == UInt8(ascii: ":") else { throw error("expected ':' after the member name \(Self.quoted(key))") }
      offset += 1
      skipWhitespace()
      members.append((key, try readValue(depth: depth)))
      skipWhitespace()
      switch next {
      case UInt8(ascii: ","):
        offset += 1
        skipWhitespace()
      case UInt8(ascii: "}"):
        offset += 1
        return .object(JSONObject(members: members))  // a repeated key: the last value wins
      case nil: throw error("the document ends inside an object")
      default: throw error("expected ',' or '}' after an object member")
      }
    }
  }

  private mutating func readArray(depth: Int) throws(SyntaxError) -> JSONValue {
    guard depth <= Self.maximumDepth else { throw error("nested deeper than \(Self.maximumDepth) levels") }
    offset += 1  // [
    var array: [JSONValue] = []
    skipWhitespace()
    if next == UInt8(ascii: "]") {
      offset += 1
      return .array(array)
    }
    while true {
      array.append(try readValue(depth: depth))
      skipWhitespace()
      switch next {
      case UInt8(ascii: ","):
        offset += 1
        skipWhitespace()
      case UInt8(ascii: "]"):
        offset += 1
        return .array(array)
      case nil: throw error("the document ends inside an array")
      default: throw error("expected ',' or ']' after an array element")
      }
    }
  }

  /// A string starting at the opening quote. Runs without escapes are copied as they are, after UTF-8 validation.
  private mutating func readString() throws(SyntaxError) -> String {
    let start = offset
    offset += 1  // "
    var runStart = offset
    // Most strings have no escapes and are ASCII: they become a String straight from the input.
    var allBits: UInt8 = 0
    while offset < bytes.count {
      let byte = bytes[offset]
      allBits |= byte
      if byte == UInt8(ascii: "\"") {
        let string = try makeString(runStart..<offset, isASCII: allBits < 0x80)
        offset += 1
        return string
      }
      if byte == UInt8(ascii: "\\") { break }
      if byte < 0x20 { throw error("unescaped control character 0x\(String(byte, radix: 16)) in a string") }
      offset += 1
    }
    guard offset < bytes.count else { throw error("the string starting here never ends", at: start) }
    var decoded: [UInt8] = []
    decoded.reserveCapacity(offset - runStart + 16)
    while offset < bytes.count {
      let byte = bytes[offset]
      switch byte {
      case UInt8(ascii: "\""):
        decoded.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<offset]))
        offset += 1
        guard let string = String(validating: decoded, as: UTF8.self) else {
          throw error("the string is not valid UTF-8", at: start)
        }
        return string
      case UInt8(ascii: "\\"):
        decoded.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<offset]))
        try readEscape(into: &decoded)
        runStart = offset
      case 0..<0x20:
        throw error("unescaped control character 0x\(String(byte, radix: 16)) in a string")
      default:
        offset += 1
      }
    }
    throw error("the string starting here never ends", at: start)
  }

  private func makeString(_ range: Range<Int>, isASCII: Bool) throws(SyntaxError) -> String {
    let run = UnsafeRawBufferPointer(rebasing: bytes[range]).assumingMemoryBound(to: UInt8.self)
    if isASCII { return String(decoding: run, as: UTF8.self) }
    guard let string = String(validating: run, as: UTF8.self) else {
      throw error("the string is not valid UTF-8", at: range.lowerBound - 1)
    }
    return string
  }

  /// One escape sequence, starting at its backslash.
  private mutating func readEscape(into decoded: inout [UInt8]) throws(SyntaxError) {
    let start = offset
    offset += 1
    guard let byte = next else { throw error("the document ends inside an escape sequence", at: start) }
    offset += 1
    switch byte {
    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(byte)
    case UInt8(ascii: "b"): decoded.append(0x08)
    case UInt8(ascii: "f"): decoded.append(0x0C)
    case UInt8(ascii: "n"): decoded.append(0x0A)
    case UInt8(ascii: "r"): decoded.append(0x0D)
    case UInt8(ascii: "t"): decoded.append(0x09)
    case UInt8(ascii: "u"):
      var scalar = UInt32(try readHex4(escapeAt: start))
      if (0xD800..<0xDC00).contains(scalar) {
        // A high surrogate must be followed by an escaped low one.
        guard bytes.count - offset >= 6, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u")
        else { throw error("a high surrogate \\u escape without its low surrogate", at: start) }
        let lowStart = offset
        offset += 2
        let low = UInt32(try readHex4(escapeAt: lowStart))
        guard (0xDC00..<0xE000).contains(low) else {
          throw error("a high surrogate \\u escape without its low surrogate", at: start)
        }
        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
      } else if (0xDC00..<0xE000).contains(scalar) {
        throw error("a low surrogate \\u escape without its high surrogate", at: start)
      }
      // Surrogates are excluded above, so the value is a scalar.
      UTF8.encode(Unicode.Scalar(scalar)!) { decoded.append($0) }
    default:
      throw error("invalid escape sequence '\\\(Self.printable(byte))'", at: start)
    }
  }

  private mutating func readHex4(escapeAt start: Int) throws(SyntaxError) -> UInt16 {
    guard bytes.count - offset >= 4 else { throw error("a \\u escape needs four hexadecimal digits", at: start) }
    var value: UInt16 = 0
    for _ in 0..<4 {
      let byte = bytes[offset]
      let digit: UInt8
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
      default: throw error("a \\u escape needs four hexadecimal digits", at: start)
      }
      value = value << 4 | UInt16(digit)
      offset += 1
    }
    return value
  }

  /// A number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
  private mutating func readNumber() throws(SyntaxError) -> JSONValue {
    let start = offset
    var negative = false
    if next == UInt8(ascii: "-") {
      negative = true
      offset += 1
    }
    guard let first = next, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
      throw error("expected a digit in a number")
    }
    // The integer part, accumulated negatively so that Int64.min fits.
    var accumulated: Int64 = 0
    var overflowed = false
    if first == UInt8(ascii: "0") {
      offset += 1
      if let byte = next, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
        throw error("a number cannot have a leading zero", at: start)
      }
    } else {
      while let byte = next, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
        if !overflowed {
          let (times10, o1) = accumulated.multipliedReportingOverflow(by: 10)
          let (sum, o2) = times10.subtractingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
          if o1 || o2 { overflowed = true } else { accumulated = sum }
        }
        offset += 1
      }
    }
    var isInteger = true
    if next == UInt8(ascii: ".") {
      isInteger = false
      offset += 1
      guard skipDigits() else { throw error("expected a digit after the decimal point") }
    }
    if next == UInt8(ascii: "e") || next == UInt8(ascii: "E") {
      isInteger = false
      offset += 1
      if next == UInt8(ascii: "+") || next == UInt8(ascii: "-") { offset += 1 }
      guard skipDigits() else { throw error("expected a digit in the exponent") }
    }
    if isInteger && !overflowed {
      if negative { return .int(accumulated) }
      if accumulated != .min { return .int(-accumulated) }
    }
    let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
    guard let double = Double(text), double.isFinite else {
      throw error("the number \(text) is out of range", at: start)
    }
    return .double(double)
  }

  /// Skips digits; whether there was at least one.
  private mutating func skipDigits() -> Bool {
    let start = offset
    while let byte = next, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { offset += 1 }
    return offset > start
  }

  /// A member name for a message: quoted and escaped as JSON, cut after 64 characters (it comes from the input).
  private static func quoted(_ key: String) -> String {
    var bytes: [UInt8] = []
    JSONValue.writeString(key.count > 64 ? String(key.prefix(64)) + "…" : key, into: &bytes)
    return String(decoding: bytes, as: UTF8.self)
  }

  private static func printable(_ byte: UInt8) -> String {
    (0x21..<0x7F).contains(byte) ? String(UnicodeScalar(byte)) : "0x" + String(byte, radix: 16)
  }
}
