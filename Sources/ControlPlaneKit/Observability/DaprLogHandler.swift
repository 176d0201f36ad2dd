import Logging

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// How log lines are written: Dapr's JSON (`--log-as-json`) or logrus' `key=value` text.
public enum LogFormat: Sendable, Hashable {
  case json, text
}

/// Where finished log lines go.
public protocol LogSink: Sendable {
  /// Writes one line; `line` carries no trailing newline.
  func write(line: String)
}

/// Writes each line to standard output with a single `write(2)`, so that lines from concurrent tasks never
/// interleave.
public struct StandardOutputLogSink: LogSink {
  public init() {}

  public func write(line: String) {
    var bytes = Array(line.utf8)
    bytes.append(UInt8(ascii: "\n"))
    bytes.withUnsafeBytes { buffer in
      var offset = 0
      while offset < buffer.count {
        let written = Glibc.write(1, buffer.baseAddress! + offset, buffer.count - offset)
        if written <= 0 {
          if written < 0 && errno == EINTR { continue }
          return
        }
        offset += written
      }
    }
  }
}

/// What every log line of a process shares: who wrote it, which build, when, in which format, to where.
public struct LogContext: Sendable {
  /// The `instance` field: the pod or host name.
  public var instance: String
  /// The `ver` field.
  public var version: String
  public var format: LogFormat
  /// The source of the `time` field.
  public var clock: @Sendable () -> WallClockInstant
  public var sink: any LogSink

  public init(
    instance: String = LogContext.hostName(),
    version: String = BuildInfo.version,
    format: LogFormat,
    clock: @escaping @Sendable () -> WallClockInstant = { .now() },
    sink: any LogSink = StandardOutputLogSink()
  ) {
    self.instance = instance
    self.version = version
    self.format = format
    self.clock = clock
    self.sink = sink
  }

  /// The host name, which in Kubernetes is the pod name.
  public static func hostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}

/// A swift-log handler that writes Dapr's log lines.
///
/// JSON mode writes one object per line with the keys sorted: `instance`, `level` (`debug`, `info`, `warning`,
/// `error` or `fatal`), `msg`, `scope` (the logger's label, such as `dapr.sentry`), `time` (RFC 3339 in UTC with
/// nanoseconds), `type` (`log`) and `ver`, plus any metadata as further keys. Text mode writes logrus' format,
/// `time="…" level=info msg="…" instance=… scope=… type=log ver=…`.
public struct DaprLogHandler: LogHandler {
  public var logLevel: Logger.Level
  public var metadata: Logger.Metadata = [:]
  public var metadataProvider: Logger.MetadataProvider?

  private let scope: String
  private let context: LogContext

  /// The fields Dapr writes on every line; metadata keys that collide are written as `fields.<key>`.
  static let reservedKeys: Set<String> = ["instance", "level", "msg", "scope", "time", "type", "ver"]

  public init(scope: String, logLevel: Logger.Level, context: LogContext) {
    self.scope = scope
    self.logLevel = logLevel
    self.context = context
  }

  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  public func log(event: LogEvent) {
    var extra = self.metadata
    if let provided = metadataProvider?.get() { extra.merge(provided) { _, new in new } }
    if let fields = event.metadata { extra.merge(fields) { _, new in new } }
    if let error = event.error { extra["error"] = .string(String(describing: error)) }

    var fields: [(key: String, value: Logger.MetadataValue)] = [
      ("instance", .string(context.instance)),
      ("level", .string(event.level.daprName)),
      ("msg", .string(event.message.description)),
      ("scope", .string(scope)),
      ("time", .string(context.clock().rfc3339Nano)),
      ("type", .string("log")),
      ("ver", .string(context.version)),
    ]
    for (key, value) in extra {
      fields.append((Self.reservedKeys.contains(key) ? "fields." + key : key, value))
    }

    switch context.format {
    case .json:
      fields.sort { $0.key < $1.key }
      context.sink.write(line: LogLineEncoding.jsonObject(fields))
    case .text:
      let leading = ["time", "level", "msg"]
      let ordered =
        leading.compactMap { key in fields.first { $0.key == key } }
        + fields.filter { !leading.contains($0.key) }.sorted { $0.key < $1.key }
      context.sink.write(line: LogLineEncoding.textLine(ordered))
    }
  }
}

/// The two encodings of a log line. JSON strings are escaped as Go's `encoding/json` does (HTML characters
/// included), so lines compare byte for byte with Dapr's.
enum LogLineEncoding {
  static func jsonObject(_ fields: [(key: String, value: Logger.MetadataValue)]) -> String {
    var out = "{"
    for (index, field) in fields.enumerated() {
      if index > 0 { out += "," }
      appendJSONString(field.key, to: &out)
      out += ":"
      appendJSON(field.value, to: &out)
    }
    return out + "}"
  }

  static func textLine(_ fields: [(key: String, value: Logger.MetadataValue)]) -> String {
    fields.map { field in
      let value = plainText(field.value)
      return field.key + "=" + (needsQuoting(value) ? quoted(value) : value)
    }.joined(separator: " ")
  }

  private static func appendJSON(_ value: Logger.MetadataValue, to out: inout String) {
    switch value {
    case .string(let string): appendJSONString(string, to: &out)
    case .stringConvertible(let convertible): appendJSONString(convertible.description, to: &out)
    case .array(let values):
      out += "["
      for (index, element) in values.enumerated() {
        if index > 0 { out += "," }
        appendJSON(element, to: &out)
      }
      out += "]"
    case .dictionary(let dictionary):
      out += jsonObject(dictionary.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }
  }

  static func appendJSONString(_ string: String, to out: inout String, escapeHTML: Bool = true) {
    out += "\""
    for scalar in string.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case "<", ">", "&", "\u{2028}", "\u{2029}":
        if escapeHTML { out += unicodeEscape(scalar) } else { out.unicodeScalars.append(scalar) }
      default:
        if scalar.value < 0x20 { out += unicodeEscape(scalar) } else { out.unicodeScalars.append(scalar) }
      }
    }
    out += "\""
  }

  private static func unicodeEscape(_ scalar: Unicode.Scalar) -> String {
    let hex = String(scalar.value, radix: 16)
    return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
  }

  private static func plainText(_ value: Logger.MetadataValue) -> String {
    switch value {
    case .string(let string): string
    case .stringConvertible(let convertible): convertible.description
    case .array, .dictionary:
      {
        var out = ""
        appendJSON(value, to: &out)
        return out
      }()
    }
  }

  /// logrus quotes a value unless it consists only of letters, digits and `-._/@^+`.
  private static func needsQuoting(_ value: String) -> Bool {
    if value.isEmpty { return true }
    return value.unicodeScalars.contains { scalar in
      !(("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
        || "-._/@^+".unicodeScalars.contains(scalar))
    }
  }

  private static func quoted(_ value: String) -> String {
    var out = ""
    appendJSONString(value, to: &out, escapeHTML: false)
    return out
  }
}
