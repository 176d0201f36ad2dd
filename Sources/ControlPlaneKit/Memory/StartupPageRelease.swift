#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// One mapping of the process's address space, as `/proc/self/smaps` describes it.
public struct MemoryMapping: Sendable, Equatable {
  public var start: UInt
  public var end: UInt
  /// `r-xp`, `r--p`, `rw-p`, ...
  public var permissions: String
  /// The mapped file, or a pseudo-name such as `[stack]`, or empty for anonymous memory.
  public var path: String
  public var residentKiB: Int
  /// Pages of the mapping that are anonymous: for a file mapping, pages copied on write (relocations, RELRO).
  public var anonymousKiB: Int

  public init(start: UInt, end: UInt, permissions: String, path: String, residentKiB: Int, anonymousKiB: Int) {
    self.start = start
    self.end = end
    self.permissions = permissions
    self.path = path
    self.residentKiB = residentKiB
    self.anonymousKiB = anonymousKiB
  }

  /// True for resident pages that the kernel can drop and read back from their file unchanged: a read-only mapping of
  /// a file with no page copied on write. Giving them back loses nothing; touching them again is a minor fault while
  /// they stay in the page cache.
  public var isReleasableFilePages: Bool {
    path.hasPrefix("/") && permissions.hasPrefix("r") && !permissions.contains("w") && anonymousKiB == 0
      && residentKiB > 0
  }
}

/// Gives back the pages of code and read-only data that start-up touched once and idling does not.
///
/// A control-plane process pages in far more of its binary and of the Swift runtime and Foundation while it parses
/// flags, loads credentials and builds its servers than it runs afterwards: sentry idled at 41 MiB resident, 38 MiB
/// of it file-backed pages of code, most never used again. The kernel keeps such clean pages mapped until memory runs
/// short, and a pod's resident memory (what `ps`, `process_resident_memory_bytes` and memory-limit sizing see)
/// includes them. Once the process is ready, the read-only file mappings are dropped from its page tables
/// (`madvise(MADV_DONTNEED)`, which for such pages is the same as the kernel reclaiming them); what the process then
/// runs is faulted back from the page cache, so its resident size follows its working set. Writable mappings and
/// file mappings holding a copied-on-write page are never touched.
public enum StartupPageRelease {
  /// Parses `/proc/<pid>/smaps`: one header line per mapping, then `Key: value kB` lines.
  public static func parseSmaps(_ text: String) -> [MemoryMapping] {
    var mappings: [MemoryMapping] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
      if let mapping = parseHeader(line) {
        mappings.append(mapping)
      } else if !mappings.isEmpty, let (key, kib) = parseSize(line) {
        switch key {
        case "Rss": mappings[mappings.count - 1].residentKiB = kib
        case "Anonymous": mappings[mappings.count - 1].anonymousKiB = kib
        default: break
        }
      }
    }
    return mappings
  }

  /// `start-end perms offset dev inode [path]`; nil for any other line.
  static func parseHeader(_ line: Substring) -> MemoryMapping? {
    let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
    guard fields.count >= 5, fields[1].count == 4 else { return nil }
    let bounds = fields[0].split(separator: "-")
    guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), start < end
    else { return nil }
    let path = fields.count == 6 ? String(fields[5].trimmingWhitespace) : ""
    return MemoryMapping(
      start: start, end: end, permissions: String(fields[1]), path: path, residentKiB: 0, anonymousKiB: 0)
  }

  /// `Rss:   8 kB` -> ("Rss", 8).
  static func parseSize(_ line: Substring) -> (Substring, Int)? {
    guard let colon = line.firstIndex(of: ":") else { return nil }
    let value = line[line.index(after: colon)...].trimmingWhitespace
    guard value.hasSuffix(" kB"), let kib = Int(value.dropLast(3).trimmingWhitespace) else { return nil }
    return (line[..<colon], kib)
  }

  /// What a release did.
  public struct Outcome: Sendable, Equatable {
    /// Mappings given back.
    public var mappings: Int
    /// Their resident size just before.
    public var releasedKiB: Int
  }

  /// Drops this process's resident read-only file pages (see the type's description). Linux only; elsewhere, or when
  /// `/proc/self/smaps` cannot be read, nothing is done.
  @discardableResult
  public static func releaseCurrentProcess() -> Outcome {
    #if os(Linux)
      guard let text = ProcFile.contents(of: "/proc/self/smaps") else { return Outcome(mappings: 0, releasedKiB: 0) }
      var outcome = Outcome(mappings: 0, releasedKiB: 0)
      for mapping in parseSmaps(text) where mapping.isReleasableFilePages {
        guard let address = UnsafeMutableRawPointer(bitPattern: mapping.start),
          madvise(address, Int(mapping.end - mapping.start), MADV_DONTNEED) == 0
        else { continue }
        outcome.mappings += 1
        outcome.releasedKiB += mapping.residentKiB
      }
      return outcome
    #else
      return Outcome(mappings: 0, releasedKiB: 0)
    #endif
  }
}
