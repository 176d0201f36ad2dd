import ServiceLifecycle
import Testing

@testable import ControlPlaneKit

/// A service that ignores cancellation until the test lets it go: the kind of task that keeps a stopped process
/// alive.
struct Stubborn: Service {
  let started: AsyncStream<Void>.Continuation
  let release: AsyncStream<Void>

  func run() async throws {
    started.yield()
    for await _ in release { return }
  }
}

@Suite(.timeLimit(.minutes(1)))
struct ShutdownDeadlineTests {
  @Test func aServiceThatIgnoresCancellationIsNamedUntilItReturns() async throws {
    let unstopped = UnstoppedServices()
    let (started, didStart) = AsyncStream.makeStream(of: Void.self)
    let (release, letGo) = AsyncStream.makeStream(of: Void.self)
    let service = unstopped.tracking(Stubborn(started: didStart, release: release))
    #expect(unstopped.names.isEmpty)

    let task = Task { try await service.run() }
    for await _ in started { break }
    #expect(unstopped.names == ["Stubborn"])
    task.cancel()
    #expect(unstopped.names == ["Stubborn"])

    letGo.yield()
    try await task.value
    #expect(unstopped.names.isEmpty)
  }

  @Test(arguments: [
    ([], "The process did not stop within 15.0 seconds of being asked to; exiting"),
    (
      ["PlacementHub", "Stubborn"],
      "The process did not stop within 15.0 seconds of being asked to (still running: PlacementHub, Stubborn); exiting"
    ),
  ])
  func theDeadlinesLineNamesWhatStillRuns(unstopped: [String], line: String) {
    #expect(ShutdownDeadline.message(limit: .seconds(15), unstopped: unstopped) == line)
  }
}
