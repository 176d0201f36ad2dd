import Foundation

/// A small state kept as JSON in the trust bundle (a key rotation's, a root rotation's): ISO 8601 dates and sorted
/// keys, so that the stored text is stable and readable with `kubectl get secret -o yaml`.
package protocol StoredState: Codable {}

extension StoredState {
  /// The stored text.
  public var json: String {
    let encoder = JSONEncoder()
    encoder.dateEncodingStrategy = .iso8601
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
  }

  /// Reads the stored text; the error's description says why it is unreadable.
  package static func decoded(from json: String) throws -> Self {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .iso8601
    return try decoder.decode(Self.self, from: Data(json.utf8))
  }
}
