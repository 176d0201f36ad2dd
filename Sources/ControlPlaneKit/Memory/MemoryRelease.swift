import Foundation

/// Why this folder exists: the control plane's processes run for months beside every node's workloads, so what they
/// keep resident is what users pay for. Two measures give memory back that glibc and the kernel would otherwise
/// keep, both off the request path:
///
/// - ``HeapTrimService`` returns the heap's free pages after a burst (sidecars reconnecting at once); glibc keeps a
///   process at its peak size otherwise.
/// - ``StartupPageRelease`` drops, once a process is ready, the pages of code only start-up ran.
///
/// Both read and call glibc through `CMalloc` (heap statistics and `malloc_trim`, which Swift's Glibc module does not
/// export) and `/proc` through ``ProcFile``. `BENCHMARKS.md` has the measurements.
///
/// One switch turns both off, to rule them out when chasing a problem: `CONTROL_PLANE_MEMORY_RELEASE=off` in a
/// process's environment (the chart's `extraEnvVars` sets it per service).
public enum MemoryRelease {
  /// The environment variable that turns memory release off (`off`, `false` or `0`).
  public static let switchVariable = "CONTROL_PLANE_MEMORY_RELEASE"

  /// Whether memory release is on for a process with this environment (on unless switched off).
  public static func isEnabled(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
    guard let value = environment[switchVariable]?.lowercased() else { return true }
    return !["off", "false", "0"].contains(value)
  }
}
