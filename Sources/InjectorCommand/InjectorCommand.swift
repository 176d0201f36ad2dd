import ArgumentParser
import ControlPlaneKit
import Injector

@main
struct InjectorCommand: AsyncParsableCommand {
  static let configuration: CommandConfiguration = {
    var configuration = InjectorServer.commandConfiguration
    configuration.subcommands = [InjectCommand.self]
    return configuration
  }()

  @OptionGroup var options: InjectorOptions

  func run() async throws {
    try await InjectorServer.run(options: options)
  }

  /// Accepts Go's flag syntax (`-port 1`, `--enable-metrics=false`) as Dapr's `injector` does.
  static func main() async {
    ControlPlaneProcess.runTasksOnEventLoops()
    await main(
      GoFlagSyntax.normalize(Array(CommandLine.arguments.dropFirst()), booleanFlags: InjectorOptions.booleanFlags))
  }
}
