#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A wall-clock instant with nanosecond precision, as log lines and metrics need it.
public struct WallClockInstant: Hashable, Sendable, Comparable {
  /// Seconds since 1970-01-01T00:00:00Z.
  public var seconds: Int64
  /// Nanoseconds within the second, 0..<1_000_000_000.
  public var nanoseconds: Int32

  public init(seconds: Int64, nanoseconds: Int32) {
    self.seconds = seconds
    self.nanoseconds = nanoseconds
  }

  /// The system's real-time clock now. Call it at the edges and pass instants (or a clock closure) inward.
  public static func now() -> Self {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Self(seconds: Int64(spec.tv_sec), nanoseconds: Int32(spec.tv_nsec))
  }

  public static func < (lhs: Self, rhs: Self) -> Bool {
    (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
  }

  /// RFC 3339 in UTC with all nine fractional digits, for example `2026-11-22T18:10:44.123456789Z`.
  public var rfc3339Nano: String {
    let (year, month, day) = Self.civilDate(daysSinceEpoch: seconds.floorDivided(by: 86_400))
    let secondOfDay = seconds - seconds.floorDivided(by: 86_400) * 86_400
    var text = ""
    text.reserveCapacity(30)
    text += Self.padded(year, 4) + "-" + Self.padded(month, 2) + "-" + Self.padded(day, 2)
    text += "T" + Self.padded(secondOfDay / 3600, 2) + ":" + Self.padded(secondOfDay % 3600 / 60, 2)
    text += ":" + Self.padded(secondOfDay % 60, 2) + "." + Self.padded(Int64(nanoseconds), 9) + "Z"
    return text
  }

  /// Days since the epoch to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
  static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
    let z = daysSinceEpoch + 719_468
    let era = z.floorDivided(by: 146_097)
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthIndex = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
    let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    return (year, month, day)
  }

  private static func padded(_ value: Int64, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
  }
}

extension Int64 {
  fileprivate func floorDivided(by divisor: Int64) -> Int64 {
    let quotient = self / divisor
    return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
  }
}
