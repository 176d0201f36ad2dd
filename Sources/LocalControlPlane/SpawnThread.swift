import Foundation

/// The one thread every child process of this package is started from.
///
/// Two things a child inherits from the thread that starts it made starting children from Swift's concurrency
/// threads wrong: (1) its blocked-signal mask (those threads block nearly every signal, so a child such as
/// `scripts/kubernetes/start.sh` never saw SIGTERM), and (2) `PR_SET_PDEATHSIG`, which fires when the *thread* that
/// started the child exits (the pool retires idle threads, which killed healthy children). This thread unblocks
/// every signal and never exits, so children start with a clean signal mask and die only with this process.
public final class SpawnThread: @unchecked Sendable {
  public static let shared = SpawnThread()

  private let condition = NSCondition()
  private var queue: [() -> Void] = []

  private init() {
    let thread = Thread { [self] in
      var none = sigset_t()
      sigemptyset(&none)
      pthread_sigmask(SIG_SETMASK, &none, nil)
      while true {
        condition.lock()
        while queue.isEmpty { condition.wait() }
        let work = queue.removeFirst()
        condition.unlock()
        work()
      }
    }
    thread.name = "child-process-spawner"
    thread.start()
  }

  /// Runs `body` on the spawning thread and returns its result.
  public func run<Result>(_ body: @escaping () throws -> Result) throws -> Result {
    let done = DispatchSemaphore(value: 0)
    var outcome: Swift.Result<Result, any Error>?
    condition.lock()
    queue.append {
      outcome = Swift.Result { try body() }
      done.signal()
    }
    condition.signal()
    condition.unlock()
    done.wait()
    return try outcome!.get()
  }
}
