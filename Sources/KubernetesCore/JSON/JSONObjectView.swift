/// A typed view over a JSON object: the JSON is the storage, the properties read and write it.
///
/// Every Kubernetes model here is such a view, so fields this project does not model, and the exact shape of the
/// ones it does, survive a read-modify-write round trip. Setting a property to `nil` removes the key.
public protocol JSONObjectView: Codable, Hashable, Sendable, JSONConvertible, JSONParsable {
  /// The object itself.
  var json: JSONObject { get set }
  init(json: JSONObject)
}

extension JSONObjectView {
  /// An empty object.
  public init() { self.init(json: [:]) }

  public init(from decoder: any Decoder) throws {
    self.init(json: try JSONObject(from: decoder))
  }

  public func encode(to encoder: any Encoder) throws {
    try json.encode(to: encoder)
  }

  public init?(jsonValue: JSONValue) {
    guard let object = jsonValue.objectValue else { return nil }
    self.init(json: object)
  }

  public init(parsing value: JSONValue) throws {
    guard let object = value.objectValue else {
      throw JSONShapeError(description: "expected a JSON object for \(Self.self)")
    }
    self.init(json: object)
  }

  public var jsonValue: JSONValue { .object(json) }

  /// Typed access to a member: `self["name"]` reads a `String?`, writing `nil` removes the key.
  public subscript<T: JSONConvertible>(key: String) -> T? {
    get { json[key].flatMap(T.init(jsonValue:)) }
    set { json[key] = newValue?.jsonValue }
  }
}

/// A Swift value that maps to and from a JSON value.
public protocol JSONConvertible {
  init?(jsonValue: JSONValue)
  var jsonValue: JSONValue { get }
}

extension String: JSONConvertible {
  public init?(jsonValue: JSONValue) {
    guard let value = jsonValue.stringValue else { return nil }
    self = value
  }
  public var jsonValue: JSONValue { .string(self) }
}

extension Bool: JSONConvertible {
  public init?(jsonValue: JSONValue) {
    guard let value = jsonValue.boolValue else { return nil }
    self = value
  }
  public var jsonValue: JSONValue { .bool(self) }
}

extension Int: JSONConvertible {
  public init?(jsonValue: JSONValue) {
    guard let value = jsonValue.intValue else { return nil }
    self = Int(value)
  }
  public var jsonValue: JSONValue { .int(Int64(self)) }
}

extension Int64: JSONConvertible {
  public init?(jsonValue: JSONValue) {
    guard let value = jsonValue.intValue else { return nil }
    self = value
  }
  public var jsonValue: JSONValue { .int(self) }
}

extension Double: JSONConvertible {
  public init?(jsonValue: JSONValue) {
    switch jsonValue {
    case .double(let value): self = value
    case .int(let value): self = Double(value)
    default: return nil
    }
  }
  public var jsonValue: JSONValue { .double(self) }
}

extension JSONValue: JSONConvertible {
  public init?(jsonValue: JSONValue) { self = jsonValue }
  public var jsonValue: JSONValue { self }
}

extension Array: JSONConvertible where Element: JSONConvertible {
  /// Elements that do not convert are dropped.
  public init?(jsonValue: JSONValue) {
    guard let array = jsonValue.arrayValue else { return nil }
    self = array.compactMap(Element.init(jsonValue:))
  }
  public var jsonValue: JSONValue { .array(map(\.jsonValue)) }
}

extension Dictionary: JSONConvertible where Key == String, Value: JSONConvertible {
  /// Entries that do not convert are dropped.
  public init?(jsonValue: JSONValue) {
    guard let object = jsonValue.objectValue else { return nil }
    self = object.compactMapValues(Value.init(jsonValue:))
  }
  /// An object with the entries in the order of their keys.
  public var jsonValue: JSONValue { .object(JSONObject(mapValues(\.jsonValue))) }
}

extension JSONObject: JSONConvertible {
  public init?(jsonValue: JSONValue) {
    guard let object = jsonValue.objectValue else { return nil }
    self = object
  }
  public var jsonValue: JSONValue { .object(self) }
}
