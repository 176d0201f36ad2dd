import ControlPlaneKit
import GRPCCore

/// ``ReportRules`` at the gRPC edge: the peer's SPIFFE ID in, Dapr's status codes out.
public enum ReportChecks {
  /// Checks `host` as sent on a stream whose client proved `peer`; a refusal is the `RPCError` Dapr answers with.
  public static func check(_ host: PlacementHost, peer: SPIFFEID?, requirePeer: Bool) throws(RPCError) {
    do {
      try ReportRules.check(
        host, peer: peer.map { ($0.appID, $0.namespace) }, requirePeer: requirePeer)
    } catch {
      throw RPCError(code: error.code.status, message: error.message)
    }
  }
}

extension ReportRules.Refusal.Code {
  /// The gRPC status Dapr answers with.
  var status: RPCError.Code {
    switch self {
    case .invalidArgument: .invalidArgument
    case .unauthenticated: .unauthenticated
    case .permissionDenied: .permissionDenied
    }
  }
}
