import Foundation
import Logging
import ServiceLifecycle

/// Keeps a trust bundle file loaded and reloads it when its content changes, without a restart.
///
/// Kubernetes updates a mounted ConfigMap by swapping a symlink, so the watcher compares content rather than
/// inode events: it re-reads the (small) file every `pollInterval` and publishes a new ``TrustBundle`` only when
/// the bytes differ. A file that fails to parse keeps the last good bundle in place and logs the reason once.
public final class TrustBundleWatcher: Service, Sendable {
  /// The path being watched.
  public let path: String
  /// The bundle now in force; subscribe to ``LatestValue/updates()`` to hear about rotations.
  public let bundle: LatestValue<TrustBundle>

  private let pollInterval: Duration
  private let logger: Logger
  /// The bytes the initial bundle was parsed from: a change made between `init` and `run()` is still a change.
  private let loadedContent: Data

  /// Loads `path` now (failing if it cannot be loaded) and watches it once ``run()`` is called.
  public init(path: String, pollInterval: Duration = .seconds(1), logger: Logger) throws(TrustBundleError) {
    self.path = path
    self.pollInterval = pollInterval
    self.logger = logger
    let content: Data
    do {
      content = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw .unreadable(path: path, reason: error.localizedDescription)
    }
    do {
      self.bundle = LatestValue(try TrustBundle(pemEncoded: String(decoding: content, as: UTF8.self)))
    } catch {
      throw error.inFile(path)
    }
    self.loadedContent = content
  }

  public func run() async throws {
    defer { bundle.finish() }
    try await untilShutdown { [self] in
      var lastContent = loadedContent
      var lastError: String?
      while true {
        try await Task.sleep(for: pollInterval)
        guard let content = try? Data(contentsOf: URL(fileURLWithPath: path)), content != lastContent else {
          continue
        }
        do throws(TrustBundleError) {
          let reloaded = try TrustBundle(pemEncoded: String(decoding: content, as: UTF8.self))
          lastContent = content
          lastError = nil
          logger.info("Trust anchors file changed, reloading trust anchors", metadata: ["file": "\(path)"])
          bundle.set(reloaded)
        } catch {
          if lastError != error.message {
            lastError = error.message
            logger.error(
              "Trust anchors file changed but cannot be loaded; keeping the previous anchors",
              metadata: ["file": "\(path)", "error": "\(error.message)"])
          }
        }
      }
    }
  }
}
