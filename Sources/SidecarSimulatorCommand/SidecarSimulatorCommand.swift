import ArgumentParser
import ControlPlaneKit
import SidecarSimulator

@main
struct SidecarSimulatorCommand: AsyncParsableCommand {
  static let configuration = SidecarSimulatorProcess.commandConfiguration

  @OptionGroup var options: SimulatorOptions

  func run() async throws {
    try await SidecarSimulatorProcess.run(options: options)
  }

  static func main() async {
    ControlPlaneProcess.runTasksOnEventLoops()
    await main(
      GoFlagSyntax.normalize(Array(CommandLine.arguments.dropFirst()), booleanFlags: SimulatorOptions.booleanFlags))
  }
}
