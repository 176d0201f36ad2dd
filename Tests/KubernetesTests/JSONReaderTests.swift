import Foundation
import Kubernetes
import Testing

@Suite struct JSONReaderTests {
  static let documents: [(text: String, value: JSONValue)] = [
    (#"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#, ["a": 1, "b": [true, false, nil], "c": ["d": "e"]]),
    (" \t\r\n[ 1 , -2 , 0 ] \n", [1, -2, 0]),
    ("9223372036854775807", .int(Int64.max)),
    ("-9223372036854775808", .int(Int64.min)),
    ("9223372036854775808", .double(9_223_372_036_854_775_808)),
    ("-0", .int(0)),
    ("1.5", .double(1.5)),
    ("1.0", .double(1)),
    ("-2.5e-3", .double(-0.0025)),
    ("1E2", .double(100)),
    ("1e+2", .double(100)),
    (#""""#, ""),
    (#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{08}\u{0C}\n\r\t"),
    (#""caf\u00e9 \u00E9""#, "café é"),
    (#""\ud83d\ude00 smile""#, "😀 smile"),
    ("\"raw UTF-8: é 😀 ü\"", "raw UTF-8: é 😀 ü"),
    (#""mixed é and \n escape""#, "mixed é and \n escape"),
    (#"{"k":1,"k":2}"#, ["k": 2]),
    (#"{"a":{"x":1,"x":{"y":[{"z":2},{}]}},"b":3,"c":{},"a":{"w":4}}"#, ["a": ["w": 4], "b": 3, "c": [:]]),
    (
      #"{"outer":{"inner":{"k":1},"after":2},"next":{"k":3}}"#,
      ["outer": ["inner": ["k": 1], "after": 2], "next": ["k": 3]]
    ),
    (#"{}"#, [:]),
    (#"[]"#, []),
    (#"[[[]]]"#, [[[]]]),
    ("\u{FEFF}{\"bom\":true}", ["bom": true]),
    ("true", true),
    ("null", nil),
  ]

  @Test("A valid document reads as the value it spells", arguments: documents)
  func validDocument(text: String, value: JSONValue) throws {
    #expect(try JSONCoding.parse(Data(text.utf8)) == value)
  }

  /// Foundation on Linux reads some numbers inexactly (integers near `Int64`'s limits become doubles, doubles with 17
  /// significant digits lose their last one), so the comparison leaves those out; this reader's are exact.
  @Test(
    "A valid document reads the same as Foundation's JSONSerialization reads it",
    arguments: documents.filter { !$0.text.hasPrefix("-92233") })
  func sameAsFoundation(text: String, value: JSONValue) throws {
    let data = Data(text.utf8)
    #expect(try JSONCoding.parse(data) == JSONCoding.parseWithFoundation(data))
  }

  @Test(
    "Numbers read exactly (Foundation on Linux rounds some of them)",
    arguments: [
      ("3349610546.8623047", JSONValue.double(3349610546.8623047)),
      ("-1385911282306093944", .int(-1385911282306093944)),
      ("0.1", .double(0.1)), ("5e-324", .double(5e-324)), ("1.7976931348623157e308", .double(.greatestFiniteMagnitude)),
    ])
  func exactNumbers(text: String, value: JSONValue) throws {
    #expect(try JSONCoding.parse(Data(text.utf8)) == value)
  }

  /// Every golden patch and the CRDs' JSON schemas, through both readers.
  @Test func realDocumentsReadTheSameAsWithFoundation() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    let fixtures = root.appendingPathComponent("InjectorTests/Fixtures")
    let files = try FileManager.default.contentsOfDirectory(atPath: fixtures.path).filter { $0.hasSuffix(".json") }
    #expect(files.count > 20)
    for file in files {
      let data = try Data(contentsOf: fixtures.appendingPathComponent(file))
      #expect(try JSONCoding.parse(data) == JSONCoding.parseWithFoundation(data), "\(file)")
    }
  }

  @Test func randomValuesWrittenAndReadBackAreUnchanged() throws {
    var generator = SplitMix64(seed: 0x5EED)
    for _ in 0..<300 {
      let value = Self.randomValue(depth: 0, shortNumbers: false, using: &generator)
      #expect(try JSONCoding.parse(JSONCoding.encode(value)) == value)
    }
  }

  @Test func randomDocumentsReadTheSameAsWithFoundation() throws {
    var generator = SplitMix64(seed: 0xF0_0D)
    for _ in 0..<300 {
      let data = try JSONCoding.encode(Self.randomValue(depth: 0, shortNumbers: true, using: &generator))
      #expect(try JSONCoding.parse(data) == JSONCoding.parseWithFoundation(data))
    }
  }

  static let invalid: [(text: String, offset: Int, reason: String)] = [
    ("", 0, "the document ends where a value was expected"),
    ("   ", 3, "the document ends where a value was expected"),
    (#"{"a":1,}"#, 7, "expected a member name in quotes"),
    ("{", 1, "the document ends inside an object"),
    (#"{"a":1,"#, 7, "the document ends inside an object"),
    ("{\"new\\nline\" 1}", 13, #"expected ':' after the member name "new\nline""#),
    (#"{"a" 1}"#, 5, #"expected ':' after the member name "a""#),
    (#"{"a":1"#, 6, "the document ends inside an object"),
    (#"{"a":1 "b":2}"#, 7, "expected ',' or '}' after an object member"),
    ("[1,2", 4, "the document ends inside an array"),
    ("[1 2]", 3, "expected ',' or ']' after an array element"),
    ("[1,]", 3, "unexpected character ']' where a value was expected"),
    ("{'a':1}", 1, "expected a member name in quotes"),
    ("tru", 0, "expected 'true'"),
    ("nul", 0, "expected 'null'"),
    ("01", 0, "a number cannot have a leading zero"),
    ("-", 1, "expected a digit in a number"),
    ("1.", 2, "expected a digit after the decimal point"),
    ("1e", 2, "expected a digit in the exponent"),
    ("+1", 0, "unexpected character '+' where a value was expected"),
    ("1e400", 0, "the number 1e400 is out of range"),
    (#""never closed"#, 0, "the string starting here never ends"),
    (#""escaped \" but never closed"#, 0, "the string starting here never ends"),
    ("\"tab\tinside\"", 4, "unescaped control character 0x9 in a string"),
    (#""\x""#, 1, #"invalid escape sequence '\x'"#),
    (#""\u12""#, 1, #"a \u escape needs four hexadecimal digits"#),
    (#""\u12G4""#, 1, #"a \u escape needs four hexadecimal digits"#),
    (#""\ud83d alone""#, 1, #"a high surrogate \u escape without its low surrogate"#),
    (#""\ud83d\u0041""#, 1, #"a high surrogate \u escape without its low surrogate"#),
    (#""\ude00""#, 1, #"a low surrogate \u escape without its high surrogate"#),
    ("{} {}", 3, "unexpected text after the document"),
    ("[1] x", 4, "unexpected text after the document"),
  ]

  @Test("A malformed document is refused with the byte and the problem named", arguments: invalid)
  func invalidDocument(text: String, offset: Int, reason: String) {
    #expect(throws: JSONReader.SyntaxError(offset: offset, reason: reason)) {
      _ = try JSONCoding.parse(Data(text.utf8))
    }
  }

  @Test(
    "Bytes that are not UTF-8 inside a string are refused",
    arguments: [
      [0x22, 0xFF, 0x22], [0x22, 0x61, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0x5C, 0x6E, 0xFE, 0x22],
    ]
      as [[UInt8]])
  func invalidUTF8(bytes: [UInt8]) {
    #expect(throws: JSONReader.SyntaxError(offset: 0, reason: "the string is not valid UTF-8")) {
      _ = try JSONCoding.parse(Data(bytes))
    }
  }

  @Test func nestingIsLimitedSoTheStackIsSafe() throws {
    let limit = JSONReader.maximumDepth
    let deepest = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
    #expect(throws: Never.self) { try JSONCoding.parse(Data(deepest.utf8)) }
    let tooDeep = String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)
    #expect(throws: JSONReader.SyntaxError(offset: limit, reason: "nested deeper than \(limit) levels")) {
      _ = try JSONCoding.parse(Data(tooDeep.utf8))
    }
    let hostile = Data(String(repeating: "{\"a\":", count: 100_000).utf8)
    #expect(throws: JSONReader.SyntaxError.self) { _ = try JSONCoding.parse(hostile) }
  }

  @Test func aLongMemberNameIsCutInTheMessage() {
    let key = String(repeating: "k", count: 10_000)
    let cut = String(repeating: "k", count: 64) + "…"
    #expect(throws: JSONReader.SyntaxError(offset: 10_004, reason: "expected ':' after the member name \"\(cut)\"")) {
      _ = try JSONCoding.parse(Data("{\"\(key)\" 1}".utf8))
    }
  }

  @Test func errorsDescribeThemselvesForAnswersAndLogs() {
    let error = JSONReader.SyntaxError(offset: 12, reason: "expected a member name in quotes")
    #expect("\(error)" == "invalid JSON at byte 12: expected a member name in quotes")
  }

  /// A random value; with `shortNumbers`, integers fit 32 bits and doubles have a few decimals.
  static func randomValue(depth: Int, shortNumbers: Bool, using generator: inout SplitMix64) -> JSONValue {
    let pick = generator.next() % (depth > 3 ? 5 : 7)
    let shift: UInt64 = shortNumbers ? 33 : 0
    switch pick {
    case 0: return .null
    case 1: return .bool(generator.next() % 2 == 0)
    case 2: return .int(Int64(bitPattern: generator.next()) >> (shift + generator.next() % (63 - shift)))
    case 3:
      let double = Double(Int64(bitPattern: generator.next()) >> (shortNumbers ? 40 : 20)) / 1024
      return double.rounded() == double ? .int(Int64(double)) : .double(double)
    case 4: return .string(randomString(using: &generator))
    case 5:
      return .array(
        (0..<Int(generator.next() % 5)).map { _ in
          randomValue(depth: depth + 1, shortNumbers: shortNumbers, using: &generator)
        })
    default:
      var object = JSONObject()
      for _ in 0..<Int(generator.next() % 5) {
        object[randomString(using: &generator)] = randomValue(
          depth: depth + 1, shortNumbers: shortNumbers, using: &generator)
      }
      return .object(object)
    }
  }

  static func randomString(using generator: inout SplitMix64) -> String {
    let alphabet: [Character] = [
      "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{01}", "\u{1F}", "é", "€", "😀", "-", "~",
    ]
    return String(
      (0..<Int(generator.next() % 24)).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
  }
}

/// A small deterministic generator, so a failure reproduces.
struct SplitMix64 {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
