import AsyncPrimitives
import Foundation
import Logging
import ServiceLifecycle

/// Campaigns for a `coordination.k8s.io/v1` Lease and reports leadership: exactly one holder at a time, a holder
/// that cannot renew steps down before its lease can be taken, and a clean shutdown releases the lease at once.
///
/// Run it as a `Service`; watch ``isLeader`` (or use ``runWhileLeader(_:)``) to start and stop leader-only work.
public final class LeaderElector: ServiceLifecycle.Service, Sendable {
  public let leaseName: String
  public let namespace: String
  public let identity: String
  public let timings: LeaderElectionTimings
  /// True while this process leads.
  public let isLeader = LatestValue(false)

  private let client: any ObjectReading & ObjectWriting
  private let logger: Logger
  /// What the lease's timings are measured on (a manual clock in tests).
  private let clock: any Clock<Duration>
  /// The time written into the lease's `acquireTime` and `renewTime` (the manual clock's, in tests).
  private let wallClock: @Sendable () -> Date

  public init(
    client: any ObjectReading & ObjectWriting, leaseName: String, namespace: String, identity: String,
    timings: LeaderElectionTimings = LeaderElectionTimings(), logger: Logger,
    clock: any Clock<Duration> = ContinuousClock(), wallClock: @escaping @Sendable () -> Date = { Date() }
  ) {
    self.client = client
    self.clock = clock
    self.wallClock = wallClock
    self.leaseName = leaseName
    self.namespace = namespace
    self.identity = identity
    self.timings = timings
    self.logger = logger
  }

  public func run() async throws {
    let now = elapsedTime(on: clock)
    var machine = LeaderElectionStateMachine(identity: identity, timings: timings)
    var lease: Lease?
    defer { isLeader.set(false) }
    while !Task.isCancelled && !Task.isShuttingDownGracefully {
      if machine.isLeader, machine.mustStepDown(now: now()) {
        logger.error(
          "Leader election lost: could not renew the lease in time; stepping down",
          metadata: ["lease": "\(namespace)/\(leaseName)", "identity": "\(identity)"])
        machine.steppedDown()
        isLeader.set(false)
        lease = nil
      }
      let sentAt = now()
      let deadline = sentAt + (machine.isLeader ? machine.renewalBudget(now: sentAt) : timings.renewDeadline)
      lease = await attempt(&machine, known: lease, sentAt: sentAt, deadline: deadline, now: now)
      let pause =
        machine.isLeader
        ? timings.retryPeriod : machine.followerPause(now: now(), retry: jittered(timings.retryPeriod))
      // A graceful shutdown ends the pause at once, so the lease is released without delay.
      try? await cancelWhenGracefulShutdown { [clock] in try await clock.sleep(for: pause) }
    }
    if machine.isLeader, let lease {
      await release(lease)
    }
  }

  /// One round: read the lease (a leader trusts its own last write), decide, and claim or renew when the rules
  /// allow, all within `deadline`. Returns the lease as last written by this candidate, if it leads.
  private func attempt(
    _ machine: inout LeaderElectionStateMachine, known: Lease?, sentAt: Duration, deadline: Duration,
    now: @escaping @Sendable () -> Duration
  ) async -> Lease? {
    let (client, namespace, leaseName) = (self.client, self.namespace, self.leaseName)
    var current: Lease?
    if let known, machine.isLeader {
      current = known
    } else {
      switch await withDeadline(
        deadline - now(), on: clock,
        { () async throws(KubernetesError) -> Lease? in
          do throws(KubernetesError) {
            return try await client.get(Lease.self, namespace: namespace, name: leaseName)
          } catch  where error.code == .notFound {
            return nil
          }
        })
      {
      case .some(.success(let read)): current = read
      case .some(.failure(let error)):
        logger.debug("Reading the lease failed", metadata: ["error": "\(error)"])
        return nil
      case .none: return nil
      }
    }

    var next: Lease
    if var current {
      let decision = machine.observe(
        holder: current.spec.holderIdentity, renewTime: current.spec.renewTime,
        leaseDurationSeconds: current.spec.leaseDurationSeconds, now: now())
      guard case .claim(let transition) = decision else { return nil }
      current.spec = newSpec(previous: current.spec, transition: transition)
      next = current
    } else {
      next = Lease(name: leaseName, namespace: namespace)
      next.spec = newSpec(previous: nil, transition: true)
    }
    let create = next.metadata.resourceVersion == nil
    let candidate = next
    switch await withDeadline(
      deadline - now(), on: clock,
      { () async throws(KubernetesError) -> Lease in
        create ? try await client.create(candidate) : try await client.update(candidate)
      })
    {
    case .some(.success(let written)):
      let wasLeader = machine.isLeader
      machine.claimSucceeded(sentAt: sentAt, renewTime: written.spec.renewTime)
      if !wasLeader {
        logger.info("Became the leader", metadata: ["lease": "\(namespace)/\(leaseName)", "identity": "\(identity)"])
        isLeader.set(true)
      }
      return written
    case .some(.failure(let error)):
      if error.code != .conflict && error.code != .alreadyExists {
        logger.debug("Writing the lease failed", metadata: ["error": "\(error)"])
      }
      return nil
    case .none:
      return nil
    }
  }

  private func newSpec(previous: LeaseSpec?, transition: Bool) -> LeaseSpec {
    var spec = previous ?? LeaseSpec()
    let stamp = MicroTime.format(wallClock())
    spec.holderIdentity = identity
    spec.leaseDurationSeconds = Int(timings.leaseDuration.components.seconds)
    spec.renewTime = stamp
    if transition {
      spec.acquireTime = stamp
      spec.leaseTransitions = (previous?.leaseTransitions ?? -1) + 1
    }
    return spec
  }

  /// Gives the lease up so that another candidate takes it at once.
  private func release(_ lease: Lease) async {
    var released = lease
    released.spec.holderIdentity = ""
    released.spec.leaseDurationSeconds = 1
    released.spec.renewTime = MicroTime.format(wallClock())
    do {
      _ = try await client.update(released)
      logger.info("Released the lease", metadata: ["lease": "\(namespace)/\(leaseName)"])
    } catch {
      logger.warning("Could not release the lease", metadata: ["error": "\(error)"])
    }
  }

  private func jittered(_ period: Duration) -> Duration {
    period + period * Double.random(in: 0..<0.2)
  }

  /// Runs `work` whenever this process leads, and cancels it when leadership is lost. Returns when the elector's
  /// updates end.
  public func runWhileLeader(_ work: @escaping @Sendable () async throws -> Void) async {
    var running: Task<Void, Never>?
    for await leading in isLeader.updates(includingCurrent: true) {
      if leading, running == nil {
        running = Task { try? await work() }
      } else if !leading, let task = running {
        task.cancel()
        await task.value
        running = nil
      }
    }
    running?.cancel()
    await running?.value
  }
}

/// Runs `operation`, giving up after `limit` on `clock`: `nil` when time ran out.
func withDeadline<T: Sendable>(
  _ limit: Duration, on clock: any Clock<Duration> = ContinuousClock(),
  _ operation: @escaping @Sendable () async throws(KubernetesError) -> T
) async -> Result<T, KubernetesError>? {
  await withTaskGroup(of: Result<T, KubernetesError>?.self) { group in
    group.addTask {
      do throws(KubernetesError) {
        return .success(try await operation())
      } catch {
        return .failure(error)
      }
    }
    group.addTask {
      try? await clock.sleep(for: limit)
      return nil
    }
    let first = await group.next() ?? nil
    group.cancelAll()
    return first
  }
}
