import ControlPlaneKit
import Logging
import Synchronization
import Testing

@Suite struct HeapTrimmingTests {
  static let mebibyte = 1 << 20

  /// A reading of the heap (free MiB, resident MiB) and whether the policy trims on it.
  struct Step: Sendable, CustomTestStringConvertible {
    var free: Int
    var resident: Int
    var trims: Bool
    var testDescription: String { "free \(free) MiB, resident \(resident) MiB -> \(trims ? "trim" : "keep")" }
  }

  @Test(
    "The policy trims only after enough memory was freed or used again since the last trim",
    arguments: [
      // Start-up left little free: nothing to give back.
      ("a process with little free memory is left alone", [Step(free: 2, resident: 40, trims: false)]),
      ("the first reading with enough free memory trims", [Step(free: 20, resident: 60, trims: true)]),
      // After a trim the free chunks are still free in the allocator's books; the same readings do not trim again.
      (
        "readings unchanged since a trim do not trim again",
        [Step(free: 20, resident: 60, trims: true), Step(free: 20, resident: 45, trims: false)]
      ),
      // A burst frees 30 MiB more than the lowest point since the trim.
      (
        "memory freed after a trim trims again",
        [
          Step(free: 20, resident: 60, trims: true), Step(free: 5, resident: 50, trims: false),
          Step(free: 40, resident: 80, trims: true),
        ]
      ),
      // Free pages given back were used and freed between two checks: free looks the same, the process grew.
      (
        "growth since a trim with enough free trims again",
        [Step(free: 20, resident: 45, trims: true), Step(free: 20, resident: 75, trims: true)]
      ),
      // Live growth with little free: nothing to give back, however big the process gets.
      (
        "a process that only grows is never trimmed",
        [
          Step(free: 1, resident: 40, trims: false), Step(free: 2, resident: 200, trims: false),
          Step(free: 3, resident: 900, trims: false),
        ]
      ),
      (
        "less than the threshold freed since the last trim does not trim",
        [Step(free: 10, resident: 50, trims: true), Step(free: 15, resident: 52, trims: false)]
      ),
    ])
  func policyDecisions(situation: String, steps: [Step]) {
    let heap = FakeHeap()
    var policy = HeapTrimPolicy(threshold: 8 * Self.mebibyte)
    for (index, step) in steps.enumerated() {
      heap.set(free: step.free * Self.mebibyte, resident: step.resident * Self.mebibyte)
      let trimmed = HeapTrimService.check(heap, policy: &policy, logger: Logger(label: "test"))
      #expect(trimmed == step.trims, "\(situation): step \(index + 1), \(step.testDescription)")
    }
    #expect(heap.trims == steps.filter(\.trims).count)
  }

  @Test func freedMemoryBetweenLiveBlocksGoesBackToTheSystem() {
    let heap = SystemHeap()
    // 48 MiB in 64 KiB blocks (below glibc's mmap threshold), then every other one freed: 24 MiB free between live
    // blocks, as a burst of connections leaves it, which free() does not give back by itself.
    let blocks = (0..<768).map { _ in
      let block = UnsafeMutableRawPointer.allocate(byteCount: 64 << 10, alignment: 16)
      block.initializeMemory(as: UInt8.self, repeating: 1, count: 64 << 10)
      return block
    }
    defer { for block in blocks.enumerated() where block.offset % 2 == 1 { block.element.deallocate() } }
    for block in blocks.enumerated() where block.offset % 2 == 0 { block.element.deallocate() }
    #expect(heap.freeBytes() >= 20 * Self.mebibyte)

    let before = heap.residentBytes()
    var policy = HeapTrimPolicy(threshold: 8 * Self.mebibyte)
    #expect(HeapTrimService.check(heap, policy: &policy, logger: Logger(label: "test")))
    let after = heap.residentBytes()
    // Other suites allocate while this runs; half of what was freed is a safe margin.
    #expect(before - after >= 12 * Self.mebibyte, "resident \(before >> 20) MiB -> \(after >> 20) MiB")
  }
}

/// A heap whose readings the test sets, counting trims.
final class FakeHeap: TrimmableHeap {
  private let state = Mutex((free: 0, resident: 0, trims: 0))

  func set(free: Int, resident: Int) {
    state.withLock {
      $0.free = free; $0.resident = resident
    }
  }
  var trims: Int { state.withLock { $0.trims } }

  func freeBytes() -> Int { state.withLock { $0.free } }
  func residentBytes() -> Int { state.withLock { $0.resident } }
  func returnFreeMemory() { state.withLock { $0.trims += 1 } }
}
