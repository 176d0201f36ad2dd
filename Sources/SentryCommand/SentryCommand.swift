import ArgumentParser
import ControlPlaneKit
import Sentry

@main
struct SentryCommand: AsyncParsableCommand {
  static let configuration: CommandConfiguration = {
    var configuration = SentryServer.commandConfiguration
    configuration.subcommands = [SentryCACommand.self]
    return configuration
  }()

  @OptionGroup var options: SentryOptions

  func run() async throws {
    try await SentryServer.run(options: options)
  }

  /// Accepts Go's flag syntax (`-port 1`, `--enable-metrics=false`) as Dapr's `sentry` does.
  static func main() async {
    ControlPlaneProcess.runTasksOnEventLoops()
    await main(
      GoFlagSyntax.normalize(Array(CommandLine.arguments.dropFirst()), booleanFlags: SentryOptions.booleanFlags))
  }
}
