import Testing

@testable import ControlPlaneKit

@Suite struct ProcessSampleTests {
  @Test func theStatLineIsReadFromAfterTheCommandNameEvenWhenItHoldsSpacesAndParentheses() throws {
    let line =
      "4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 2000 0 0 0 150 50 0 0 20 0 8 0 123456 567890123 4321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"
    let stat = try #require(ProcessSample.parseStat(line))
    #expect(stat.userTicks == 150)
    #expect(stat.systemTicks == 50)
    #expect(stat.startTicksSinceBoot == 123_456)
    #expect(stat.virtualBytes == 567_890_123)
    #expect(stat.residentPages == 4321)
  }

  @Test func aTruncatedStatLineIsRejected() {
    #expect(ProcessSample.parseStat("4242 (x) S 1 2 3") == nil)
  }

  @Test func theBootTimeIsTheBtimeLine() {
    #expect(ProcessSample.parseBootTime("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n") == 1_700_000_000)
    #expect(ProcessSample.parseBootTime("cpu 1 2 3\n") == nil)
  }

  @Test func thisProcessCanBeSampled() throws {
    let sample = try #require(ProcessSample.readCurrent())
    #expect(sample.residentBytes > 0)
    #expect(sample.openFileDescriptors > 0)
    #expect(sample.maximumFileDescriptors > 0)
    #expect(sample.startTimeSeconds > 1_600_000_000)
  }
}
