import Testing

@testable import LocalControlPlane

@Suite struct LocalPortsTests {
  @Test func portsComeFromBelowTheEphemeralRangeAndNoneIsGivenTwice() {
    let ephemeralStart = LocalPortPicker.ephemeralRangeStart()
    let ports = (0..<200).map { _ in freeLocalPort() }
    #expect(Set(ports).count == ports.count)
    #expect(ports.allSatisfy { (20_000..<ephemeralStart).contains($0) }, "\(ports)")
  }

  @Test func aTakenPortIsSkippedAndWithNoneLeftTheKernelPicksOne() {
    let taken = ClosedLocalPort()
    defer { taken.release() }
    let picker = LocalPortPicker(range: taken.port..<(taken.port + 1))
    let picked = picker.next()
    #expect(picked != taken.port)
    #expect(picked > 0)
  }

  @Test func aPortOnceGivenIsNotGivenAgainEvenWhenItIsFreeAgain() {
    let port = freeLocalPort()
    let picker = LocalPortPicker(range: port..<(port + 1))
    #expect(picker.next() == port)
    #expect(picker.next() != port)
  }
}
