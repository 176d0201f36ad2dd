import Foundation

/// What the runner prints: a line per step with how long it usually takes, a spinner (or dots, when not on a
/// terminal) while it waits, and how long it took.
struct Console: Sendable {
  let interactive = isatty(STDOUT_FILENO) == 1

  func line(_ text: String) {
    print(text)
    fflush(nil)
  }

  func note(_ text: String) { line("note: \(text)") }

  func done(_ text: String) { line("      \(text)") }

  /// Runs `body`, showing `what` with a progress indicator until it ends.
  func step<Result: Sendable>(
    _ what: String, typical: String, _ body: @Sendable () async throws -> Result
  ) async throws -> Result {
    let started = ContinuousClock.now
    let interactive = self.interactive
    if !interactive { line("... \(what) (usually \(typical))") }
    let ticker = Task {
      let frames = ["|", "/", "-", "\\"]
      var frame = 0
      while !Task.isCancelled {
        if interactive {
          let elapsed = Self.seconds(ContinuousClock.now - started)
          print("\r\(frames[frame % frames.count]) \(what) (\(elapsed), usually \(typical))", terminator: "")
          fflush(nil)
        }
        frame += 1
        try? await Task.sleep(for: .milliseconds(interactive ? 150 : 5000))
        if !interactive && !Task.isCancelled { print(".", terminator: ""); fflush(nil) }
      }
    }
    do {
      let result = try await body()
      ticker.cancel()
      finish("ok  ", what, started)
      return result
    } catch {
      ticker.cancel()
      finish("FAIL", what, started)
      throw error
    }
  }

  private func finish(_ mark: String, _ what: String, _ started: ContinuousClock.Instant) {
    let elapsed = Self.seconds(ContinuousClock.now - started)
    if interactive { print("\r\u{1B}[2K", terminator: "") } else { print("") }
    line("\(mark) \(what) (\(elapsed))")
  }

  static func seconds(_ duration: Duration) -> String {
    let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    return String(format: "%.1f s", seconds)
  }

  /// A table with aligned columns.
  func table(_ header: [String], _ rows: [[String]]) {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    for row in all {
      line(row.enumerated().map { $1.padding(toLength: widths[$0] + 2, withPad: " ", startingAt: 0) }.joined())
    }
  }
}

/// Ctrl-C (SIGINT) and SIGTERM, awaited. A handler (not SIG_IGN, which children would inherit through exec) writes
/// a byte to a pipe that a thread of ours waits on; children start with both signals at their defaults.
final class StopSignals: Sendable {
  nonisolated(unsafe) static var descriptors: [Int32] = [-1, -1]

  init() {
    var descriptors: [Int32] = [-1, -1]
    _ = pipe(&descriptors)
    Self.descriptors = descriptors
    for signalNumber in [SIGINT, SIGTERM] {
      signal(signalNumber) { _ in
        var byte: UInt8 = 1
        _ = write(StopSignals.descriptors[1], &byte, 1)
      }
    }
  }

  func wait() async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      Thread.detachNewThread {
        var byte: UInt8 = 0
        _ = read(StopSignals.descriptors[0], &byte, 1)
        continuation.resume()
      }
    }
  }
}
