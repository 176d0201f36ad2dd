import ControlPlaneKit
import DaprProto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Kubernetes
import Logging
import PlacementSimulator
import Synchronization

/// Writes the token a sidecar proves its identity to sentry with, as the kubelet keeps a projected token fresh.
public protocol IdentityTokenSource: Sendable {
  /// The file ``SVIDClient`` reads the token from.
  var file: String { get }
  /// How often the token is written anew.
  var refreshInterval: Duration { get }
  /// Writes a fresh token.
  func refresh() async throws
}

/// daprd's side of sentry, the operator and placement, for one pod, configured only from the pod's daprd container
/// (see ``DaprdConfiguration``):
///
/// - **sentry**: an Ed25519 key and CSR, `SignCertificate` with the pod's token, the chain checked against the
///   injected trust anchors, renewal at half life and a retry every 10 s;
/// - **operator**: mTLS with the operator's SPIFFE ID pinned; at start `GetConfiguration` (with `--config`),
///   `ListResiliency`, `ListComponents`, `ListHTTPEndpoints`, `ListSubscriptionsV2`, `ListMCPServers`,
///   `ListWorkflowAccessPolicy`, in daprd's order; then all seven update streams, their events applied to the view;
///   Components, Subscriptions, MCPServers and policies listed again every `relistInterval` (daprd: 60 s) and
///   everything after each reconnect, with back-off;
/// - **placement**: a report of its actor types, every LOCK/UPDATE/UNLOCK acknowledged, the ring of each actor type
///   built from the last UPDATE; "not the leader" moves on to the next address at once, other failures after
///   0.5 s ± 0.25 s, as daprd does.
public final class SimulatedDaprd: Sendable {
  public let configuration: DaprdConfiguration
  /// The actor types the app behind this sidecar hosts (daprd learns them from the app; here they are given).
  public let actorTypes: [String]
  let addresses: AddressBook
  let tokens: any IdentityTokenSource
  let relistInterval: Duration
  let metrics: SimulatorMetrics?
  let logger: Logger
  private let state = Mutex(State())

  struct State {
    var view = OperatorView()
    var spiffeID: String?
    var certificateNotAfter: Date?
    var renewals = 0
    var renewalFailures = 0
    var lastRenewalError: String?
    var operatorReady = false
    var operatorEndpoint: String?
    var operatorConnections = 0
    var lastOperatorError: String?
    var placement = PlacementState()
  }

  /// What the sidecar knows from placement.
  struct PlacementState {
    var endpoint: String?
    var version: UInt64 = 0
    var unlockedVersion: UInt64 = 0
    /// An UNLOCK came after an UPDATE (at any version, 0 included: a namespace without actors), which is when daprd
    /// marks its placement target ready.
    var unlocked = false
    var updates = 0
    /// Actor type → ring; host name → app id.
    var rings: [String: HashRing] = [:]
    var appIDs: [String: String] = [:]
    var lastError: String?
  }

  public init(
    configuration: DaprdConfiguration, actorTypes: [String], addresses: AddressBook, tokens: any IdentityTokenSource,
    relistInterval: Duration = .seconds(60), metrics: SimulatorMetrics? = nil, logger: Logger
  ) {
    self.configuration = configuration
    self.actorTypes = actorTypes
    self.addresses = addresses
    self.tokens = tokens
    self.relistInterval = relistInterval
    self.metrics = metrics
    self.logger = logger
  }

  var anchors: TrustBundle {
    get throws { try TrustBundle(pemEncoded: configuration.trustAnchors) }
  }

  // === Running ===

  /// Runs until cancelled; throws only when the sidecar cannot start (no identity after daprd's retries).
  public func run() async throws {
    let bundle = LatestValue(try anchors)
    let endpoints = addresses.resolve(configuration.sentryAddress)
    guard let sentry = endpoints.first else {
      throw DaprdConfiguration.Unusable(description: "cannot resolve sentry's address \(configuration.sentryAddress)")
    }
    try await tokens.refresh()
    let svid = SVIDClient(
      request: .init(
        appID: configuration.appID, namespace: configuration.namespace, trustDomain: "",
        tokenFile: tokens.file),
      sentryHost: sentry.host, sentryPort: sentry.port, sentryID: try SPIFFEID(parsing: configuration.sentryID),
      trustAnchors: bundle, logger: logger)
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { [tokens] in
        while true {
          try await Task.sleep(for: tokens.refreshInterval)
          try? await tokens.refresh()
        }
      }
      let first = try await svid.fetchInitial(attempts: 100, delay: .seconds(3))
      recordIdentity(first)
      let identity = LatestValue(first)
      group.addTask { [self] in
        try await svid.keepRenewing(identity) { [self] outcome in recordRenewal(outcome) }
      }
      group.addTask { [self] in await runOperator(identity: identity, anchors: bundle) }
      if !configuration.placementAddresses.isEmpty {
        group.addTask { [self] in await runPlacement(identity: identity, anchors: bundle) }
      }
      try await group.next()
      group.cancelAll()
    }
  }

  /// Asks sentry for a certificate now, as a renewal would (for tests and the HTTP API).
  public func renewNow() async -> Result<String, any Error> {
    do {
      let bundle = LatestValue(try anchors)
      guard let sentry = addresses.resolve(configuration.sentryAddress).first else {
        throw SVIDError("cannot resolve \(configuration.sentryAddress)")
      }
      try? await tokens.refresh()
      let svid = SVIDClient(
        request: .init(
          appID: configuration.appID, namespace: configuration.namespace, trustDomain: "", tokenFile: tokens.file),
        sentryHost: sentry.host, sentryPort: sentry.port, sentryID: try SPIFFEID(parsing: configuration.sentryID),
        trustAnchors: bundle, logger: logger)
      let identity = try await svid.fetch()
      recordRenewal(.success(identity))
      return .success((try? identity.spiffeID.description) ?? "")
    } catch {
      recordRenewal(.failure(error))
      return .failure(error)
    }
  }

  func recordIdentity(_ identity: TLSIdentity) {
    state.withLock {
      $0.spiffeID = (try? identity.spiffeID)?.description
      $0.certificateNotAfter = identity.leaf.notValidAfter
    }
  }

  func recordRenewal(_ outcome: Result<TLSIdentity, any Error>) {
    switch outcome {
    case .success(let identity):
      recordIdentity(identity)
      state.withLock { $0.renewals += 1 }
      metrics?.renewals.increment()
    case .failure(let error):
      state.withLock {
        $0.renewalFailures += 1
        $0.lastRenewalError = "\(error)"
      }
      metrics?.renewalFailures.increment()
    }
  }

  // === Operator ===

  typealias OperatorClient = Dapr_Proto_Operator_V1_Operator.Client<HTTP2ClientTransport.Posix>

  func runOperator(identity: LatestValue<TLSIdentity>, anchors: LatestValue<TrustBundle>) async {
    let endpoints = addresses.resolve(configuration.controlPlaneAddress)
    guard !endpoints.isEmpty else {
      state.withLock { $0.lastOperatorError = "cannot resolve \(configuration.controlPlaneAddress)" }
      return
    }
    var backoff = Backoff(initial: .milliseconds(500), maximum: .seconds(10))
    let origin = ContinuousClock.now
    var attempt = 0
    while !Task.isCancelled {
      let endpoint = endpoints[attempt % endpoints.count]
      attempt += 1
      do {
        let operatorID = try SPIFFEID(parsing: configuration.operatorID)
        let transport = try SecureGRPC.clientTransport(
          host: endpoint.host, port: endpoint.port,
          security: .tls(
            identity: identity, verifier: SPIFFEPeerVerifier(trustBundle: anchors, requirement: .exactly(operatorID))))
        try await withGRPCClient(transport: transport) { grpc in
          let api = Dapr_Proto_Operator_V1_Operator.Client(wrapping: grpc)
          try await listAtStart(api)
          state.withLock {
            $0.operatorReady = true
            $0.operatorEndpoint = endpoint.description
            $0.operatorConnections += 1
          }
          backoff.reset()
          try await withThrowingTaskGroup(of: Void.self) { group in
            for kind in OperatorView.Kind.allCases {
              group.addTask { [self] in try await stream(kind, api) }
            }
            group.addTask { [self] in
              while true {
                try await Task.sleep(for: relistInterval)
                try await relist(api)
              }
            }
            // The first stream to end (the operator went away, or a stream fell behind) reconnects them all.
            try await group.next()
            group.cancelAll()
          }
        }
      } catch {
        state.withLock { $0.lastOperatorError = "\(error)" }
        logger.debug("Operator connection ended", metadata: ["error": "\(error)", "operator": "\(endpoint)"])
      }
      if Task.isCancelled { return }
      try? await Task.sleep(for: backoff.next(now: ContinuousClock.now - origin, random: Double.random(in: 0..<1)))
    }
  }

  /// daprd's start-up calls, in its order.
  func listAtStart(_ api: OperatorClient) async throws {
    let namespace = configuration.namespace
    if let name = configuration.configuration {
      var request = Dapr_Proto_Operator_V1_GetConfigurationRequest()
      request.namespace = namespace
      request.name = name
      let configuration = try await api.getConfiguration(request).configuration
      try state.withLock { try $0.view.set(.configuration, configuration) }
    }
    var resiliency = Dapr_Proto_Operator_V1_ListResiliencyRequest()
    resiliency.namespace = namespace
    do {
      let listed = try await api.listResiliency(resiliency).resiliencies
      try state.withLock { try $0.view.replace(.resiliency, with: listed) }
    } catch {
      // daprd only logs a failed ListResiliency.
      logger.warning("ListResiliency failed", metadata: ["error": "\(error)"])
    }
    try await relist(api, kinds: [.component, .httpEndpoint, .subscription, .mcpServer, .workflowAccessPolicy])
  }

  /// Lists `kinds` again (by default those daprd re-lists every minute).
  func relist(
    _ api: OperatorClient, kinds: [OperatorView.Kind] = [.component, .subscription, .mcpServer, .workflowAccessPolicy]
  ) async throws {
    let namespace = configuration.namespace
    for kind in kinds {
      let listed: [Data]
      switch kind {
      case .component:
        var request = Dapr_Proto_Operator_V1_ListComponentsRequest()
        request.namespace = namespace
        listed = try await api.listComponents(request).components
      case .httpEndpoint:
        var request = Dapr_Proto_Operator_V1_ListHTTPEndpointsRequest()
        request.namespace = namespace
        listed = try await api.listHTTPEndpoints(request).httpEndpoints
      case .subscription:
        var request = Dapr_Proto_Operator_V1_ListSubscriptionsRequest()
        request.namespace = namespace
        listed = try await api.listSubscriptionsV2(request).subscriptions
      case .mcpServer:
        var request = Dapr_Proto_Operator_V1_ListMCPServersRequest()
        request.namespace = namespace
        listed = try await Self.unimplementedAsEmpty { try await api.listMCPServers(request).mcpServers }
      case .workflowAccessPolicy:
        var request = Dapr_Proto_Operator_V1_ListWorkflowAccessPolicyRequest()
        request.namespace = namespace
        listed = try await Self.unimplementedAsEmpty { try await api.listWorkflowAccessPolicy(request).policies }
      case .resiliency:
        var request = Dapr_Proto_Operator_V1_ListResiliencyRequest()
        request.namespace = namespace
        listed = try await api.listResiliency(request).resiliencies
      case .configuration:
        continue
      }
      try state.withLock { try $0.view.replace(kind, with: listed) }
    }
  }

  /// daprd counts `Unimplemented` on the MCPServer and policy calls as nothing to load.
  static func unimplementedAsEmpty(_ call: () async throws -> [Data]) async throws -> [Data] {
    do {
      return try await call()
    } catch let error as RPCError where error.code == .unimplemented {
      return []
    }
  }

  /// Holds `kind`'s update stream, applying its events, until it ends; ending normally is an error too (the
  /// operator went away), so that the session reconnects.
  func stream(_ kind: OperatorView.Kind, _ api: OperatorClient) async throws {
    let namespace = configuration.namespace
    let apply: @Sendable (Int, Data) throws -> Void = { [self] type, object in
      try state.withLock { try $0.view.apply(kind, type: type, object) }
      metrics?.events(kind).increment()
      if kind == .component, let delay = Self.deliveryDelay(of: object) { metrics?.componentDelivery.record(delay) }
    }
    switch kind {
    case .component:
      var request = Dapr_Proto_Operator_V1_ComponentUpdateRequest()
      request.namespace = namespace
      try await api.componentUpdate(request) { response in
        for try await event in response.messages { try apply(event.type.rawValue, event.component) }
      }
    case .configuration:
      var request = Dapr_Proto_Operator_V1_ConfigurationUpdateRequest()
      request.namespace = namespace
      try await api.configurationUpdate(request) { response in
        for try await event in response.messages { try apply(event.type.rawValue, event.configuration) }
      }
    case .subscription:
      var request = Dapr_Proto_Operator_V1_SubscriptionUpdateRequest()
      request.namespace = namespace
      try await api.subscriptionUpdate(request) { response in
        for try await event in response.messages { try apply(event.type.rawValue, event.subscription) }
      }
    case .resiliency:
      var request = Dapr_Proto_Operator_V1_ResiliencyUpdateRequest()
      request.namespace = namespace
      try await api.resiliencyUpdate(request) { response in
        for try await event in response.messages { try apply(event.type.rawValue, event.resiliency) }
      }
    case .httpEndpoint:
      var request = Dapr_Proto_Operator_V1_HTTPEndpointUpdateRequest()
      request.namespace = namespace
      try await api.httpEndpointUpdate(request) { response in
        for try await event in response.messages { try apply(event.type.rawValue, event.httpEndpoints) }
      }
    case .mcpServer:
      var request = Dapr_Proto_Operator_V1_MCPServerUpdateRequest()
      request.namespace = namespace
      try await api.mcpServerUpdate(request) { response in
        for try await event in response.messages { try apply(event.type.rawValue, event.mcpServer) }
      }
    case .workflowAccessPolicy:
      var request = Dapr_Proto_Operator_V1_WorkflowAccessPolicyUpdateRequest()
      request.namespace = namespace
      try await api.workflowAccessPolicyUpdate(request) { response in
        for try await event in response.messages { try apply(event.type.rawValue, event.policy) }
      }
    }
    throw SVIDError("the operator ended the \(kind.rawValue) stream")
  }

  /// The annotation a test or the soak puts on a Component it changes: the change's time in Unix milliseconds.
  public static let changedAtAnnotation = "sidecar-simulator.dapr.io/changed-at"

  static func deliveryDelay(of object: Data) -> Duration? {
    guard let value = try? JSONCoding.parse(object)["metadata"]?["annotations"]?[changedAtAnnotation]?.stringValue,
      let milliseconds = Double(value)
    else { return nil }
    return .milliseconds(max(0, Date().timeIntervalSince1970 * 1000 - milliseconds))
  }

  // === Placement ===

  func runPlacement(identity: LatestValue<TLSIdentity>, anchors: LatestValue<TrustBundle>) async {
    let endpoints = configuration.placementAddresses.flatMap { addresses.resolve($0) }
    guard !endpoints.isEmpty else { return }
    var index = 0
    while !Task.isCancelled {
      let endpoint = endpoints[index % endpoints.count]
      index += 1
      var notLeader = false
      do {
        let placementID = try SPIFFEID(parsing: configuration.placementID)
        let transport = try SecureGRPC.clientTransport(
          host: endpoint.host, port: endpoint.port,
          security: .tls(
            identity: identity, verifier: SPIFFEPeerVerifier(trustBundle: anchors, requirement: .exactly(placementID))))
        let host = SimulatedSidecar(
          name: configuration.hostName, appID: configuration.appID, namespace: configuration.namespace,
          actorTypes: actorTypes, keepsOrders: false,
          onOrder: { [self] order in record(order, from: endpoint) })
        let ending = try await withGRPCClient(transport: transport) { grpc in await host.run(on: grpc) }
        notLeader = (ending as? RPCError)?.code == .failedPrecondition
        state.withLock { $0.placement.lastError = ending.map { "\($0)" } }
      } catch {
        state.withLock { $0.placement.lastError = "\(error)" }
      }
      // A lost stream halts every actor until a leader sends tables again.
      state.withLock { $0.placement = PlacementState(lastError: $0.placement.lastError) }
      if Task.isCancelled { return }
      if !notLeader { try? await Task.sleep(for: .milliseconds(250 + Int.random(in: 0...500))) }
    }
  }

  func record(_ order: SimulatedSidecar.Order, from endpoint: AddressBook.Endpoint) {
    state.withLock { state in
      state.placement.endpoint = endpoint.description
      switch order.operation {
      case "lock":
        state.placement.version = order.version
      case "update":
        state.placement.version = order.version
        state.placement.updates += 1
        let factor = Int(order.tables.replicationFactor)
        var rings: [String: HashRing] = [:]
        var appIDs: [String: String] = [:]
        for (type, table) in order.tables.entries {
          rings[type] = HashRing(replicationFactor: max(1, factor), hosts: table.loadMap.keys)
          for (name, host) in table.loadMap { appIDs[name] = host.id }
        }
        state.placement.rings = rings
        state.placement.appIDs = appIDs
      case "unlock":
        state.placement.unlockedVersion = order.version
        if state.placement.updates > 0 { state.placement.unlocked = true }
      default:
        break
      }
    }
    if order.operation == "update" { metrics?.placementTables.increment() }
  }

  // === What it knows ===

  /// The host of actor `type`/`id` on the ring of the last table, with its app id; nil before any table or for a
  /// type no host serves.
  public func host(actorType: String, id: String) -> (host: String, appID: String)? {
    state.withLock { state in
      guard let host = state.placement.rings[actorType]?.host(for: id) else { return nil }
      return (host, state.placement.appIDs[host] ?? "")
    }
  }

  public var view: OperatorView { state.withLock { $0.view } }

  /// Healthy as daprd's `/v1.0/healthz`: an identity, the operator's start-up lists done, and (with placement) a
  /// table unlocked.
  public var isHealthy: Bool {
    state.withLock { state in
      state.spiffeID != nil && state.operatorReady
        && (configuration.placementAddresses.isEmpty || state.placement.unlocked)
    }
  }

  /// `/v1.0/metadata` in daprd's JSON shape.
  public var metadata: JSONValue {
    let (view, placement) = state.withLock { ($0.view, $0.placement) }
    let appID = configuration.appID
    let components: [JSONValue] = view.loaded(.component, appID: appID).map { object in
      [
        "name": object["metadata"]?["name"] ?? "", "type": object["spec"]?["type"] ?? "",
        "version": object["spec"]?["version"] ?? "", "capabilities": [],
      ]
    }
    let subscriptions: [JSONValue] = view.loaded(.subscription, appID: appID).map { object in
      let spec = object["spec"]
      var rules: [JSONValue] = (spec?["routes"]?["rules"]?.arrayValue ?? []).map {
        ["match": $0["match"] ?? "", "path": $0["path"] ?? ""]
      }
      if let fallback = spec?["routes"]?["default"] { rules.append(["match": "", "path": fallback]) }
      return [
        "pubsubname": spec?["pubsubname"] ?? "", "topic": spec?["topic"] ?? "",
        "metadata": spec?["metadata"] ?? [:], "rules": ["rules": .array(rules)],
        "deadLetterTopic": spec?["deadLetterTopic"] ?? "", "type": "DECLARATIVE",
      ]
    }
    let httpEndpoints: [JSONValue] = view.loaded(.httpEndpoint, appID: appID).map {
      ["name": $0["metadata"]?["name"] ?? ""]
    }
    let actors: [JSONValue] = actorTypes.map { ["type": .string($0), "count": 0] }
    return [
      "id": .string(appID), "runtimeVersion": "simulated", "enabledFeatures": [],
      "actors": .array(actors), "components": .array(components), "httpEndpoints": .array(httpEndpoints),
      "subscriptions": .array(subscriptions),
      "actorRuntime": [
        "runtimeStatus": placement.unlocked ? "RUNNING" : "INITIALIZING",
        "activeActors": .array(actors), "hostReady": .bool(placement.unlocked),
        "placement": .string(placement.endpoint.map { "placement: connected to \($0)" } ?? "placement: disconnected"),
      ],
      "extended": ["daprRuntimeVersion": "simulated", "appID": .string(appID)],
    ]
  }

  /// Everything the simulator knows, beyond daprd's metadata: identity, operator and placement state.
  public var details: JSONValue {
    let state = self.state.withLock { $0 }
    var objects: JSONObject = [:]
    for kind in OperatorView.Kind.allCases {
      objects[kind.rawValue] = .array(state.view.names(kind).map { .string($0) })
    }
    var rings: JSONObject = [:]
    for (type, ring) in state.placement.rings { rings[type] = .array(ring.hosts.sorted().map { .string($0) }) }
    return [
      "pod": .string(configuration.podName), "namespace": .string(configuration.namespace),
      "appID": .string(configuration.appID), "healthy": .bool(isHealthy),
      "identity": [
        "spiffeID": state.spiffeID.map { .string($0) } ?? .null,
        "notAfter": state.certificateNotAfter.map { .string(ISO8601DateFormatter().string(from: $0)) } ?? .null,
        "renewals": .int(Int64(state.renewals)), "renewalFailures": .int(Int64(state.renewalFailures)),
        "lastRenewalError": state.lastRenewalError.map { .string($0) } ?? .null,
      ],
      "operator": [
        "ready": .bool(state.operatorReady), "endpoint": state.operatorEndpoint.map { .string($0) } ?? .null,
        "connections": .int(Int64(state.operatorConnections)), "objects": .object(objects),
        "lastError": state.lastOperatorError.map { .string($0) } ?? .null,
      ],
      "placement": [
        "endpoint": state.placement.endpoint.map { .string($0) } ?? .null,
        "version": .int(Int64(state.placement.version)),
        "unlockedVersion": .int(Int64(state.placement.unlockedVersion)),
        "updates": .int(Int64(state.placement.updates)), "rings": .object(rings),
        "lastError": state.placement.lastError.map { .string($0) } ?? .null,
      ],
    ]
  }
}
