/// A JSON object: its members, in the order they were read or added.
///
/// Kubernetes objects are small (a pod's busiest object has a few dozen members), so the members live in one array and
/// a key is found by comparing strings, which for the short ASCII names of Kubernetes fields is a word or two compared.
/// A dictionary hashes every key on the way in and on every lookup: for an admission review that was the largest single
/// cost of reading it and of planning its patch. Objects past ``indexedCount`` members (a large ConfigMap's `data`, a
/// pod with many annotations) also keep an index from key to position, so no lookup is ever slower than a dictionary's
/// by more than a constant.
///
/// It reads like a `[String: JSONValue]`: `object["key"]` gets and sets (setting `nil` removes), `for (key, value)
/// in object` visits the members in order, and two objects are equal when they have the same members in any order.
/// Keeping the order also keeps what the API server sent in the order it sent it on a read-modify-write.
public struct JSONObject: Sendable {
  public typealias Element = (key: String, value: JSONValue)

  /// Objects with more members than this keep a key index.
  public static let indexedCount = 24

  private var members: [Element]
  /// Key to position in `members`, kept only past ``indexedCount`` members.
  private var index: [String: Int]?

  /// An empty object.
  public init() {
    members = []
  }

  /// An empty object with room for `minimumCapacity` members.
  public init(minimumCapacity: Int) {
    members = []
    members.reserveCapacity(minimumCapacity)
  }

  /// The members in order; a repeated key keeps its first position and its last value (as JavaScript's
  /// `JSON.parse` does).
  public init(_ elements: some Sequence<Element>) {
    self.init(members: Array(elements))
  }

  /// Members whose keys the caller knows to be distinct.
  init(uniqueMembers: [Element]) {
    members = uniqueMembers
    if members.count > Self.indexedCount { rebuildIndex() }
  }

  /// Members in order as read or written; a repeated key keeps its first position and its last value.
  init(members: [Element]) {
    if members.count <= Self.indexedCount, !Self.repeatsAKey(members) {
      self.init(uniqueMembers: members)
      return
    }
    self.init(minimumCapacity: members.count)
    for member in members { self[member.key] = member.value }
  }

  /// Whether two of a few members have the same key (compared pairwise: cheaper than hashing a few keys).
  private static func repeatsAKey(_ members: [Element]) -> Bool {
    for i in members.indices {
      for j in (i + 1)..<members.count where members[i].key == members[j].key { return true }
    }
    return false
  }

  public var count: Int { members.count }
  public var isEmpty: Bool { members.isEmpty }
  /// The keys in order.
  public var keys: [String] { members.map(\.key) }
  /// The values in order.
  public var values: [JSONValue] { members.map(\.value) }

  public mutating func reserveCapacity(_ minimumCapacity: Int) {
    members.reserveCapacity(minimumCapacity)
  }

  private func position(of key: String) -> Int? {
    if let index { return index[key] }
    for position in members.indices where members[position].key == key { return position }
    return nil
  }

  private mutating func rebuildIndex() {
    var index: [String: Int] = [:]
    index.reserveCapacity(members.count)
    for (position, member) in members.enumerated() { index[member.key] = position }
    self.index = index
  }

  /// The member's value; setting `nil` removes the member, setting a new key appends it.
  public subscript(key: String) -> JSONValue? {
    get {
      guard let position = position(of: key) else { return nil }
      return members[position].value
    }
    set {
      if let newValue {
        updateValue(newValue, forKey: key)
      } else {
        removeValue(forKey: key)
      }
    }
  }

  /// The member's value, or `defaultValue` (which a mutation through this subscript adds first).
  public subscript(key: String, default defaultValue: @autoclosure () -> JSONValue) -> JSONValue {
    get { self[key] ?? defaultValue() }
    _modify {
      let position: Int
      if let existing = self.position(of: key) {
        position = existing
      } else {
        append(key, defaultValue())
        position = members.count - 1
      }
      yield &members[position].value
    }
  }

  /// Sets the member's value; returns the value it replaced, if any.
  @discardableResult
  public mutating func updateValue(_ value: JSONValue, forKey key: String) -> JSONValue? {
    if let position = position(of: key) {
      let old = members[position].value
      members[position].value = value
      return old
    }
    append(key, value)
    return nil
  }

  private mutating func append(_ key: String, _ value: JSONValue) {
    members.append((key, value))
    if index != nil {
      index![key] = members.count - 1
    } else if members.count > Self.indexedCount {
      rebuildIndex()
    }
  }

  /// Removes the member; returns its value, if there was one.
  @discardableResult
  public mutating func removeValue(forKey key: String) -> JSONValue? {
    guard let position = position(of: key) else { return nil }
    let removed = members.remove(at: position).value
    if members.count > Self.indexedCount {
      // The members after it moved up one place; no key is hashed again.
      index!.removeValue(forKey: key)
      index = index!.mapValues { $0 > position ? $0 - 1 : $0 }
    } else {
      index = nil
    }
    return removed
  }

  /// Adds `other`'s members; for a key in both, `combine` picks the value.
  public mutating func merge(
    _ other: some Sequence<Element>, uniquingKeysWith combine: (JSONValue, JSONValue) throws -> JSONValue
  ) rethrows {
    for (key, value) in other {
      if let position = position(of: key) {
        members[position].value = try combine(members[position].value, value)
      } else {
        append(key, value)
      }
    }
  }

  /// `merge` into a copy.
  public func merging(
    _ other: some Sequence<Element>, uniquingKeysWith combine: (JSONValue, JSONValue) throws -> JSONValue
  ) rethrows -> JSONObject {
    var merged = self
    try merged.merge(other, uniquingKeysWith: combine)
    return merged
  }

  /// The members `isIncluded` keeps, in order.
  public func filter(_ isIncluded: (Element) throws -> Bool) rethrows -> JSONObject {
    JSONObject(uniqueMembers: try members.filter(isIncluded))
  }

  /// Each value transformed, in order.
  public func mapValues<T>(_ transform: (JSONValue) throws -> T) rethrows -> [String: T] {
    var result: [String: T] = [:]
    result.reserveCapacity(members.count)
    for (key, value) in members { result[key] = try transform(value) }
    return result
  }

  /// The values `transform` keeps, transformed.
  public func compactMapValues<T>(_ transform: (JSONValue) throws -> T?) rethrows -> [String: T] {
    var result: [String: T] = [:]
    for (key, value) in members {
      if let transformed = try transform(value) { result[key] = transformed }
    }
    return result
  }
}

extension JSONObject: RandomAccessCollection {
  public var startIndex: Int { members.startIndex }
  public var endIndex: Int { members.endIndex }
  public subscript(position: Int) -> Element { members[position] }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
  public typealias Key = String
  public typealias Value = JSONValue

  public init(dictionaryLiteral elements: (String, JSONValue)...) {
    self.init(members: elements.map { (key: $0.0, value: $0.1) })
  }
}

extension JSONObject {
  /// An object with the dictionary's entries, in the order of their keys.
  public init(_ dictionary: [String: JSONValue]) {
    self.init(uniqueMembers: dictionary.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) })
  }
}

extension JSONObject: Hashable {
  /// The same members, in any order.
  public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
    guard lhs.count == rhs.count else { return false }
    for (position, member) in lhs.members.enumerated() {
      // Objects built alike have their members in the same order: try the same position first.
      if position < rhs.members.count, rhs.members[position].key == member.key {
        guard rhs.members[position].value == member.value else { return false }
      } else {
        guard rhs[member.key] == member.value else { return false }
      }
    }
    return true
  }

  /// Independent of the members' order, as equality is.
  public func hash(into hasher: inout Hasher) {
    var combined = 0
    for member in members {
      var memberHasher = Hasher()
      memberHasher.combine(member.key)
      memberHasher.combine(member.value)
      combined ^= memberHasher.finalize()
    }
    hasher.combine(members.count)
    hasher.combine(combined)
  }
}

extension JSONObject: Codable {
  private struct MemberKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: MemberKey.self)
    self.init(minimumCapacity: container.allKeys.count)
    for key in container.allKeys { self[key.stringValue] = try container.decode(JSONValue.self, forKey: key) }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: MemberKey.self)
    for (key, value) in members { try container.encode(value, forKey: MemberKey(stringValue: key)) }
  }
}

extension JSONObject: CustomStringConvertible {
  /// The object as compact JSON.
  public var description: String {
    var bytes: [UInt8] = []
    JSONValue.object(self).write(into: &bytes)
    return String(decoding: bytes, as: UTF8.self)
  }
}
