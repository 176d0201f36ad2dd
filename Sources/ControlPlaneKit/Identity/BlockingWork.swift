import NIOPosix
import X509

extension KeyAlgorithm {
  /// A new private key, made on NIO's blocking thread pool when it is RSA: an RSA key takes from milliseconds
  /// (release builds) to seconds (unoptimised ones) to find its primes, and would hold one of the few cooperative
  /// threads, and with it every timer of the process, meanwhile.
  public func makePrivateKeyOffThePool() async -> Certificate.PrivateKey {
    guard self == .rsa2048 else { return makePrivateKey() }
    return await runBlocking { makePrivateKey() }
  }
}

/// Runs CPU-heavy or blocking `work` on NIO's blocking thread pool instead of a cooperative thread (in place when the
/// pool is not running).
public func runBlocking<Value: Sendable>(_ work: @escaping @Sendable () -> Value) async -> Value {
  (try? await NIOThreadPool.singleton.runIfActive(work)) ?? work()
}
