import ControlPlaneKit
import Foundation
import Logging
import Synchronization
import Testing

/// Collects log lines in memory.
final class CapturingLogSink: LogSink {
  private let lines = Mutex<[String]>([])
  func write(line: String) { lines.withLock { $0.append(line) } }
  var captured: [String] { lines.withLock { $0 } }
}

func makeLogger(
  format: LogFormat, level: Logger.Level = .debug, scope: String = "dapr.sentry",
  at instant: WallClockInstant = WallClockInstant(seconds: 1_795_376_244, nanoseconds: 123_456_789)
) -> (Logger, CapturingLogSink) {
  let sink = CapturingLogSink()
  let context = LogContext(
    instance: "dapr-sentry-7d9c", version: "1.2.3", format: format, clock: { instant }, sink: sink)
  let logger = Logger(label: scope) { label in DaprLogHandler(scope: label, logLevel: level, context: context) }
  return (logger, sink)
}

func decodeJSONLine(_ line: String) throws -> [String: Any] {
  try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
}

@Suite struct DaprLogHandlerTests {
  @Test func aWarningIsOneJSONLineWithExactlyDaprsSevenKeys() throws {
    let (logger, sink) = makeLogger(format: .json)
    logger.warning("Dapr root certificate expiration warning: certificate expires in 3 days and 4 hours")

    let line = try #require(sink.captured.only)
    let object = try decodeJSONLine(line)
    #expect(object.keys.sorted() == ["instance", "level", "msg", "scope", "time", "type", "ver"])
    #expect(object["instance"] as? String == "dapr-sentry-7d9c")
    #expect(object["level"] as? String == "warning")
    #expect(
      object["msg"] as? String
        == "Dapr root certificate expiration warning: certificate expires in 3 days and 4 hours")
    #expect(object["scope"] as? String == "dapr.sentry")
    #expect(object["time"] as? String == "2026-11-22T19:37:24.123456789Z")
    #expect(object["type"] as? String == "log")
    #expect(object["ver"] as? String == "1.2.3")
    // Keys are written sorted, as Dapr's logrus formatter does.
    #expect(line.hasPrefix(#"{"instance":"dapr-sentry-7d9c","level":"warning","msg":"#))
  }

  @Test(
    "Each swift-log level is written with Dapr's level name",
    arguments: [
      (Logger.Level.trace, "debug"), (.debug, "debug"), (.info, "info"), (.notice, "info"),
      (.warning, "warning"), (.error, "error"), (.critical, "fatal"),
    ])
  func levelNames(level: Logger.Level, expected: String) throws {
    let (logger, sink) = makeLogger(format: .json, level: .trace)
    logger.log(level: level, "x")
    #expect(try decodeJSONLine(try #require(sink.captured.only))["level"] as? String == expected)
  }

  @Test(
    "--log-level lets through exactly its level and the ones above",
    arguments: [
      (DaprLogLevel.debug, 5), (.info, 4), (.warn, 3), (.error, 2), (.fatal, 1),
    ])
  func logLevelFiltering(option: DaprLogLevel, expectedLines: Int) {
    let (logger, sink) = makeLogger(format: .json, level: option.loggerLevel)
    logger.debug("d")
    logger.info("i")
    logger.warning("w")
    logger.error("e")
    logger.critical("f")
    #expect(sink.captured.count == expectedLines)
  }

  @Test(
    "--log-level accepts Dapr's names and 'warning'",
    arguments: [
      ("debug", DaprLogLevel.debug), ("info", .info), ("warn", .warn), ("warning", .warn), ("ERROR", .error),
      ("fatal", .fatal),
    ])
  func logLevelNames(argument: String, expected: DaprLogLevel) {
    #expect(DaprLogLevel(argument: argument) == expected)
  }

  @Test func anUnknownLogLevelIsRejected() {
    #expect(DaprLogLevel(argument: "verbose") == nil)
  }

  @Test func metadataBecomesFurtherSortedKeysAndReservedNamesAreNotOverwritten() throws {
    var (logger, sink) = makeLogger(format: .json)
    logger[metadataKey: "app_id"] = "checkout"
    logger.info("hello", metadata: ["msg": "sneaky", "count": "3"])
    let object = try decodeJSONLine(try #require(sink.captured.only))
    #expect(object["app_id"] as? String == "checkout")
    #expect(object["msg"] as? String == "hello")
    #expect(object["fields.msg"] as? String == "sneaky")
    let keys = Array(object.keys)
    #expect(keys.count == 10)
  }

  @Test func stringsAreEscapedAsGoEncodesThem() throws {
    let (logger, sink) = makeLogger(format: .json)
    logger.info("quote \" backslash \\ newline \n tab \t html <&> bell \u{7}")
    let line = try #require(sink.captured.only)
    #expect(line.contains(#""msg":"quote \" backslash \\ newline \n tab \t html \u003c\u0026\u003e bell \u0007""#))
    #expect(try decodeJSONLine(line)["msg"] as? String == "quote \" backslash \\ newline \n tab \t html <&> bell \u{7}")
  }

  @Test func textModeIsLogrusKeyValueWithTimeLevelAndMessageFirst() throws {
    let (logger, sink) = makeLogger(format: .text)
    logger.info("Starting Dapr sentry", metadata: ["port": "50001"])
    #expect(
      sink.captured
        == [
          #"time="2026-11-22T19:37:24.123456789Z" level=info msg="Starting Dapr sentry" instance=dapr-sentry-7d9c port=50001 scope=dapr.sentry type=log ver=1.2.3"#
        ])
  }

  @Test(
    "Timestamps are RFC 3339 in UTC with nine fractional digits",
    arguments: [
      (WallClockInstant(seconds: 0, nanoseconds: 0), "1970-01-01T00:00:00.000000000Z"),
      (WallClockInstant(seconds: 951_782_400, nanoseconds: 5), "2000-02-29T00:00:00.000000005Z"),
      (WallClockInstant(seconds: 4_102_444_799, nanoseconds: 999_999_999), "2099-12-31T23:59:59.999999999Z"),
      (WallClockInstant(seconds: -1, nanoseconds: 500_000_000), "1969-12-31T23:59:59.500000000Z"),
    ])
  func timestamps(instant: WallClockInstant, expected: String) {
    #expect(instant.rfc3339Nano == expected)
  }
}

extension Collection {
  /// The single element, or nil when there are none or several.
  var only: Element? { count == 1 ? first : nil }
}
