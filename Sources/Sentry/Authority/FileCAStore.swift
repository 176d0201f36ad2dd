import ControlPlaneKit
import Foundation

/// Credential files, as Dapr's self-hosted sentry keeps them: `ca.crt`, `issuer.crt` and `issuer.key` in the
/// `--issuer-credentials` folder (or at absolute paths given by the `--issuer-*-filename` flags), mode 0600.
public final class FileCAStore: CAStore {
  public let paths: [CAMaterialError.Part: String]
  private let pollInterval: Duration

  public init(directory: String, fileNames: [CAMaterialError.Part: String], pollInterval: Duration = .seconds(2)) {
    var paths: [CAMaterialError.Part: String] = [:]
    for part in [CAMaterialError.Part.trustAnchors, .issuerCertificate, .issuerKey] {
      let name = fileNames[part] ?? part.rawValue
      paths[part] = name.hasPrefix("/") ? name : (directory as NSString).appendingPathComponent(name)
    }
    self.paths = paths
    self.pollInterval = pollInterval
  }

  public func describe(_ part: CAMaterialError.Part) -> String { "file \(paths[part] ?? part.rawValue)" }

  public var publishedAnchorsDescription: String { describe(.trustAnchors) }

  public func read() async throws(CAStoreError) -> StoredCA {
    StoredCA(
      trustAnchors: contents(.trustAnchors), issuerCertificate: contents(.issuerCertificate),
      issuerKey: contents(.issuerKey), publishesAnchors: false)
  }

  private func contents(_ part: CAMaterialError.Part) -> String? {
    paths[part].flatMap { FileManager.default.contents(atPath: $0) }.map { String(decoding: $0, as: UTF8.self) }
  }

  public func write(_ material: CAMaterial, over previous: StoredCA) async throws(CAStoreError) {
    let files: [(CAMaterialError.Part, String)] = [
      (.trustAnchors, material.trustAnchorsPEM), (.issuerCertificate, material.issuerCertificatePEM),
      (.issuerKey, material.issuerKeyPEM),
    ]
    for (part, text) in files {
      guard let path = paths[part] else { continue }
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

  public func publish(anchorsPEM: String, over previous: StoredCA) async throws(CAStoreError) {}

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
