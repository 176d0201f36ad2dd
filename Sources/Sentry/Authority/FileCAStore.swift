import ControlPlaneKit
import Foundation

/// Credential files, as Dapr's self-hosted sentry keeps them: `ca.crt`, `issuer.crt`, `issuer.key` (and, with JWT,
/// `jwt.key` and `jwks.json`) in the `--issuer-credentials` folder, or where the file-name flags say, mode 0600.
/// A relative JWT file name counts too (Dapr's sentry quietly uses the default name unless the flag is absolute).
public final class FileCAStore: CAStore {
  public let paths: [CAStoreEntry: String]
  private let pollInterval: Duration

  public init(directory: String, fileNames: [CAStoreEntry: String], pollInterval: Duration = .seconds(2)) {
    var paths: [CAStoreEntry: String] = [:]
    for entry in CAStoreEntry.allCases {
      let name = fileNames[entry] ?? entry.defaultName
      paths[entry] = name.hasPrefix("/") ? name : (directory as NSString).appendingPathComponent(name)
    }
    self.paths = paths
    self.pollInterval = pollInterval
  }

  public func describe(_ entry: CAStoreEntry) -> String { "file \(paths[entry] ?? entry.defaultName)" }

  public var publishedAnchorsDescription: String { describe(.trustAnchors) }

  public func read() async throws(CAStoreError) -> StoredCA {
    var stored = StoredCA(publishesAnchors: false)
    for (entry, path) in paths {
      stored[entry] = FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }
    return stored
  }

  /// Files have no published copies; the update's entries are written (or removed).
  public func apply(_ update: CAStoreUpdate, over previous: StoredCA) async throws(CAStoreError) {
    for (entry, text) in update.entries {
      guard let path = paths[entry] else { continue }
      guard let text else {
        try? FileManager.default.removeItem(atPath: path)
        continue
      }
      do {
        try FileManager.default.createDirectory(
          atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        guard
          FileManager.default.createFile(
            atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        else { throw CocoaError(.fileWriteUnknown) }
      } catch {
        throw CAStoreError(.failed, "cannot write \(path): \(error.localizedDescription)")
      }
    }
  }

  public func changes() -> AsyncStream<Void> {
    let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    let paths = Array(self.paths.values)
    let interval = pollInterval
    let poll = Task {
      var last = paths.map { FileManager.default.contents(atPath: $0) }
      while !Task.isCancelled {
        try? await Task.sleep(for: interval)
        let now = paths.map { FileManager.default.contents(atPath: $0) }
        if now != last {
          last = now
          continuation.yield()
        }
      }
      continuation.finish()
    }
    continuation.onTermination = { _ in poll.cancel() }
    return stream
  }
}
