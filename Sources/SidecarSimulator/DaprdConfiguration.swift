import Foundation
import Kubernetes

/// What a simulated sidecar knows, read from exactly what the injector put into a pod's `daprd` container (its
/// arguments and environment, by daprd's own flag and variable names; see ``DaprdFlag``), plus the pod's name and
/// the audience of its projected identity token. Nothing else configures the simulator's side of the protocols.
public struct DaprdConfiguration: Hashable, Sendable {
  public var appID: String
  /// The pod's namespace (`NAMESPACE`).
  public var namespace: String
  public var podName: String
  /// The operator (`--control-plane-address`).
  public var controlPlaneAddress: String
  /// Sentry (`--sentry-address`).
  public var sentryAddress: String
  /// Placement (`--placement-host-address`), when actors are on.
  public var placementAddresses: [String]
  /// `--config`: the Configuration the sidecar asks the operator for at start-up.
  public var configuration: String?
  public var mTLSEnabled: Bool
  public var controlPlaneNamespace: String
  public var controlPlaneTrustDomain: String
  /// `DAPR_TRUST_ANCHORS`: the PEM the injector copied from the trust bundle.
  public var trustAnchors: String
  /// The internal gRPC port, part of the name placement knows this host by (`<pod>:<port>`).
  public var internalGRPCPort: Int
  /// `--scheduler-host-address`, when the injector named one (never by default: no scheduler ships here).
  public var schedulerAddress: String?
  /// The projected token's audience (sentry's SPIFFE ID) and lifetime, from the pod's `dapr-identity-token` volume.
  public var tokenAudience: String
  public var tokenExpirationSeconds: Int

  /// SPIFFE ID the operator must present: `spiffe://<td>/ns/<cp-ns>/dapr-operator`, as daprd pins it.
  public var operatorID: String { "spiffe://\(controlPlaneTrustDomain)/ns/\(controlPlaneNamespace)/dapr-operator" }
  public var placementID: String { "spiffe://\(controlPlaneTrustDomain)/ns/\(controlPlaneNamespace)/dapr-placement" }
  public var sentryID: String { "spiffe://\(controlPlaneTrustDomain)/ns/\(controlPlaneNamespace)/dapr-sentry" }
  /// The name placement keys this host by.
  public var hostName: String { "\(podName):\(internalGRPCPort)" }

  /// A pod whose `daprd` container cannot be simulated, and why.
  public struct Unusable: Error, Hashable, CustomStringConvertible {
    public let description: String
  }

  /// The configuration of `pod`'s daprd container (in `containers`, or in `initContainers` as a native sidecar).
  public init(pod: JSONValue) throws(Unusable) {
    let name = pod["metadata"]?["name"]?.stringValue ?? ""
    let spec = pod["spec"]
    let containers = (spec?["containers"]?.arrayValue ?? []) + (spec?["initContainers"]?.arrayValue ?? [])
    guard let daprd = containers.first(where: { $0["name"]?.stringValue == "daprd" }) else {
      throw Unusable(description: "pod \(name) has no daprd container (was it injected?)")
    }
    var environment: [String: String] = [:]
    for variable in daprd["env"]?.arrayValue ?? [] {
      if let key = variable["name"]?.stringValue, let value = variable["value"]?.stringValue {
        environment[key] = value
      }
    }
    var audience: String?
    var expiration = 3600
    for volume in spec?["volumes"]?.arrayValue ?? [] where volume["name"]?.stringValue == DaprdIdentityToken.volumeName
    {
      for source in volume["projected"]?["sources"]?.arrayValue ?? [] {
        if let token = source["serviceAccountToken"] {
          audience = token["audience"]?.stringValue
          expiration = Int(token["expirationSeconds"]?.intValue ?? 3600)
        }
      }
    }
    let arguments =
      (daprd["command"]?.arrayValue ?? []).compactMap(\.stringValue)
      + (daprd["args"]?.arrayValue ?? []).compactMap(\.stringValue)
    try self.init(
      arguments: arguments, environment: environment, podName: name,
      podNamespace: pod["metadata"]?["namespace"]?.stringValue, tokenAudience: audience,
      tokenExpirationSeconds: expiration)
  }

  /// The configuration of a daprd command line and environment.
  public init(
    arguments: [String], environment: [String: String], podName: String, podNamespace: String? = nil,
    tokenAudience: String? = nil, tokenExpirationSeconds: Int = 3600
  ) throws(Unusable) {
    let flags = Self.flags(arguments)
    func value(_ flag: DaprdFlag) -> String? { flags[flag.rawValue] ?? nil }
    guard flags[DaprdFlag.mode.rawValue] ?? nil == "kubernetes" else {
      throw Unusable(description: "daprd of pod \(podName) does not run in Kubernetes mode")
    }
    guard let appID = value(.appID), !appID.isEmpty else {
      throw Unusable(description: "daprd of pod \(podName) has no \(DaprdFlag.appID.rawValue)")
    }
    guard let operatorAddress = value(.controlPlaneAddress), let sentryAddress = value(.sentryAddress) else {
      throw Unusable(
        description:
          "daprd of pod \(podName) lacks \(DaprdFlag.controlPlaneAddress.rawValue) or \(DaprdFlag.sentryAddress.rawValue)"
      )
    }
    guard let anchors = environment[DaprdEnvironment.trustAnchors], anchors.contains("BEGIN CERTIFICATE") else {
      throw Unusable(description: "daprd of pod \(podName) has no trust anchors in \(DaprdEnvironment.trustAnchors)")
    }
    self.appID = appID
    namespace = environment[DaprdEnvironment.namespace] ?? podNamespace ?? "default"
    self.podName = environment[DaprdEnvironment.podName].flatMap { $0.isEmpty ? nil : $0 } ?? podName
    controlPlaneAddress = operatorAddress
    self.sentryAddress = sentryAddress
    placementAddresses = (value(.placementHostAddress) ?? "").split(separator: ",").map(String.init)
      .filter { !$0.isEmpty }
    configuration = value(.config).flatMap { $0.isEmpty ? nil : $0 }
    mTLSEnabled = flags.keys.contains(DaprdFlag.enableMTLS.rawValue)
    controlPlaneNamespace = environment[DaprdEnvironment.controlPlaneNamespace] ?? "dapr-system"
    controlPlaneTrustDomain = environment[DaprdEnvironment.controlPlaneTrustDomain] ?? "cluster.local"
    trustAnchors = anchors
    internalGRPCPort = value(.internalGRPCPort).flatMap { Int($0) } ?? 50002
    schedulerAddress = flags[DaprdFlag.schedulerHostAddress.rawValue] ?? nil
    self.tokenAudience =
      tokenAudience ?? "spiffe://\(controlPlaneTrustDomain)/ns/\(controlPlaneNamespace)/dapr-sentry"
    self.tokenExpirationSeconds = tokenExpirationSeconds
  }

  /// daprd's flags as Go's flag package reads them: `--name value`, `--name=value`, or a boolean `--name`.
  /// A flag followed by another flag (or nothing) has no value.
  static func flags(_ arguments: [String]) -> [String: String?] {
    var flags: [String: String?] = [:]
    var index = arguments.first == "/daprd" ? 1 : 0
    while index < arguments.count {
      let argument = arguments[index]
      index += 1
      guard argument.hasPrefix("-") else { continue }
      let normalised = argument.hasPrefix("--") ? argument : "-" + argument
      if let equals = normalised.firstIndex(of: "=") {
        flags[String(normalised[..<equals])] = String(normalised[normalised.index(after: equals)...])
      } else if index < arguments.count, !arguments[index].hasPrefix("--") {
        flags[normalised] = arguments[index]
        index += 1
      } else {
        flags[normalised] = String?.none
      }
    }
    return flags
  }
}
