import ArgumentParser
import ControlPlaneKit
import Placement

@main
struct PlacementCommand: AsyncParsableCommand {
  static let configuration = PlacementServer.commandConfiguration

  @OptionGroup var options: PlacementOptions

  func run() async throws {
    try await PlacementServer.run(options: options)
  }

  /// Accepts Go's flag syntax (`-port 1`, `--enable-metrics=false`) as Dapr's `placement` does.
  static func main() async {
    ControlPlaneProcess.runTasksOnEventLoops()
    await main(
      GoFlagSyntax.normalize(Array(CommandLine.arguments.dropFirst()), booleanFlags: PlacementOptions.booleanFlags))
  }
}
