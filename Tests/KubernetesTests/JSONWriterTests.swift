import Foundation
import Kubernetes
import Testing

@Suite struct JSONWriterTests {
  @Test(
    "Written JSON parses back to the same value",
    arguments: [
      JSONValue.string("quote \" backslash \\ newline \n tab \t bell \u{07} slash / é 🎉"),
      .string("\"escapes at both ends\u{1F}"), .string(""), .string(String(repeating: "long run ", count: 500)),
      ["a": [1, 2.5, true, false, nil, "x"], "b": ["c": [:], "d": []], "": "empty key"],
      .int(-42), .int(Int64.max), .double(1e-7), .array([]),
    ])
  func roundTrip(value: JSONValue) throws {
    #expect(try JSONCoding.parse(JSONCoding.encode(value)) == value)
  }

  @Test func sortedKeysGiveExactlyThisText() throws {
    let value: JSONValue = ["b": 1, "a": ["z": "/path", "y": nil], "c": [true, "\u{1}"]]
    let text = String(decoding: try JSONCoding.encode(value, sortedKeys: true), as: UTF8.self)
    #expect(text == #"{"a":{"y":null,"z":"/path"},"b":1,"c":[true,"\u0001"]}"#)
  }
}
