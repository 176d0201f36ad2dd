import Foundation

/// A command-line tool a test runs to completion (kubectl, Helm through the project's Python scripts, promtool,
/// openssl), with its output captured. A tool that is not installed fails the test with a message saying how to get
/// it, instead of crashing the runner.
public struct ExternalTool: Sendable {
  /// What a finished run printed.
  public struct Output: Sendable {
    public let status: Int32
    public let standardOutput: String
    public let standardError: String
    public var succeeded: Bool { status == 0 }
  }

  /// The failure of a run that had to succeed, or of a tool that is missing.
  public struct Failure: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
  }

  public let executable: String
  public let arguments: [String]

  /// `executable` is a path, or a name looked up on `PATH`.
  public init(_ executable: String, _ arguments: [String] = []) {
    self.executable = executable
    self.arguments = arguments
  }

  /// The project's Python with its test tools (helm-python-sdk, kubernetes-validate, PyJWT, grpcio):
  /// `.venv-tools/bin/python`, made by `scripts/install-prerequisites.sh`.
  public static func projectPython(_ arguments: [String]) -> ExternalTool {
    ExternalTool(LocalKubernetes.repositoryRoot.appendingPathComponent(".venv-tools/bin/python").path, arguments)
  }

  /// Runs the tool with `input` on stdin and waits for it.
  public func run(input: String? = nil, environment: [String: String] = [:]) throws -> Output {
    let process = Process()
    if executable.contains("/") {
      guard FileManager.default.isExecutableFile(atPath: executable) else {
        throw Failure(description: "\(executable) is missing: run scripts/install-prerequisites.sh first")
      }
      process.executableURL = URL(fileURLWithPath: executable)
      process.arguments = arguments
    } else {
      process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      process.arguments = [executable] + arguments
    }
    process.currentDirectoryURL = LocalKubernetes.repositoryRoot
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    let output = Pipe()
    let errors = Pipe()
    let stdin = Pipe()
    process.standardOutput = output
    process.standardError = errors
    process.standardInput = stdin
    try SpawnThread.shared.run { try process.run() }
    // Both pipes are drained on their own threads, so a tool that fills one while the other is read never blocks.
    let collected = CapturedText()
    let reader = Thread {
      collected.append(String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }
    reader.start()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    let standardOutput = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    while !reader.isFinished { usleep(1000) }
    if process.terminationReason == .exit, process.terminationStatus == 127, !executable.contains("/") {
      throw Failure(description: "\(executable) is not installed (see scripts/install-prerequisites.sh)")
    }
    return Output(status: process.terminationStatus, standardOutput: standardOutput, standardError: collected.text)
  }

  /// ``run(input:environment:)`` on a thread of its own, so that the caller's cooperative thread (one of few) stays
  /// free for the rest of the test process while the tool starts and runs.
  public func running(input: String? = nil, environment: [String: String] = [:]) async throws -> Output {
    try await withCheckedThrowingContinuation { continuation in
      Thread { continuation.resume(with: Result { try self.run(input: input, environment: environment) }) }.start()
    }
  }

  /// ``succeeding(input:environment:)`` on a thread of its own (see ``running(input:environment:)``).
  @discardableResult
  public func succeedingInBackground(input: String? = nil, environment: [String: String] = [:]) async throws -> String {
    try await withCheckedThrowingContinuation { continuation in
      Thread {
        continuation.resume(with: Result { try self.succeeding(input: input, environment: environment) })
      }.start()
    }
  }

  /// Runs the tool and returns its stdout; a non-zero exit throws with what it printed.
  @discardableResult
  public func succeeding(input: String? = nil, environment: [String: String] = [:]) throws -> String {
    let output = try run(input: input, environment: environment)
    guard output.succeeded else {
      throw Failure(
        description:
          "\(([executable] + arguments).joined(separator: " ")) exited with \(output.status):\n"
          + output.standardError + output.standardOutput)
    }
    return output.standardOutput
  }
}
