#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Reads the files under `/proc`, which report a size of 0 and are generated as they are read.
///
/// Foundation's `String(contentsOfFile:)` returns only the first read's worth of such a file (about 4 KB): enough for
/// `/proc/self/stat`, but `/proc/stat` on a node with many CPUs puts `btime` past it, and `/proc/self/smaps` runs to
/// hundreds of kilobytes. This reads to the end with `read(2)`, and keeps Foundation off the periodic paths.
public enum ProcFile {
  /// The whole file, or nil when it cannot be opened or read.
  public static func contents(of path: String) -> String? {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16 << 10)
    while true {
      let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
      if count < 0 {
        if errno == EINTR { continue }
        return nil
      }
      if count == 0 { break }
      bytes.append(contentsOf: chunk[..<count])
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}
