import ControlPlaneKit
import ControlPlaneTestSupport
import Foundation
import Logging
import Synchronization
import Testing

/// SVID renewal on a manual clock: half of a one-minute certificate's life, and the 10 s retry after a failure,
/// passed in microseconds of real time.
@Suite struct SVIDRenewalTests {
  static let start = Date(timeIntervalSince1970: 1_800_000_000)

  /// A sentry stand-in: each answer is a fresh one-minute certificate from the clock's present; the attempts listed
  /// in `failing` (counted from 1) fail.
  final class FakeSentry: Sendable {
    let authority: TestCertificateAuthority
    let clock: ManualClock
    let failing: Set<Int>
    let attempts = Mutex<[Duration]>([])

    init(clock: ManualClock, failing: Set<Int>) throws {
      authority = try TestCertificateAuthority(now: SVIDRenewalTests.start - 3600)
      self.clock = clock
      self.failing = failing
    }

    func now() -> Date { SVIDRenewalTests.start + Double(clock.now.offset.components.seconds) }

    func certificate() throws -> TLSIdentity {
      try authority.issue(
        spiffeID: try SPIFFEID(parsing: "spiffe://cluster.local/ns/default/app"), notBefore: now(), validity: 60)
    }

    func fetch() throws -> TLSIdentity {
      let attempt = attempts.withLock { attempts in
        attempts.append(clock.now.offset)
        return attempts.count
      }
      if failing.contains(attempt) { throw SVIDError("sentry is unavailable (attempt \(attempt))") }
      return try certificate()
    }
  }

  @Test func aOneMinuteCertificateIsRenewedAtThirtySecondsAndAFailureIsRetriedTenSecondsLater() async throws {
    let clock = ManualClock()
    let sentry = try FakeSentry(clock: clock, failing: [1])
    let identity = LatestValue(try sentry.certificate())
    let renewal = SVIDRenewal(
      retry: .seconds(10), clock: clock, now: { sentry.now() }, logger: Logger(label: "dapr.test"))
    let running = Task { try await renewal.run(identity, fetch: { try sentry.fetch() }) }
    defer { running.cancel() }

    // (clock advance, the attempts made by then, at these clock readings in seconds)
    let steps: [(advance: Duration, attempts: [Int64])] = [
      (.milliseconds(29_999), []),
      (.milliseconds(1), [30]),  // half of the first certificate's life: fails
      (.milliseconds(9_999), [30]),
      (.milliseconds(1), [30, 40]),  // the retry: a certificate from 40 s to 100 s
      (.milliseconds(29_999), [30, 40]),
      (.milliseconds(1), [30, 40, 70]),  // half of the second certificate's life
    ]
    for (advance, expected) in steps {
      await clock.sleepers(atLeast: 1)
      clock.advance(by: advance)
      await clock.sleepers(atLeast: 1)
      #expect(sentry.attempts.withLock { $0.map(\.components.seconds) } == expected, "after \(clock.now)")
    }
    #expect(identity.current.leaf.notValidBefore == Self.start + 70)
  }
}
