import CMalloc
import Logging
import NIOPosix
import ServiceLifecycle

/// When to give the heap's free memory back to the system.
///
/// glibc keeps what a process frees inside its arenas, so after a burst (sidecars reconnecting at once, a thousand TLS
/// handshakes) a control-plane process would otherwise keep its peak size for good (`BENCHMARKS.md` has sentry's
/// figures after 3,000 one-request TLS connections, before and after a trim). Giving them back costs a walk
/// over the free chunks and, if they are needed again, page faults; so it is done only when enough has been freed
/// since the last time, judged from two readings taken at each check:
/// - the allocator's free bytes have risen by `threshold` above their lowest since the last trim (memory was
///   allocated, so made resident, and freed again), or
/// - the process has grown by `threshold` since the last trim while at least `threshold` is free (free pages that
///   had been given back were used and freed between two checks).
/// Either way at least `threshold` must be free, so a process that grows without freeing is left alone.
public struct HeapTrimPolicy: Sendable, Equatable {
  public let threshold: Int
  private var lowestFreeSinceTrim = 0
  private var residentAfterTrim = 0

  public init(threshold: Int = 8 << 20) {
    self.threshold = threshold
  }

  /// Takes one reading; true when the free memory should be given back now.
  public mutating func observe(freeBytes: Int, residentBytes: Int) -> Bool {
    lowestFreeSinceTrim = min(lowestFreeSinceTrim, freeBytes)
    guard freeBytes >= threshold else { return false }
    return freeBytes - lowestFreeSinceTrim >= threshold || residentBytes - residentAfterTrim >= threshold
  }

  /// Records the readings right after a trim, the baseline for the next decision.
  public mutating func trimmed(freeBytes: Int, residentBytes: Int) {
    lowestFreeSinceTrim = freeBytes
    residentAfterTrim = residentBytes
  }
}

/// The process's heap as the trimming service sees it; `SystemHeap` in production, a fake in tests.
public protocol TrimmableHeap: Sendable {
  /// Bytes the allocator holds free.
  func freeBytes() -> Int
  /// The process's resident memory.
  func residentBytes() -> Int
  /// Gives the allocator's free pages back to the system.
  func returnFreeMemory()
}

/// The C allocator of this process (glibc; elsewhere it reports nothing free and is never trimmed).
public struct SystemHeap: TrimmableHeap {
  public init() {}

  public func freeBytes() -> Int { Int(cmalloc_free_bytes()) }

  public func residentBytes() -> Int { ProcessSample.currentResidentBytes() ?? 0 }

  public func returnFreeMemory() { _ = cmalloc_return_free_memory() }
}

/// Checks the heap every `period` and gives its free memory back when `HeapTrimPolicy` says so; part of every
/// control-plane process. At the first check that finds `readiness` ready, it also gives back the code pages start-up
/// touched (`StartupPageRelease`).
public struct HeapTrimService: Service, CustomStringConvertible {
  let heap: any TrimmableHeap
  let policy: HeapTrimPolicy
  let period: Duration
  let readiness: ReadinessTargets?
  let logger: Logger

  public init(
    heap: any TrimmableHeap = SystemHeap(), policy: HeapTrimPolicy = HeapTrimPolicy(), period: Duration = .seconds(5),
    releasingStartupPagesOnce readiness: ReadinessTargets? = nil, logger: Logger
  ) {
    self.heap = heap
    self.policy = policy
    self.period = period
    self.readiness = readiness
    self.logger = logger
  }

  public var description: String { "HeapTrimService(every \(period), at \(policy.threshold >> 20) MiB freed)" }

  public func run() async throws {
    try await untilShutdown { [self] in
      var policy = self.policy
      var startupPagesPending = readiness != nil
      while true {
        try await Task.sleep(for: period)
        let releaseStartupPages = startupPagesPending && readiness?.isReady == true
        // Reading and trimming the heap walks its free chunks: on NIO's blocking-work pool, not on an event loop.
        policy = try await NIOThreadPool.singleton.runIfActive { [policy] in
          var next = policy
          Self.check(heap, policy: &next, logger: logger)
          if releaseStartupPages { Self.releaseStartupPages(heap, logger: logger) }
          return next
        }
        if releaseStartupPages { startupPagesPending = false }
      }
    }
  }

  /// Gives back the read-only file pages start-up touched, once the process is ready.
  static func releaseStartupPages(_ heap: any TrimmableHeap, logger: Logger) {
    let before = heap.residentBytes()
    let outcome = StartupPageRelease.releaseCurrentProcess()
    logger.debug(
      "Gave the code pages touched during start-up back to the system",
      metadata: [
        "mappings": "\(outcome.mappings)", "released": "\(outcome.releasedKiB >> 10) MiB",
        "resident-before": "\(before >> 20) MiB", "resident-after": "\(heap.residentBytes() >> 20) MiB",
      ])
  }

  /// One check: reads the heap and gives its free memory back if the policy says so. Returns whether it did.
  @discardableResult
  public static func check(_ heap: any TrimmableHeap, policy: inout HeapTrimPolicy, logger: Logger) -> Bool {
    let before = heap.residentBytes()
    let free = heap.freeBytes()
    guard policy.observe(freeBytes: free, residentBytes: before) else { return false }
    let started = ContinuousClock.now
    heap.returnFreeMemory()
    let took = ContinuousClock.now - started
    let after = heap.residentBytes()
    policy.trimmed(freeBytes: heap.freeBytes(), residentBytes: after)
    logger.debug(
      "Gave freed heap memory back to the system",
      metadata: [
        "free": "\(free >> 20) MiB", "resident-before": "\(before >> 20) MiB", "resident-after": "\(after >> 20) MiB",
        "took": "\(took)",
      ])
    return true
  }
}
