import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// One reading of this process' resource use, from `/proc/self/stat`, `/proc/stat` and `/proc/self/fd`.
struct ProcessSample: Hashable, Sendable {
  var cpuSeconds: Double
  var residentBytes: Int
  var virtualBytes: Int
  var startTimeSeconds: Double
  var openFileDescriptors: Int
  var maximumFileDescriptors: Int

  /// The fields of `/proc/<pid>/stat` that the metrics use.
  struct Stat: Hashable, Sendable {
    var userTicks: Int
    var systemTicks: Int
    var startTicksSinceBoot: Int
    var virtualBytes: Int
    var residentPages: Int
  }

  /// Parses a `/proc/<pid>/stat` line. The command name sits in parentheses and may itself contain spaces and
  /// parentheses, so fields are counted from the last `)`.
  static func parseStat(_ line: String) -> Stat? {
    guard let close = line.lastIndex(of: ")") else { return nil }
    let fields = line[line.index(after: close)...].split(separator: " ")
    // fields[0] is field 3 (state) of proc(5).
    guard fields.count >= 22,
      let user = Int(fields[11]), let system = Int(fields[12]), let start = Int(fields[19]),
      let virtual = Int(fields[20]), let resident = Int(fields[21])
    else { return nil }
    return Stat(
      userTicks: user, systemTicks: system, startTicksSinceBoot: start, virtualBytes: virtual,
      residentPages: resident)
  }

  /// The `btime` (boot time, seconds since the epoch) line of `/proc/stat`.
  static func parseBootTime(_ procStat: String) -> Int? {
    for line in procStat.split(separator: "\n") where line.hasPrefix("btime ") {
      return Int(line.dropFirst("btime ".count).trimmingWhitespace)
    }
    return nil
  }

  static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

  /// This process's resident memory alone (the heap check reads it every few seconds; the rest is not needed).
  static func currentResidentBytes() -> Int? {
    guard let statLine = ProcFile.contents(of: "/proc/self/stat"),
      let stat = parseStat(statLine)
    else { return nil }
    return stat.residentPages * pageSize
  }

  static func readCurrent() -> ProcessSample? {
    guard let statLine = ProcFile.contents(of: "/proc/self/stat"),
      let stat = parseStat(statLine),
      let procStat = ProcFile.contents(of: "/proc/stat"),
      let bootTime = parseBootTime(procStat)
    else { return nil }
    let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
    let openFileDescriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
    var limit = rlimit()
    let maximum = getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Int(limit.rlim_cur) : 0
    return ProcessSample(
      cpuSeconds: Double(stat.userTicks + stat.systemTicks) / ticksPerSecond,
      residentBytes: stat.residentPages * pageSize,
      virtualBytes: stat.virtualBytes,
      startTimeSeconds: Double(bootTime) + Double(stat.startTicksSinceBoot) / ticksPerSecond,
      openFileDescriptors: openFileDescriptors,
      maximumFileDescriptors: maximum)
  }
}
