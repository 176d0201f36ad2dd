import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat

extension KubernetesClient {
  /// Opens a watch. The events arrive through the returned sequence, which ends when the server closes the watch
  /// (its timeout) and throws a ``KubernetesError`` when the connection breaks or the server reports an error
  /// (``KubernetesError/Code/gone`` when the version is too old: list again).
  public func watch<Object: KubernetesObject>(
    _ type: Object.Type, namespace: String? = nil, options: WatchOptions = WatchOptions()
  ) async throws(KubernetesError) -> WatchEvents<Object> {
    let path = Object.resource.collectionPath(namespace: namespace)
    let request = try makeRequest(.GET, path, query: options.query, body: nil, contentType: nil)
    let label = "WATCH \(path)"
    do {
      // The server ends the watch at timeoutSeconds; the deadline only guards against a silent peer.
      let deadline: TimeAmount = .seconds(Int64(options.timeoutSeconds ?? 1800) + 60)
      let response = try await http.execute(request, timeout: deadline)
      guard response.status == .ok else {
        let body = try await response.body.collect(upTo: 1 << 20)
        throw Self.errorResponse(status: Int(response.status.code), body: body, request: label)
      }
      return WatchEvents(WatchEventSequence(body: response.body, request: label, server: configuration.server))
    } catch let error as KubernetesError {
      throw error
    } catch {
      throw Self.transportError(error, request: label, server: configuration.server)
    }
  }
}

/// The events of one watch, decoded from the newline-delimited JSON the API server streams.
struct WatchEventSequence<Object: KubernetesObject>: AsyncSequence, Sendable {
  typealias Element = WatchEvent<Object>
  let body: HTTPClientResponse.Body
  let request: String
  let server: String

  func makeAsyncIterator() -> Iterator {
    Iterator(body: body.makeAsyncIterator(), request: request, server: server)
  }

  struct Iterator: AsyncIteratorProtocol {
    var body: HTTPClientResponse.Body.AsyncIterator
    let request: String
    let server: String
    var buffer = ByteBuffer()

    /// The next event; `nil` when the server ended the watch. Errors are ``KubernetesError``s.
    mutating func next() async throws -> WatchEvent<Object>? {
      while true {
        if let line = nextLine() {
          if line.readableBytes == 0 { continue }
          return try WatchLine.decode(line, as: Object.self, request: request)
        }
        switch await readChunk() {
        case .failure(let error):
          throw error
        case .success(.none):
          guard buffer.readableBytes > 0 else { return nil }
          let rest = buffer
          buffer.clear()
          return try WatchLine.decode(rest, as: Object.self, request: request)
        case .success(.some(var chunk)):
          buffer.writeBuffer(&chunk)
        }
      }
    }

    /// The next piece of the body. (Kept apart from `next()`: a `catch` that rethrows inside that loop crashes the
    /// Swift 6.3 optimiser.)
    private mutating func readChunk() async -> Result<ByteBuffer?, KubernetesError> {
      do {
        return .success(try await body.next())
      } catch {
        return .failure(KubernetesClient.transportError(error, request: request, server: server))
      }
    }

    private mutating func nextLine() -> ByteBuffer? {
      guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
      let length = newline - buffer.readerIndex
      let line = buffer.readSlice(length: length)
      buffer.moveReaderIndex(forwardBy: 1)
      if buffer.readableBytes == 0 { buffer.clear() }
      return line
    }
  }
}

/// One line of a watch stream: `{"type": ..., "object": ...}`.
enum WatchLine {
  static func decode<Object: KubernetesObject>(
    _ line: ByteBuffer, as type: Object.Type, request: String
  ) throws(KubernetesError) -> WatchEvent<Object> {
    let parsed = try? JSONCoding.parse(Data(buffer: line))
    guard let type = parsed?["type"]?.stringValue, let object = parsed?["object"]?.objectValue else {
      throw KubernetesError(
        code: .malformedResponse,
        message: "\(request) sent a line that is not a watch event: \(String(buffer: line).prefix(200))")
    }
    switch type {
    case "ADDED": return .added(Object(json: object))
    case "MODIFIED": return .modified(Object(json: object))
    case "DELETED": return .deleted(Object(json: object))
    case "BOOKMARK":
      let version = object["metadata"]?["resourceVersion"]?.stringValue ?? ""
      return .bookmark(resourceVersion: version)
    case "ERROR":
      let status = Status(json: object)
      throw KubernetesError.fromResponse(httpStatus: status.code ?? 500, status: status, request: request)
    default:
      throw KubernetesError(
        code: .malformedResponse, message: "\(request) sent an unknown watch event type \(type)")
    }
  }
}
