import ControlPlaneKit
import Testing

@Suite struct GoDurationTests {
  @Test(
    "Go duration strings parse to the right number of nanoseconds",
    arguments: [
      ("8s", Int64(8_000_000_000)), ("24h", 86_400_000_000_000), ("15m", 900_000_000_000),
      ("1h30m", 5_400_000_000_000), ("1.5s", 1_500_000_000), ("500ms", 500_000_000), ("100us", 100_000),
      ("100µs", 100_000), ("7ns", 7), ("0", 0), ("0s", 0), ("-2s", -2_000_000_000), ("+3m", 180_000_000_000),
    ])
  func parsing(text: String, nanoseconds: Int64) throws {
    #expect(try GoDuration(parsing: text).nanoseconds == nanoseconds)
  }

  @Test(
    "Malformed durations are rejected with a message naming the problem",
    arguments: [
      ("", "invalid duration"), ("5", "missing unit"), ("5x", "unknown unit \"x\""), ("s", "invalid duration"),
      ("1h-2m", "unknown unit \"h-\""), (".s", "invalid duration"),
    ])
  func rejection(text: String, messageFragment: String) {
    do {
      let parsed = try GoDuration(parsing: text)
      Issue.record("\"\(text)\" parsed as \(parsed)")
    } catch {
      #expect(error.message.contains(messageFragment), "\(error.message)")
    }
  }

  @Test(
    "Durations print as Go prints them",
    arguments: [
      (Int64(0), "0s"), (8_000_000_000, "8s"), (86_400_000_000_000, "24h0m0s"), (5_400_000_000_000, "1h30m0s"),
      (1_500_000_000, "1.5s"), (500_000_000, "500ms"), (1_500_000, "1.5ms"), (100_000, "100µs"), (7, "7ns"),
      (-2_000_000_000, "-2s"), (61_000_000_000, "1m1s"),
    ])
  func printing(nanoseconds: Int64, text: String) {
    #expect(GoDuration(nanoseconds: nanoseconds).description == text)
  }
}

@Suite struct GoFlagSyntaxTests {
  static let booleans: Set<String> = ["enable-metrics", "log-as-json"]

  @Test(
    "Go-style arguments become swift-argument-parser arguments",
    arguments: [
      (["-port", "50001"], ["--port", "50001"]),
      (["-port=50001"], ["--port=50001"]),
      (["--port", "50001"], ["--port", "50001"]),
      (["--enable-metrics=false"], ["--no-enable-metrics"]),
      (["-enable-metrics=false"], ["--no-enable-metrics"]),
      (["--enable-metrics=true"], ["--enable-metrics"]),
      (["--log-as-json=1"], ["--log-as-json"]),
      (["--log-as-json"], ["--log-as-json"]),
      (["-h"], ["-h"]),
      (["-help"], ["--help"]),
      (["--mode=false"], ["--mode=false"]),
      (["--config", "-", "x"], ["--config", "-", "x"]),
      (["--", "-port"], ["--", "-port"]),
      (["--enable-metrics=maybe"], ["--enable-metrics=maybe"]),
    ])
  func normalization(input: [String], output: [String]) {
    #expect(GoFlagSyntax.normalize(input, booleanFlags: Self.booleans) == output)
  }
}

@Suite struct WhitespaceTests {
  @Test(
    "Whitespace is trimmed from both ends as Go's strings.TrimSpace does",
    arguments: [
      ("  a b \n", "a b"), ("", ""), (" \t\r\n ", ""), ("x", "x"), ("\u{3000}value\u{A0}", "value"),
      ("\u{85}é ü\u{2029}", "é ü"), ("inner  space", "inner  space"),
    ])
  func trims(text: String, trimmed: String) {
    #expect(text.trimmingWhitespace == trimmed)
    #expect(text[...].trimmingWhitespace == trimmed)
  }

  @Test(
    "Dapr's truthy spellings count, trimmed and in any case; anything else does not",
    arguments: [
      ("true", true), (" YES ", true), ("On", true), ("1", true), ("t", true), ("y\n", true), ("false", false),
      ("", false), ("truthy", false), ("0", false),
    ])
  func truthy(value: String, isTruthy: Bool) {
    #expect(ProcessFacts.isTruthy(value) == isTruthy)
  }
}
