/// The parts of daprd's command line and environment that the sidecar injector writes and the sidecar simulator
/// reads: one list, so that the two cannot drift apart (daprd's own flag and variable names).
public enum DaprdFlag: String, CaseIterable, Sendable {
  case httpPort = "--dapr-http-port"
  case grpcPort = "--dapr-grpc-port"
  case internalGRPCPort = "--dapr-internal-grpc-port"
  case appID = "--app-id"
  case mode = "--mode"
  case controlPlaneAddress = "--control-plane-address"
  case sentryAddress = "--sentry-address"
  case placementHostAddress = "--placement-host-address"
  case actorsService = "--actors-service"
  case remindersService = "--reminders-service"
  case config = "--config"
  case enableMTLS = "--enable-mtls"
  case schedulerHostAddress = "--scheduler-host-address"
  case actorsDisseminateTimeout = "--actors-disseminate-timeout"
}

/// daprd's environment variables the injector sets.
public enum DaprdEnvironment {
  /// The pod's namespace.
  public static let namespace = "NAMESPACE"
  /// The trust anchors (PEM) at injection time.
  public static let trustAnchors = "DAPR_TRUST_ANCHORS"
  public static let podName = "POD_NAME"
  public static let controlPlaneNamespace = "DAPR_CONTROLPLANE_NAMESPACE"
  public static let controlPlaneTrustDomain = "DAPR_CONTROLPLANE_TRUST_DOMAIN"
  public static let hostIP = "DAPR_HOST_IP"
}

/// The projected token the injector gives daprd to prove its identity to sentry.
public enum DaprdIdentityToken {
  public static let volumeName = "dapr-identity-token"
  public static let mountPath = "/var/run/secrets/dapr.io/sentrytoken"
}
