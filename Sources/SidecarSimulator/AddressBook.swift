/// Where the cluster addresses daprd is given (`dapr-api.dapr-system.svc.cluster.local:443`) are reached from this
/// machine, which has no cluster DNS: `--resolve NAME:PORT=IP:PORT[,IP:PORT...]`, as curl's `--resolve` (several
/// endpoints: the replicas behind a Service, tried in turn). An address with no rule is dialled as written.
public struct AddressBook: Hashable, Sendable {
  public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var description: String { "\(host):\(port)" }
  }

  /// A rule that does not parse, named.
  public struct BadRule: Error, Hashable, CustomStringConvertible {
    public let description: String
  }

  var rules: [String: [Endpoint]] = [:]

  public init() {}

  /// Rules in `NAME:PORT=IP:PORT[,IP:PORT...]` form.
  public init(rules: [String]) throws(BadRule) {
    for rule in rules {
      let parts = rule.split(separator: "=", maxSplits: 1).map(String.init)
      guard parts.count == 2, Self.endpoint(parts[0]) != nil else {
        throw BadRule(description: "--resolve \(rule): expected NAME:PORT=IP:PORT[,IP:PORT...]")
      }
      var endpoints: [Endpoint] = []
      for target in parts[1].split(separator: ",") {
        guard let endpoint = Self.endpoint(String(target)) else {
          throw BadRule(description: "--resolve \(rule): \(target) is not IP:PORT")
        }
        endpoints.append(endpoint)
      }
      self.rules[parts[0]] = endpoints
    }
  }

  /// The endpoints of `address` (`host:port`), in the order to try them.
  public func resolve(_ address: String) -> [Endpoint] {
    if let endpoints = rules[address] { return endpoints }
    return Self.endpoint(address).map { [$0] } ?? []
  }

  static func endpoint(_ text: String) -> Endpoint? {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
      (1...65535).contains(port), colon > text.startIndex
    else { return nil }
    var host = String(text[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return Endpoint(host: host, port: port)
  }
}
