import ControlPlaneKit
import DaprProto
import Foundation
import GRPCCore
import Kubernetes
import SwiftProtobuf

/// `dapr.proto.operator.v1.Operator`: what daprd lists at start-up and the update streams it keeps open, served
/// from the informers' caches. Every call is authorised from the client certificate's SPIFFE ID.
struct OperatorService: Dapr_Proto_Operator_V1_Operator.SimpleServiceProtocol {
  let cache: ResourceCache
  let hub: ResourceHub

  /// The caller's scope, when its certificate's namespace is the one asked for.
  static func authorize(_ context: ServerContext, namespace: String) throws(RPCError) -> StreamScope {
    guard let id = try? PeerIdentity.spiffeID(of: context) else {
      throw RPCError(code: .permissionDenied, message: "failed to determine identity")
    }
    guard !namespace.isEmpty, id.namespace == namespace else {
      throw RPCError(
        code: .permissionDenied,
        message: "identity does not match requested namespace exp=\(namespace) got=\(id.namespace)")
    }
    return StreamScope(namespace: namespace, appID: id.appID)
  }

  /// The encoded objects of `kind` the caller may list: components filtered by scope (as Dapr), the rest whole.
  func list(_ kind: ResourceKind, scope: StreamScope) -> [Data] {
    cache.objects(kind, namespace: scope.namespace).compactMap { object in
      if kind == .component, !ResourceSnapshot(object: object).isVisible(to: scope) { return nil }
      guard let resolved = cache.resolved(kind, object) else { return nil }
      return try? JSONCoding.encode(resolved)
    }
  }

  func get(_ kind: ResourceKind, name: String, scope: StreamScope) throws(RPCError) -> Data {
    guard
      let object = cache.objects(kind, namespace: scope.namespace).first(where: {
        $0["metadata"]?["name"]?.stringValue == name
      })
    else {
      throw RPCError(code: .notFound, message: "\(kind.rawValue) \(name) not found in namespace \(scope.namespace)")
    }
    do {
      return try JSONCoding.encode(try cache.resolving(kind, object))
    } catch let error as SecretResolution.MissingSecret {
      throw RPCError(code: .failedPrecondition, message: error.description)
    } catch {
      throw RPCError(code: .internalError, message: "cannot encode \(kind.rawValue) \(name): \(error)")
    }
  }

  /// Runs an update stream until the client goes away or the operator stops; a stream that falls behind ends with
  /// `ResourceExhausted`.
  ///
  /// gRPC tells a handler that its client went away through the RPC's cancellation handle, not by cancelling its
  /// task: without the handler below, the stream of a sidecar that is gone would stay open (and queue changes) until
  /// the next change of its kind failed to write, which for a kind that seldom changes is never.
  func stream<Event>(
    _ kind: ResourceKind, namespace: String, context: ServerContext, writer: RPCWriter<Event>,
    make: @escaping (ResourceEventType, Data) -> Event
  ) async throws {
    let scope = try Self.authorize(context, namespace: namespace)
    let (id, events) = hub.open(kind, scope: scope)
    defer { hub.close(id, kind: kind) }
    let hub = self.hub
    try await withRPCCancellationHandler {
      for await case .event(let type, let data, let queuedAt) in events {
        try await writer.write(make(type, data))
        hub.metrics.deliveryDelay.record(ContinuousClock.now - queuedAt)
      }
    } onCancelRPC: {
      hub.close(id, kind: kind)
    }
    if hub.didOverflow(id) {
      throw RPCError(
        code: .resourceExhausted,
        message: "this \(kind.rawValue) stream fell \(ResourceHub.queueLimit) events behind; reconnect and list again")
    }
  }

  static func eventType(_ type: ResourceEventType) -> Dapr_Proto_Operator_V1_ResourceEventType {
    Dapr_Proto_Operator_V1_ResourceEventType(rawValue: type.rawValue) ?? .unknown
  }

  // === Components ===

  func listComponents(
    request: Dapr_Proto_Operator_V1_ListComponentsRequest, context: ServerContext
  ) async throws
    -> Dapr_Proto_Operator_V1_ListComponentResponse
  {
    var response = Dapr_Proto_Operator_V1_ListComponentResponse()
    response.components = list(.component, scope: try Self.authorize(context, namespace: request.namespace))
    return response
  }

  func componentUpdate(
    request: Dapr_Proto_Operator_V1_ComponentUpdateRequest,
    response: RPCWriter<Dapr_Proto_Operator_V1_ComponentUpdateEvent>, context: ServerContext
  ) async throws {
    try await stream(.component, namespace: request.namespace, context: context, writer: response) { type, data in
      var event = Dapr_Proto_Operator_V1_ComponentUpdateEvent()
      event.component = data
      event.type = Self.eventType(type)
      return event
    }
  }

  // === Configuration ===

  func getConfiguration(
    request: Dapr_Proto_Operator_V1_GetConfigurationRequest, context: ServerContext
  )
    async throws -> Dapr_Proto_Operator_V1_GetConfigurationResponse
  {
    let scope = try Self.authorize(context, namespace: request.namespace)
    var response = Dapr_Proto_Operator_V1_GetConfigurationResponse()
    response.configuration = try get(.configuration, name: request.name, scope: scope)
    return response
  }

  func configurationUpdate(
    request: Dapr_Proto_Operator_V1_ConfigurationUpdateRequest,
    response: RPCWriter<Dapr_Proto_Operator_V1_ConfigurationUpdateEvent>, context: ServerContext
  ) async throws {
    try await stream(.configuration, namespace: request.namespace, context: context, writer: response) { type, data in
      var event = Dapr_Proto_Operator_V1_ConfigurationUpdateEvent()
      event.configuration = data
      event.type = Self.eventType(type)
      return event
    }
  }

  // === Subscriptions (always v2alpha1) ===

  func listSubscriptions(
    request: Google_Protobuf_Empty, context: ServerContext
  ) async throws
    -> Dapr_Proto_Operator_V1_ListSubscriptionsResponse
  {
    // The legacy call names no namespace, so no caller can be authorised for it (as in Dapr).
    throw RPCError(code: .permissionDenied, message: "ListSubscriptions is not supported; use ListSubscriptionsV2")
  }

  func listSubscriptionsV2(
    request: Dapr_Proto_Operator_V1_ListSubscriptionsRequest, context: ServerContext
  )
    async throws -> Dapr_Proto_Operator_V1_ListSubscriptionsResponse
  {
    var response = Dapr_Proto_Operator_V1_ListSubscriptionsResponse()
    response.subscriptions = list(.subscription, scope: try Self.authorize(context, namespace: request.namespace))
    return response
  }

  func subscriptionUpdate(
    request: Dapr_Proto_Operator_V1_SubscriptionUpdateRequest,
    response: RPCWriter<Dapr_Proto_Operator_V1_SubscriptionUpdateEvent>, context: ServerContext
  ) async throws {
    try await stream(.subscription, namespace: request.namespace, context: context, writer: response) { type, data in
      var event = Dapr_Proto_Operator_V1_SubscriptionUpdateEvent()
      event.subscription = data
      event.type = Self.eventType(type)
      return event
    }
  }

  // === Resiliency ===

  func getResiliency(
    request: Dapr_Proto_Operator_V1_GetResiliencyRequest, context: ServerContext
  ) async throws
    -> Dapr_Proto_Operator_V1_GetResiliencyResponse
  {
    let scope = try Self.authorize(context, namespace: request.namespace)
    var response = Dapr_Proto_Operator_V1_GetResiliencyResponse()
    response.resiliency = try get(.resiliency, name: request.name, scope: scope)
    return response
  }

  func listResiliency(
    request: Dapr_Proto_Operator_V1_ListResiliencyRequest, context: ServerContext
  ) async throws
    -> Dapr_Proto_Operator_V1_ListResiliencyResponse
  {
    var response = Dapr_Proto_Operator_V1_ListResiliencyResponse()
    response.resiliencies = list(.resiliency, scope: try Self.authorize(context, namespace: request.namespace))
    return response
  }

  func resiliencyUpdate(
    request: Dapr_Proto_Operator_V1_ResiliencyUpdateRequest,
    response: RPCWriter<Dapr_Proto_Operator_V1_ResiliencyUpdateEvent>, context: ServerContext
  ) async throws {
    try await stream(.resiliency, namespace: request.namespace, context: context, writer: response) { type, data in
      var event = Dapr_Proto_Operator_V1_ResiliencyUpdateEvent()
      event.resiliency = data
      event.type = Self.eventType(type)
      return event
    }
  }

  // === HTTP endpoints ===

  func listHTTPEndpoints(
    request: Dapr_Proto_Operator_V1_ListHTTPEndpointsRequest, context: ServerContext
  )
    async throws -> Dapr_Proto_Operator_V1_ListHTTPEndpointsResponse
  {
    var response = Dapr_Proto_Operator_V1_ListHTTPEndpointsResponse()
    response.httpEndpoints = list(.httpEndpoint, scope: try Self.authorize(context, namespace: request.namespace))
    return response
  }

  func httpEndpointUpdate(
    request: Dapr_Proto_Operator_V1_HTTPEndpointUpdateRequest,
    response: RPCWriter<Dapr_Proto_Operator_V1_HTTPEndpointUpdateEvent>, context: ServerContext
  ) async throws {
    try await stream(.httpEndpoint, namespace: request.namespace, context: context, writer: response) { type, data in
      var event = Dapr_Proto_Operator_V1_HTTPEndpointUpdateEvent()
      event.httpEndpoints = data
      event.type = Self.eventType(type)
      return event
    }
  }

  // === MCP servers (Dapr 1.18; an operator on a cluster without the CRD answers empty, as Dapr) ===

  func listMCPServers(
    request: Dapr_Proto_Operator_V1_ListMCPServersRequest, context: ServerContext
  ) async throws
    -> Dapr_Proto_Operator_V1_ListMCPServersResponse
  {
    var response = Dapr_Proto_Operator_V1_ListMCPServersResponse()
    response.mcpServers = list(.mcpServer, scope: try Self.authorize(context, namespace: request.namespace))
    return response
  }

  func mcpServerUpdate(
    request: Dapr_Proto_Operator_V1_MCPServerUpdateRequest,
    response: RPCWriter<Dapr_Proto_Operator_V1_MCPServerUpdateEvent>, context: ServerContext
  ) async throws {
    try await stream(.mcpServer, namespace: request.namespace, context: context, writer: response) { type, data in
      var event = Dapr_Proto_Operator_V1_MCPServerUpdateEvent()
      event.mcpServer = data
      event.type = Self.eventType(type)
      return event
    }
  }

  // === Workflow access policies (Dapr 1.18; as MCP servers) ===

  func listWorkflowAccessPolicy(
    request: Dapr_Proto_Operator_V1_ListWorkflowAccessPolicyRequest, context: ServerContext
  ) async throws -> Dapr_Proto_Operator_V1_ListWorkflowAccessPolicyResponse {
    var response = Dapr_Proto_Operator_V1_ListWorkflowAccessPolicyResponse()
    response.policies = list(.workflowAccessPolicy, scope: try Self.authorize(context, namespace: request.namespace))
    return response
  }

  func workflowAccessPolicyUpdate(
    request: Dapr_Proto_Operator_V1_WorkflowAccessPolicyUpdateRequest,
    response: RPCWriter<Dapr_Proto_Operator_V1_WorkflowAccessPolicyUpdateEvent>, context: ServerContext
  ) async throws {
    try await stream(.workflowAccessPolicy, namespace: request.namespace, context: context, writer: response) {
      type, data in
      var event = Dapr_Proto_Operator_V1_WorkflowAccessPolicyUpdateEvent()
      event.policy = data
      event.type = Self.eventType(type)
      return event
    }
  }
}
