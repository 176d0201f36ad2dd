import Foundation

/// The timings of leader election, with client-go's defaults: a 15 s lease, renewed within 10 s, retried every 2 s.
///
/// The renew deadline must be shorter than the lease: a leader that cannot renew steps down before anyone else may
/// take the lease.
public struct LeaderElectionTimings: Sendable, Hashable {
  public var leaseDuration: Duration
  public var renewDeadline: Duration
  public var retryPeriod: Duration

  public init(
    leaseDuration: Duration = .seconds(15), renewDeadline: Duration = .seconds(10), retryPeriod: Duration = .seconds(2)
  ) {
    precondition(renewDeadline < leaseDuration, "the renew deadline must be shorter than the lease duration")
    precondition(retryPeriod < renewDeadline, "the retry period must be shorter than the renew deadline")
    self.leaseDuration = leaseDuration
    self.renewDeadline = renewDeadline
    self.retryPeriod = retryPeriod
  }
}

/// The pure rules of Lease-based leader election, in client-go's terms.
///
/// Expiry is judged by the local clock from when this candidate last *saw the lease change*, never from the
/// `renewTime` written by another machine, so clock skew between machines does not matter.
public struct LeaderElectionStateMachine: Sendable {
  /// What the candidate knows of the lease record.
  struct Observation: Sendable, Equatable {
    var holder: String
    var renewTime: String?
    var leaseDuration: Duration
    /// Local time when this record was first seen.
    var seenAt: Duration
  }

  /// What to do with the lease now.
  public enum Decision: Sendable, Equatable {
    /// Someone else holds an unexpired lease: wait and look again.
    case wait
    /// Write the lease with this candidate as holder (`transition`: the holder changes).
    case claim(transition: Bool)
  }

  public let identity: String
  public let timings: LeaderElectionTimings
  private var observation: Observation?
  /// When the last successful renewal was *sent*, while leading.
  public private(set) var leadingSince: Duration?
  private var lastRenewalSent: Duration?

  public init(identity: String, timings: LeaderElectionTimings) {
    self.identity = identity
    self.timings = timings
  }

  public var isLeader: Bool { leadingSince != nil }

  /// Records a read of the lease (`holder` empty or `nil` when free or missing) and decides.
  public mutating func observe(
    holder: String?, renewTime: String?, leaseDurationSeconds: Int?, now: Duration
  )
    -> Decision
  {
    let holder = holder ?? ""
    let duration = leaseDurationSeconds.map { Duration.seconds($0) } ?? timings.leaseDuration
    if observation?.holder != holder || observation?.renewTime != renewTime {
      observation = Observation(holder: holder, renewTime: renewTime, leaseDuration: duration, seenAt: now)
    }
    guard let observation else { return .claim(transition: true) }
    if observation.holder.isEmpty { return .claim(transition: true) }
    if observation.holder == identity { return .claim(transition: false) }
    return now >= observation.seenAt + observation.leaseDuration ? .claim(transition: true) : .wait
  }

  /// How long a follower may wait before looking at the lease again: the retry period, or less when the lease it
  /// last saw expires sooner, so that a hand-over is not delayed by a whole retry period.
  public func followerPause(now: Duration, retry: Duration) -> Duration {
    guard let observation, !observation.holder.isEmpty, observation.holder != identity else { return retry }
    let expiry = observation.seenAt + observation.leaseDuration - now
    return max(.milliseconds(10), min(retry, expiry))
  }

  /// A claim or renewal sent at `sentAt` succeeded.
  public mutating func claimSucceeded(sentAt: Duration, renewTime: String?) {
    observation = Observation(
      holder: identity, renewTime: renewTime, leaseDuration: timings.leaseDuration, seenAt: sentAt)
    if leadingSince == nil { leadingSince = sentAt }
    lastRenewalSent = sentAt
  }

  /// Whether a leader must give up now because it could not renew in time.
  public func mustStepDown(now: Duration) -> Bool {
    guard let lastRenewalSent, isLeader else { return false }
    return now - lastRenewalSent >= timings.renewDeadline
  }

  /// How long a renewal started `now` may take before the leader steps down.
  public func renewalBudget(now: Duration) -> Duration {
    guard let lastRenewalSent else { return timings.renewDeadline }
    return max(.zero, lastRenewalSent + timings.renewDeadline - now)
  }

  /// Leadership ended (lost or released).
  public mutating func steppedDown() {
    leadingSince = nil
    lastRenewalSent = nil
  }
}

/// The MicroTime format of lease timestamps: RFC 3339 in UTC with microseconds.
package enum MicroTime {
  package static func format(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    formatter.timeZone = TimeZone(identifier: "UTC")
    // ISO8601DateFormatter writes milliseconds; pad to the six digits Kubernetes writes.
    let text = formatter.string(from: date)
    return text.replacingOccurrences(of: "Z", with: "000Z")
  }
}
