import Foundation

/// Any JSON value. Kubernetes objects are kept as JSON so that fields this project does not model survive a
/// read-modify-write round trip untouched.
public enum JSONValue: Hashable, Sendable {
  case null
  case bool(Bool)
  case int(Int64)
  case double(Double)
  case string(String)
  case array([JSONValue])
  case object(JSONObject)

  /// The string, if this is one.
  public var stringValue: String? {
    if case .string(let value) = self { return value }
    return nil
  }

  /// The object, if this is one.
  public var objectValue: JSONObject? {
    if case .object(let value) = self { return value }
    return nil
  }

  /// The array, if this is one.
  public var arrayValue: [JSONValue]? {
    if case .array(let value) = self { return value }
    return nil
  }

  /// The integer, if this is a whole number.
  public var intValue: Int64? {
    switch self {
    case .int(let value): return value
    case .double(let value) where value.rounded() == value && abs(value) < 9e18: return Int64(value)
    default: return nil
    }
  }

  /// The boolean, if this is one.
  public var boolValue: Bool? {
    if case .bool(let value) = self { return value }
    return nil
  }

  /// Member access for objects: `value["metadata"]?["name"]`.
  public subscript(key: String) -> JSONValue? {
    objectValue?[key]
  }
}

extension JSONValue: Codable {
  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if container.decodeNil() {
      self = .null
      return
    }
    // Strings are by far the most common leaves in Kubernetes objects, then objects and arrays; trying them first
    // keeps the failed attempts (which throw) rare.
    if let string = try? container.decode(String.self) {
      self = .string(string)
    } else if let object = try? container.decode(JSONObject.self) {
      self = .object(object)
    } else if let array = try? container.decode([JSONValue].self) {
      self = .array(array)
    } else if let bool = try? container.decode(Bool.self) {
      self = .bool(bool)
    } else if let int = try? container.decode(Int64.self) {
      self = .int(int)
    } else {
      self = .double(try container.decode(Double.self))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    switch self {
    case .null: try container.encodeNil()
    case .bool(let value): try container.encode(value)
    case .int(let value): try container.encode(value)
    case .double(let value): try container.encode(value)
    case .string(let value): try container.encode(value)
    case .array(let value): try container.encode(value)
    case .object(let value): try container.encode(value)
    }
  }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
  ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
  public init(stringLiteral value: String) { self = .string(value) }
  public init(integerLiteral value: Int64) { self = .int(value) }
  public init(booleanLiteral value: Bool) { self = .bool(value) }
  public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
  public init(dictionaryLiteral elements: (String, JSONValue)...) {
    self = .object(JSONObject(members: elements.map { (key: $0.0, value: $0.1) }))
  }
  public init(nilLiteral: ()) { self = .null }
  public init(floatLiteral value: Double) { self = .double(value) }
}

extension JSONValue {
  /// Appends the value as JSON text (no insignificant whitespace; `/` unescaped). Numbers that JSON cannot hold
  /// (NaN, infinities) are written as `null`.
  public func write(into bytes: inout [UInt8], sortedKeys: Bool = false) {
    switch self {
    case .null: bytes.append(contentsOf: "null".utf8)
    case .bool(let value): bytes.append(contentsOf: (value ? "true" : "false").utf8)
    case .int(let value): bytes.append(contentsOf: String(value).utf8)
    case .double(let value): bytes.append(contentsOf: (value.isFinite ? "\(value)" : "null").utf8)
    case .string(let value): Self.writeString(value, into: &bytes)
    case .array(let values):
      bytes.append(UInt8(ascii: "["))
      var first = true
      for value in values {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        value.write(into: &bytes, sortedKeys: sortedKeys)
      }
      bytes.append(UInt8(ascii: "]"))
    case .object(let object):
      bytes.append(UInt8(ascii: "{"))
      var first = true
      func member(_ key: String, _ value: JSONValue) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        Self.writeString(key, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        value.write(into: &bytes, sortedKeys: sortedKeys)
      }
      if sortedKeys {
        for (key, value) in object.sorted(by: { $0.key < $1.key }) { member(key, value) }
      } else {
        for (key, value) in object { member(key, value) }
      }
      bytes.append(UInt8(ascii: "}"))
    }
  }

  /// A JSON string: runs that need no escaping are copied whole.
  static func writeString(_ string: String, into bytes: inout [UInt8]) {
    bytes.append(UInt8(ascii: "\""))
    var string = string
    string.withUTF8 { utf8 in
      var runStart = 0
      for index in 0..<utf8.count {
        let byte = utf8[index]
        guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
        runStart = index + 1
        bytes.append(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
        case UInt8(ascii: "\n"): bytes.append(UInt8(ascii: "n"))
        case UInt8(ascii: "\r"): bytes.append(UInt8(ascii: "r"))
        case UInt8(ascii: "\t"): bytes.append(UInt8(ascii: "t"))
        default:
          let hex: StaticString = "0123456789abcdef"
          bytes.append(contentsOf: "u00".utf8)
          bytes.append(hex.utf8Start[Int(byte >> 4)])
          bytes.append(hex.utf8Start[Int(byte & 0xF)])
        }
      }
      bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
    }
    bytes.append(UInt8(ascii: "\""))
  }
}

/// Reads and writes JSON the way this client sends it to the API server.
public enum JSONCoding {
  /// Decodes `T` from JSON bytes. JSON values and object views (every Kubernetes model) are read by ``JSONReader``,
  /// many times faster than `Decodable` for untyped JSON.
  public static func decode<T: Decodable>(_ type: T.Type, from bytes: some DataProtocol) throws -> T {
    let data = Data(bytes)
    if let parsed = T.self as? any JSONParsable.Type {
      // The cast cannot fail: `parsed` is `T`.
      return try parsed.init(parsing: try parse(data)) as! T
    }
    return try JSONDecoder().decode(T.self, from: data)
  }

  /// Parses JSON bytes into a ``JSONValue``; errors are ``JSONReader/SyntaxError``s naming the byte and the problem.
  public static func parse(_ data: Data) throws -> JSONValue {
    try data.withUnsafeBytes { bytes throws(JSONReader.SyntaxError) in try JSONReader.parse(bytes) }
  }

  /// Parses JSON bytes with Foundation's `JSONSerialization`: the reference ``parse(_:)`` is tested against.
  public static func parseWithFoundation(_ data: Data) throws -> JSONValue {
    JSONValue(foundation: try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]))
  }

  /// Encodes `value`; with `sortedKeys` the output is deterministic (golden files, patches).
  public static func encode<T: Encodable>(_ value: T, sortedKeys: Bool = false) throws -> Data {
    // Untyped JSON is written directly: several times faster than the Codable path or JSONSerialization on Linux.
    if let json = value as? JSONValue {
      var bytes: [UInt8] = []
      bytes.reserveCapacity(1024)
      json.write(into: &bytes, sortedKeys: sortedKeys)
      return Data(bytes)
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = sortedKeys ? [.sortedKeys, .withoutEscapingSlashes] : [.withoutEscapingSlashes]
    return try encoder.encode(value)
  }
}

/// A type built from a parsed ``JSONValue`` (see ``JSONCoding/decode(_:from:)``).
public protocol JSONParsable {
  init(parsing value: JSONValue) throws
}

extension JSONValue: JSONParsable {
  public init(parsing value: JSONValue) { self = value }

  /// Converts what `JSONSerialization` produces. Booleans and numbers both arrive as `NSNumber`; its type code
  /// tells them apart.
  init(foundation value: Any) {
    switch value {
    case let string as String:
      self = .string(string.native)
    case let object as [String: Any]:
      var converted = JSONObject(minimumCapacity: object.count)
      for (key, member) in object { converted[key.native] = JSONValue(foundation: member) }
      self = .object(converted)
    case let array as [Any]:
      self = .array(array.map(JSONValue.init(foundation:)))
    case let number as NSNumber:
      switch UInt8(bitPattern: number.objCType.pointee) {
      case UInt8(ascii: "c"), UInt8(ascii: "B"): self = .bool(number.boolValue)
      case UInt8(ascii: "d"), UInt8(ascii: "f"): self = .double(number.doubleValue)
      case UInt8(ascii: "Q"):
        let unsigned = number.uint64Value
        self = unsigned <= UInt64(Int64.max) ? .int(Int64(unsigned)) : .double(number.doubleValue)
      default: self = .int(number.int64Value)
      }
    default:
      self = .null
    }
  }
}

/// Thrown when parsed JSON has the wrong shape for the type asked for.
public struct JSONShapeError: Error, CustomStringConvertible {
  public let description: String
}

extension String {
  /// A native Swift copy: strings bridged from Foundation are objects of their own, while short native strings
  /// live inline, which matters for stores of many objects.
  fileprivate var native: String {
    var copy = self
    copy.makeContiguousUTF8()
    return copy
  }
}
