// The messages live in DaprMessages (SwiftProtobuf alone, for the pure cores); users of the services get them too.
@_exported import DaprMessages

/// Dapr's control-plane wire protocols: the generated messages (`Dapr_Proto_Sentry_V1_*`,
/// `Dapr_Proto_Operator_V1_*`, `Dapr_Proto_Placement_V1_*`) and grpc-swift-2 services and clients in
/// `Generated/`, produced from `Protos/` by `scripts/generate-protos.sh`.
public enum DaprProto {
  /// The proto packages this module carries.
  public static let packages = ["dapr.proto.sentry.v1", "dapr.proto.operator.v1", "dapr.proto.placement.v1"]
}
