import ArgumentParser
import ControlPlaneKit
import Operator

@main
struct OperatorCommand: AsyncParsableCommand {
  static let configuration = OperatorServer.commandConfiguration

  @OptionGroup var options: OperatorOptions

  func run() async throws {
    try await OperatorServer.run(options: options)
  }

  /// Accepts Go's flag syntax (`-port 1`, `--enable-metrics=false`) as Dapr's `operator` does.
  static func main() async {
    ControlPlaneProcess.runTasksOnEventLoops()
    await main(
      GoFlagSyntax.normalize(Array(CommandLine.arguments.dropFirst()), booleanFlags: OperatorOptions.booleanFlags))
  }
}
