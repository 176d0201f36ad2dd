import ControlPlaneKit
import Testing

@Suite struct SentryTokenTests {
  @Test(
    "The token file is DAPR_SENTRY_TOKEN_FILE, else Dapr's projected token, else the pod's own token",
    arguments: [
      (["DAPR_SENTRY_TOKEN_FILE": "/tmp/token"], [SentryToken.projectedPath], "/tmp/token"),
      (["DAPR_SENTRY_TOKEN_FILE": ""], [SentryToken.legacyPath], SentryToken.legacyPath),
      ([:], [SentryToken.projectedPath, SentryToken.legacyPath], SentryToken.projectedPath),
      ([:], [SentryToken.legacyPath], SentryToken.legacyPath),
      // Neither exists: the projected path, so the error names the file the chart mounts.
      ([:], [], SentryToken.projectedPath),
    ] as [([String: String], Set<String>, String)])
  func file(environment: [String: String], existing: Set<String>, expected: String) {
    #expect(SentryToken.file(environment: environment, fileExists: { existing.contains($0) }) == expected)
  }
}
