#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it for a socket that is closed again).
/// For processes that must be told their ports up front; servers in the test process should bind port 0.
public func freeLocalPort() -> Int {
  let bound = boundLoopbackSocket()
  close(bound.descriptor)
  return bound.port
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
