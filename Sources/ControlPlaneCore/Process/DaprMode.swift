import ArgumentParser
import Foundation

/// Where a control-plane process runs: against a Kubernetes API server, or self-hosted with files.
public enum DaprMode: String, Sendable, CaseIterable, ExpressibleByArgument {
  case kubernetes, standalone
}

/// Facts every control-plane process reads from its environment.
public enum ProcessFacts {
  /// The control-plane namespace: the `NAMESPACE` variable (set from the pod's namespace by the chart), or
  /// `default` when unset, as Dapr does.
  public static func namespace(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
    guard let value = environment["NAMESPACE"], !value.isEmpty else { return "default" }
    return value
  }

  /// Dapr's truthy spellings: `y`, `yes`, `true`, `t`, `on`, `1`, case-insensitive and trimmed.
  public static func isTruthy(_ value: String?) -> Bool {
    guard let value else { return false }
    return ["y", "yes", "true", "t", "on", "1"].contains(value.trimmingWhitespace.lowercased())
  }
}

/// The listen address Dapr means by an empty `--listen-address`: every interface.
public func listenHost(_ address: String) -> String {
  address.isEmpty ? "0.0.0.0" : address
}

/// `host:port` (an IPv6 host in brackets), as Dapr's address flags and variables take it; `name` says where the
/// address came from in the error.
public func hostAndPort(_ address: String, name: String) throws -> (host: String, port: Int) {
  guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
    (0...65535).contains(port)
  else { throw ValidationError("\(name) must be host:port, not \(address)") }
  var host = String(address[..<colon])
  if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
  return (host, port)
}
