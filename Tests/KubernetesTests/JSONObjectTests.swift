import Foundation
import Kubernetes
import Testing

@Suite struct JSONObjectTests {
  /// Sizes on both sides of the point where an object starts keeping a key index.
  static let sizes = [0, 1, 5, JSONObject.indexedCount, JSONObject.indexedCount + 1, 200]

  static func numbered(_ count: Int) -> JSONObject {
    JSONObject((0..<count).map { (key: "key-\($0)", value: .int(Int64($0))) })
  }

  @Test("Members keep the order they were added in, and each key reads its value", arguments: sizes)
  func membersKeepTheirOrder(count: Int) {
    let object = Self.numbered(count)
    #expect(object.count == count)
    #expect(object.keys == (0..<count).map { "key-\($0)" })
    for index in 0..<count { #expect(object["key-\(index)"] == .int(Int64(index))) }
    #expect(object["missing"] == nil)
  }

  @Test("Setting, replacing and removing members behaves as a dictionary's would", arguments: sizes)
  func mutationsMatchADictionary(count: Int) {
    var object = Self.numbered(count)
    var reference = Dictionary(uniqueKeysWithValues: object.map { ($0.key, $0.value) })
    // Replace every third, remove every fifth, add a few: the object and the dictionary must agree throughout.
    for index in stride(from: 0, to: count, by: 3) {
      object["key-\(index)"] = "replaced"
      reference["key-\(index)"] = "replaced"
    }
    for index in stride(from: 0, to: count, by: 5) {
      #expect(object.removeValue(forKey: "key-\(index)") == reference.removeValue(forKey: "key-\(index)"))
    }
    for extra in 0..<30 {
      object["extra-\(extra)"] = .int(Int64(extra))
      reference["extra-\(extra)"] = .int(Int64(extra))
    }
    object["extra-0"] = nil
    reference["extra-0"] = nil
    #expect(object.count == reference.count)
    for (key, value) in reference { #expect(object[key] == value, "\(key)") }
    #expect(Set(object.keys) == Set(reference.keys))
    #expect(object.removeValue(forKey: "never-there") == nil)
  }

  static let repeated: [(text: String, keys: [String], values: [JSONValue])] = [
    (#"{"a":1,"b":2,"a":3}"#, ["a", "b"], [3, 2]),
    (#"{"z":1,"y":2,"z":{"w":0},"x":3}"#, ["z", "y", "x"], [["w": 0], 2, 3]),
  ]

  @Test("A repeated key keeps its first place and its last value", arguments: repeated)
  func repeatedKeys(text: String, keys: [String], values: [JSONValue]) throws {
    let object = try #require(try JSONCoding.parse(Data(text.utf8)).objectValue)
    #expect(object.keys == keys)
    #expect(object.values == values)
    let literal: JSONObject = ["a": 1, "b": 2, "a": 3]
    #expect(literal.keys == ["a", "b"] && literal["a"] == 3)
  }

  @Test("Objects with the same members in another order are equal and hash alike")
  func equalityIgnoresOrder() {
    let forward = Self.numbered(40)
    let backward = JSONObject(forward.reversed())
    #expect(forward == backward)
    #expect(forward.hashValue == backward.hashValue)
    var changed = backward
    changed["key-7"] = "other"
    #expect(forward != changed)
    var missing = backward
    missing["key-7"] = nil
    missing["key-x"] = .int(7)
    #expect(forward != missing)
    #expect(JSONObject(["b": 1, "a": 2] as [String: JSONValue]).keys == ["a", "b"])
  }

  @Test("Read, written and read again, an object keeps its members' order")
  func documentOrderSurvivesARoundTrip() throws {
    let text = #"{"zeta":1,"alpha":{"m":true,"b":null},"mid":[{"y":1,"x":2}]}"#
    let value = try JSONCoding.parse(Data(text.utf8))
    #expect(String(decoding: try JSONCoding.encode(value), as: UTF8.self) == text)
    // Codable goes through the same members.
    let decoded = try JSONDecoder().decode(JSONObject.self, from: Data(text.utf8))
    #expect(JSONValue.object(decoded) == value)
  }

  @Test("Merging, filtering and mapping keep the order and pick values as asked")
  func collectionOperations() {
    var object: JSONObject = ["a": 1, "b": 2]
    object.merge(["b": 20, "c": 30] as JSONObject, uniquingKeysWith: { old, new in old == 2 ? new : old })
    #expect(object.keys == ["a", "b", "c"] && object["b"] == 20)
    #expect(object.filter { $0.key != "b" }.keys == ["a", "c"])
    #expect(object.compactMapValues(\.intValue) == ["a": 1, "b": 20, "c": 30])
    var counted: JSONObject = [:]
    counted["n", default: 0] = .int((counted["n"]?.intValue ?? 0) + 1)
    #expect(counted["n"] == 1)
  }
}
