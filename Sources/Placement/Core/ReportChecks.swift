import ControlPlaneKit
import DaprProto
import GRPCCore

/// The checks every message from a sidecar passes before it reaches the rounds, with Dapr's status codes.
public enum ReportChecks {
  /// Checks `host` as sent on a stream whose client proved `peer` (nil without mTLS, or when the client presented
  /// no identity, which `requirePeer` then refuses).
  ///
  /// - `InvalidArgument`: an empty app id or namespace, or an UNKNOWN operation that carries a version.
  /// - `Unauthenticated`: mTLS is on and the client has no SPIFFE ID.
  /// - `PermissionDenied`: the app id or namespace is not the client's own, or an actor type in the reserved
  ///   `dapr.internal.` space belongs to another app.
  public static func check(_ host: PlacementHost, peer: SPIFFEID?, requirePeer: Bool) throws(RPCError) {
    guard !host.id.isEmpty else {
      throw RPCError(code: .invalidArgument, message: "invalid host: the app id (Host.id) is empty")
    }
    guard !host.namespace.isEmpty else {
      throw RPCError(code: .invalidArgument, message: "invalid host: the namespace (Host.namespace) is empty")
    }
    if host.operation == .unknown, host.hasVersion {
      throw RPCError(
        code: .invalidArgument, message: "invalid host: an UNKNOWN operation must not carry a version")
    }
    guard requirePeer else { return }
    guard let peer else {
      throw RPCError(code: .unauthenticated, message: "no SPIFFE ID in the client certificate")
    }
    guard peer.appID == host.id, peer.namespace == host.namespace else {
      throw RPCError(
        code: .permissionDenied,
        message:
          "client ID \(peer.appID) and namespace \(peer.namespace) do not match the reported app id \(host.id) and namespace \(host.namespace)"
      )
    }
    let reserved = "dapr.internal."
    let own = "dapr.internal.\(peer.namespace).\(peer.appID)"
    for type in host.entities where type.hasPrefix(reserved) && !type.hasPrefix(own) {
      throw RPCError(
        code: .permissionDenied,
        message: "actor type \(type) is reserved for another app: \(peer.appID) may only use \(own).*")
    }
  }
}
