import ControlPlaneKit
import Foundation
import Testing

@Suite struct ProcFileTests {
  @Test("A /proc file is read to its end, past the first read that Foundation stops at")
  func readsProcFilesToTheEnd() throws {
    let smaps = try #require(ProcFile.contents(of: "/proc/self/smaps"))
    let foundation = try String(contentsOfFile: "/proc/self/smaps", encoding: .utf8)
    #expect(smaps.utf8.count > foundation.utf8.count)
    // The highest mappings (the stack, the vDSO) come last.
    #expect(smaps.contains("[stack]"))
    #expect(smaps.contains("[vdso]"))
  }

  @Test("An ordinary file is read whole and a missing one is nil")
  func readsOrdinaryFiles() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("proc-file-\(UUID().uuidString)").path
    let text = String(repeating: "sentry placement operator injector\n", count: 2_000)
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    #expect(ProcFile.contents(of: path) == text)
    #expect(ProcFile.contents(of: path + ".missing") == nil)
  }
}
