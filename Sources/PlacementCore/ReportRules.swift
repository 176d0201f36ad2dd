import DaprMessages

/// The rules every message from a sidecar passes before it reaches the rounds, as values: a refusal names what was
/// wrong and which of Dapr's status codes it gets; the server turns it into that gRPC status (``ReportChecks``).
public enum ReportRules {
  /// Why a message was refused, with the status Dapr answers it with.
  public struct Refusal: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
      case invalidArgument, unauthenticated, permissionDenied
    }

    public let code: Code
    public let message: String
    public var description: String { message }
  }

  /// Checks `host` as sent on a stream whose client proved `peer` (its SPIFFE ID's app id and namespace; nil
  /// without mTLS, or when the client presented no identity, which `requirePeer` then refuses).
  ///
  /// - `invalidArgument`: an empty app id or namespace, or an UNKNOWN operation that carries a version.
  /// - `unauthenticated`: mTLS is on and the client has no SPIFFE ID.
  /// - `permissionDenied`: the app id or namespace is not the client's own, or an actor type in the reserved
  ///   `dapr.internal.` space belongs to another app.
  public static func check(
    _ host: PlacementHost, peer: (appID: String, namespace: String)?, requirePeer: Bool
  ) throws(Refusal) {
    guard !host.id.isEmpty else {
      throw Refusal(code: .invalidArgument, message: "invalid host: the app id (Host.id) is empty")
    }
    guard !host.namespace.isEmpty else {
      throw Refusal(code: .invalidArgument, message: "invalid host: the namespace (Host.namespace) is empty")
    }
    if host.operation == .unknown, host.hasVersion {
      throw Refusal(code: .invalidArgument, message: "invalid host: an UNKNOWN operation must not carry a version")
    }
    guard requirePeer else { return }
    guard let peer else {
      throw Refusal(code: .unauthenticated, message: "no SPIFFE ID in the client certificate")
    }
    guard peer.appID == host.id, peer.namespace == host.namespace else {
      throw Refusal(
        code: .permissionDenied,
        message:
          "client ID \(peer.appID) and namespace \(peer.namespace) do not match the reported app id \(host.id) and namespace \(host.namespace)"
      )
    }
    let reserved = "dapr.internal."
    let own = "dapr.internal.\(peer.namespace).\(peer.appID)"
    for type in host.entities where type.hasPrefix(reserved) && !type.hasPrefix(own) {
      throw Refusal(
        code: .permissionDenied,
        message: "actor type \(type) is reserved for another app: \(peer.appID) may only use \(own).*")
    }
  }
}
