import Foundation
import Synchronization

/// Serves the bearer token of a ``TokenSource``, re-reading a token file when it changes (kubelet rotates projected
/// tokens) and at least once a minute.
final class BearerTokens: Sendable {
  private struct Cached {
    var token: String
    var modified: Date?
    var readAt: ContinuousClock.Instant
  }

  private let source: TokenSource
  private let cache = Mutex<Cached?>(nil)

  init(_ source: TokenSource) {
    self.source = source
  }

  /// The token to send now.
  func current() throws(KubernetesError) -> String {
    switch source {
    case .static(let token):
      return token
    case .file(let path):
      let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
      let now = ContinuousClock.now
      if let cached = cache.withLock({ $0 }), cached.modified == modified, now - cached.readAt < .seconds(60) {
        return cached.token
      }
      guard let data = FileManager.default.contents(atPath: path) else {
        throw KubernetesError(code: .invalidConfiguration, message: "cannot read the bearer token file \(path)")
      }
      let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
      cache.withLock { $0 = Cached(token: token, modified: modified, readAt: now) }
      return token
    }
  }
}
