import Foundation
import Synchronization

/// One of this package's executables, started for a test, with its output captured.
public final class ChildProcess: Sendable {
  /// The folder holding the built executables: next to the test bundle, or `DAPR_BINARIES_DIR`.
  public static var binariesDirectory: URL {
    if let override = ProcessInfo.processInfo.environment["DAPR_BINARIES_DIR"] {
      return URL(fileURLWithPath: override)
    }
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    // The test runner may be inside a `.xctest` bundle folder.
    while url.pathExtension == "xctest" || url.lastPathComponent == "Contents" || url.lastPathComponent == "MacOS" {
      url.deleteLastPathComponent()
    }
    return url
  }

  static let setpriv = "/usr/bin/setpriv"

  private let process: Process
  private let output = CapturedText()
  private let exited = Signal<Int32>()
  private let drained = Signal<Void>()

  /// Starts `name` (an executable of this package) with `arguments`, in this process's environment plus
  /// `environment`.
  public convenience init(
    _ name: String, arguments: [String], environment: [String: String] = [:], logFile: URL? = nil
  ) throws {
    try self.init(
      executable: Self.binariesDirectory.appendingPathComponent(name), arguments: arguments,
      environment: ProcessInfo.processInfo.environment.merging(environment) { _, new in new }, logFile: logFile)
  }

  /// Starts `executable` with exactly `environment`. The kernel stops it (SIGTERM) when this process dies, even
  /// by a crash: it is started through util-linux's `setpriv --pdeathsig`, which then becomes it. With `logFile`,
  /// the output is also written there as it comes (created or emptied first), for `tail -f` while it runs.
  public init(
    executable: URL, arguments: [String], environment: [String: String], currentDirectory: URL? = nil,
    logFile: URL? = nil
  ) throws {
    let log: FileHandle?
    if let logFile {
      guard FileManager.default.createFile(atPath: logFile.path, contents: nil) else {
        throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: logFile.path])
      }
      log = try FileHandle(forWritingTo: logFile)
    } else {
      log = nil
    }
    let process = Process()
    if FileManager.default.isExecutableFile(atPath: Self.setpriv) {
      process.executableURL = URL(fileURLWithPath: Self.setpriv)
      process.arguments = ["--pdeathsig", "TERM", "--", executable.path] + arguments
    } else {
      process.executableURL = executable
      process.arguments = arguments
    }
    process.environment = environment
    if let currentDirectory { process.currentDirectoryURL = currentDirectory }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    self.process = process
    let output = self.output
    let drained = self.drained
    // A plain thread reading until end of file: Foundation's `readabilityHandler` on Linux rides a dispatch
    // source that can crash when the pipe closes, and it gives no end-of-file event to wait on.
    let reader = pipe.fileHandleForReading
    Thread.detachNewThread {
      while true {
        let data = reader.availableData
        if data.isEmpty { break }
        output.append(String(decoding: data, as: UTF8.self))
        try? log?.write(contentsOf: data)
      }
      try? log?.close()
      drained.fire(())
    }
    let exited = self.exited
    process.terminationHandler = { process in exited.fire(process.terminationStatus) }
    try SpawnThread.shared.run { try process.run() }
  }

  /// Everything the process wrote to stdout and stderr so far.
  public var capturedOutput: String { output.text }

  /// The process id.
  public var pid: Int32 { process.processIdentifier }

  /// Whether it has not exited yet.
  public var isRunning: Bool { process.isRunning }

  /// Sends `signal` (SIGTERM by default).
  public func signal(_ signal: Int32 = SIGTERM) {
    kill(process.processIdentifier, signal)
  }

  /// Waits for the exit status and for the output pipe to be read to its end, so `capturedOutput` is then complete.
  public func exitStatus() async throws -> Int32 {
    let status = try await exited.value()
    let drained = self.drained
    // A grandchild could hold the pipe open; the process's own output is complete long before this bound.
    await withTaskGroup(of: Void.self) { group in
      group.addTask { _ = try? await drained.value() }
      group.addTask { try? await Task.sleep(for: .seconds(5)) }
      await group.next()
      group.cancelAll()
    }
    return status
  }

  /// Waits (blocking) until the process has exited, sending SIGKILL after `limit`.
  public func waitForExit(within limit: Duration) {
    let deadline = ContinuousClock.now + limit
    while process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
  }

  deinit {
    if process.isRunning { process.terminate() }
  }
}

/// Text appended from one thread and read from another.
final class CapturedText: Sendable {
  private let storage = Mutex<String>("")
  func append(_ text: String) { storage.withLock { $0 += text } }
  var text: String { storage.withLock { $0 } }
}
