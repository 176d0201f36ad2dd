import ControlPlaneKit
import Foundation
import Testing

@Suite struct StartupPageReleaseTests {
  static let smaps = """
    5645186ff000-564518e82000 r--p 00000000 fe:00 5431353                    /opt/dapr/sentry
    Size:               7692 kB
    Rss:                1796 kB
    Anonymous:             0 kB
    VmFlags: rd mr mw me
    564518e82000-56451a21a000 r-xp 00782000 fe:00 5431353                    /opt/dapr/sentry
    Size:              20064 kB
    Rss:               12760 kB
    Pss:               12760 kB
    Anonymous:             0 kB
    56451a21a000-56451a2fa000 r--p 01b19000 fe:00 5431353                    /opt/dapr/sentry
    Rss:                 896 kB
    Anonymous:           896 kB
    56451a2fa000-56451a4ea000 rw-p 01bf8000 fe:00 5431353                    /opt/dapr/sentry
    Rss:                1964 kB
    Anonymous:           212 kB
    7f9a3c000000-7f9a3c09c000 rw-p 00000000 00:00 0
    Rss:                 600 kB
    Anonymous:           600 kB
    7f9a40000000-7f9a40010000 r--s 00000000 fe:00 77                         /var/lib/a file with spaces (deleted)
    Rss:                  64 kB
    Anonymous:             0 kB
    7f9a47000000-7f9a475d3000 r-xp 00000000 fe:00 2268                       /usr/lib/swift/linux/libswiftCore.so
    Rss:                   0 kB
    Anonymous:             0 kB
    7ffd1c5f0000-7ffd1c5f2000 r-xp 00000000 00:00 0                          [vdso]
    Rss:                   8 kB
    Anonymous:             0 kB
    """

  @Test("smaps is read as one mapping per header line with its resident and anonymous sizes")
  func parsesSmaps() {
    let mappings = StartupPageRelease.parseSmaps(Self.smaps)
    #expect(mappings.count == 8)
    #expect(
      mappings[1]
        == MemoryMapping(
          start: 0x5645_18e8_2000, end: 0x5645_1a21_a000, permissions: "r-xp", path: "/opt/dapr/sentry",
          residentKiB: 12760, anonymousKiB: 0))
    #expect(mappings[4].path == "")
    #expect(mappings[4].anonymousKiB == 600)
    #expect(mappings[5].path == "/var/lib/a file with spaces (deleted)")
    #expect(mappings[7].path == "[vdso]")
  }

  @Test(
    "Only resident, read-only file pages with nothing copied on write are given back",
    arguments: [
      (0, true, "the binary's read-only data"),
      (1, true, "the binary's code"),
      (2, false, "RELRO: read-only now, but its relocated pages are the process's own copies"),
      (3, false, "writable data"),
      (4, false, "anonymous memory"),
      (5, true, "a read-only shared file mapping"),
      (6, false, "a library with nothing resident"),
      (7, false, "the vDSO"),
    ])
  func releasable(index: Int, expected: Bool, what: String) {
    let mapping = StartupPageRelease.parseSmaps(Self.smaps)[index]
    #expect(mapping.isReleasableFilePages == expected, "\(what)")
  }

  @Test("Lines that are not a mapping header are not taken for one")
  func ignoresOtherLines() {
    let text = """
      VmFlags: rd ex mr mw me
      THPeligible:    0
      Rss:                 896 kB
      not-a-range r-xp 00000000 fe:00 1 /bin/true
      """
    #expect(StartupPageRelease.parseSmaps(text).isEmpty)
  }

  @Test("Releasing this process's code pages lowers its file-backed resident size and it runs on")
  func releasesThisProcess() throws {
    let before = try Self.residentFileKiB()
    let outcome = StartupPageRelease.releaseCurrentProcess()
    let after = try Self.residentFileKiB()
    #expect(outcome.mappings > 0)
    #expect(outcome.releasedKiB > 0)
    #expect(after < before)
    // Code and constants are read back from the files as they are used.
    let text = String(repeating: "dapr", count: 3).uppercased()
    #expect(text == "DAPRDAPRDAPR")
    #expect(StartupPageRelease.parseSmaps(Self.smaps).count == 8)
  }

  static func residentFileKiB() throws -> Int {
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("RssFile:") })
    return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
  }
}
