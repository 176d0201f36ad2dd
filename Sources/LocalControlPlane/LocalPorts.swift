import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A TCP port on 127.0.0.1 that is free now and that no other caller in this process was given, for a server that
/// must be told its port up front (a child process, or a server that cannot report the port it bound).
///
/// The port comes from below the kernel's ephemeral range. A port the kernel picked for a socket that is closed
/// again is back in that range at once, and any outgoing connection (to the API server, say) may take it before the
/// server binds it: a test once waited 30 s for a sentry whose gRPC port had gone that way.
public func freeLocalPort() -> Int {
  LocalPortPicker.shared.next()
}

/// Hands out free ports between 20000 and the start of the ephemeral range, each once per process, starting at a
/// random place so that two test processes seldom try the same ports.
final class LocalPortPicker: Sendable {
  static let shared = LocalPortPicker(range: 20_000..<ephemeralRangeStart())

  private let range: Range<Int>
  private let state: Mutex<(cursor: Int, given: Set<Int>)>

  init(range: Range<Int>) {
    self.range = range
    state = Mutex((cursor: range.isEmpty ? 0 : Int.random(in: range), given: []))
  }

  func next() -> Int {
    let picked: Int? = state.withLock { state in
      for _ in 0..<range.count {
        let port = state.cursor
        state.cursor = port + 1 < range.upperBound ? port + 1 : range.lowerBound
        if !state.given.contains(port), LocalPorts.isFree(port) {
          state.given.insert(port)
          return port
        }
      }
      return nil
    }
    if let picked { return picked }
    // Every port below the ephemeral range is taken (or there is no such range): let the kernel pick one.
    let bound = boundLoopbackSocket()
    close(bound.descriptor)
    return bound.port
  }

  /// The first port of the kernel's ephemeral range (Linux's default when it cannot be read).
  static func ephemeralRangeStart() -> Int {
    let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
    let first = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) }
    return max(20_000, first ?? 32_768)
  }
}

/// A TCP socket bound to a port the kernel picks on 127.0.0.1 (not listening), and that port.
func boundLoopbackSocket() -> (descriptor: Int32, port: Int) {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  precondition(fd >= 0, "socket() failed")
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_port = 0
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  let bound = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
  }
  precondition(bound == 0, "bind() failed")
  _ = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
  }
  return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// Whether a TCP port on 127.0.0.1 can be bound now.
public enum LocalPorts {
  public static func isFree(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var reuse: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let length = socklen_t(MemoryLayout<sockaddr_in>.size)
    return withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    } == 0
  }
}

/// A loopback port that is bound but not listening, held until ``release()``: a connection to it is refused, and no
/// other test can take it meanwhile (a port merely found free may be another test's server a moment later).
public final class ClosedLocalPort: Sendable {
  public let port: Int
  private let descriptor: Int32

  public init() {
    (descriptor, port) = boundLoopbackSocket()
  }

  /// Closes the socket; the port may then be taken again.
  public func release() { close(descriptor) }
}
