import ArgumentParser

/// A duration written as Go writes them (`8s`, `24h`, `1h30m`, `500ms`, `1.5s`), which is how every Dapr flag
/// and Configuration field spells durations.
public struct GoDuration: Hashable, Sendable, Comparable, CustomStringConvertible, ExpressibleByArgument {
  /// The duration in nanoseconds.
  public var nanoseconds: Int64

  public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

  public init(_ duration: Duration) {
    let (seconds, attoseconds) = duration.components
    self.nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
  }

  public static func seconds(_ seconds: Int64) -> Self { Self(nanoseconds: seconds * 1_000_000_000) }
  public static func minutes(_ minutes: Int64) -> Self { .seconds(minutes * 60) }
  public static func hours(_ hours: Int64) -> Self { .seconds(hours * 3600) }

  /// As a Swift `Duration`.
  public var duration: Duration { .nanoseconds(nanoseconds) }

  /// Parses Go's syntax: an optional sign, then one or more decimal numbers each with a unit (`ns`, `us`, `µs`,
  /// `ms`, `s`, `m`, `h`); a bare `0` is allowed.
  public init(parsing text: String) throws(GoDurationError) {
    var scalars = Substring(text).unicodeScalars[...]
    var negative = false
    if let sign = scalars.first, sign == "-" || sign == "+" {
      negative = sign == "-"
      scalars = scalars.dropFirst()
    }
    if String(scalars) == "0" {
      self.nanoseconds = 0
      return
    }
    if scalars.isEmpty { throw .invalid(text) }
    var total: Double = 0
    while !scalars.isEmpty {
      let number = scalars.prefix { ("0"..."9").contains($0) || $0 == "." }
      guard !number.isEmpty, String(number) != ".", let value = Double(String(number)) else { throw .invalid(text) }
      scalars = scalars.dropFirst(number.count)
      let unit = String(scalars.prefix { !("0"..."9").contains($0) && $0 != "." })
      scalars = scalars.dropFirst(unit.unicodeScalars.count)
      guard let scale = Self.unitNanoseconds[unit] else {
        throw unit.isEmpty ? .missingUnit(text) : .unknownUnit(unit, in: text)
      }
      total += value * scale
    }
    guard total <= Double(Int64.max) else { throw .overflow(text) }
    self.nanoseconds = negative ? -Int64(total.rounded()) : Int64(total.rounded())
  }

  public init?(argument: String) {
    try? self.init(parsing: argument)
  }

  private static let unitNanoseconds: [String: Double] = [
    "ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9,
  ]

  /// Go's `Duration.String()`: `1h30m0s`, `8s`, `1.5s`, `500ms`, `0s`.
  public var description: String {
    if nanoseconds == 0 { return "0s" }
    let sign = nanoseconds < 0 ? "-" : ""
    let magnitude = nanoseconds.magnitude
    if magnitude < 1_000_000_000 {
      let (unit, scale): (String, UInt64) =
        magnitude < 1_000 ? ("ns", 1) : magnitude < 1_000_000 ? ("µs", 1_000) : ("ms", 1_000_000)
      return sign + Self.decimal(magnitude, scale: scale) + unit
    }
    let hours = magnitude / 3_600_000_000_000
    let minutes = magnitude / 60_000_000_000 % 60
    let seconds = magnitude % 60_000_000_000
    var text = sign
    if hours > 0 { text += "\(hours)h" }
    if hours > 0 || minutes > 0 { text += "\(minutes)m" }
    return text + Self.decimal(seconds, scale: 1_000_000_000) + "s"
  }

  private static func decimal(_ value: UInt64, scale: UInt64) -> String {
    let whole = value / scale
    var fraction = String(value % scale)
    if value % scale == 0 { return "\(whole)" }
    let width = String(scale).count - 1
    fraction = String(repeating: "0", count: width - fraction.count) + fraction
    while fraction.hasSuffix("0") { fraction.removeLast() }
    return "\(whole).\(fraction)"
  }

  public static func < (lhs: Self, rhs: Self) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

  public var defaultValueDescription: String { description }
}

/// Why a duration did not parse.
public struct GoDurationError: Error, Hashable, Sendable, CustomStringConvertible {
  public let message: String
  public var description: String { message }

  static func invalid(_ text: String) -> Self { .init(message: "invalid duration \"\(text)\"") }
  static func missingUnit(_ text: String) -> Self {
    .init(message: "missing unit in duration \"\(text)\" (use ns, us, ms, s, m or h)")
  }
  static func unknownUnit(_ unit: String, in text: String) -> Self {
    .init(message: "unknown unit \"\(unit)\" in duration \"\(text)\" (use ns, us, ms, s, m or h)")
  }
  static func overflow(_ text: String) -> Self { .init(message: "duration \"\(text)\" is too large") }
}
