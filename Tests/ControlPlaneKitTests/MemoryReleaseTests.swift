import ControlPlaneKit
import Testing

@Suite struct MemoryReleaseTests {
  @Test(arguments: [
    ([:], true),
    (["CONTROL_PLANE_MEMORY_RELEASE": "off"], false),
    (["CONTROL_PLANE_MEMORY_RELEASE": "OFF"], false),
    (["CONTROL_PLANE_MEMORY_RELEASE": "false"], false),
    (["CONTROL_PLANE_MEMORY_RELEASE": "0"], false),
    (["CONTROL_PLANE_MEMORY_RELEASE": "on"], true),
  ])
  func memoryReleaseIsOnUnlessTheSwitchTurnsItOff(_ environment: [String: String], _ enabled: Bool) {
    #expect(MemoryRelease.isEnabled(environment: environment) == enabled, "\(environment)")
  }
}
