// Dapr's custom resources (group `dapr.io`), as typed views: the operator serves them to sidecars as the JSON it
// read, so everything the CRDs allow survives untouched.

/// Scopes: the app ids an object applies to (empty: every app in the namespace).
public protocol DaprScopedObject: KubernetesObject {}

extension DaprScopedObject {
  public var scopes: [String]? {
    get { self["scopes"] }
    set { self["scopes"] = newValue }
  }

  /// True when `appID` may see this object.
  public func isInScope(of appID: String) -> Bool {
    guard let scopes, !scopes.isEmpty else { return true }
    return scopes.contains(appID)
  }
}

/// `dapr.io/v1alpha1/Component`.
public struct DaprComponent: DaprScopedObject {
  public static let resource = ResourceDescriptor(
    group: "dapr.io", version: "v1alpha1", plural: "components", kind: "Component", namespaced: true)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var spec: ComponentSpec {
    get { self["spec"] ?? ComponentSpec() }
    set { self["spec"] = newValue }
  }
  /// `auth.secretStore`: the secret store that resolves `secretKeyRef`s (empty or `kubernetes`: the operator).
  public var secretStore: String? {
    get { json["auth"]?["secretStore"]?.stringValue }
    set {
      var auth = json["auth"]?.objectValue ?? [:]
      auth["secretStore"] = newValue.map(JSONValue.string)
      json["auth"] = .object(auth)
    }
  }
}

/// What a Component is.
public struct ComponentSpec: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var type: String? {
    get { self["type"] }
    set { self["type"] = newValue }
  }
  public var version: String? {
    get { self["version"] }
    set { self["version"] = newValue }
  }
  public var metadata: [MetadataItem] {
    get { self["metadata"] ?? [] }
    set { self["metadata"] = newValue }
  }
  public var initTimeout: String? {
    get { self["initTimeout"] }
    set { self["initTimeout"] = newValue }
  }
  public var ignoreErrors: Bool? {
    get { self["ignoreErrors"] }
    set { self["ignoreErrors"] = newValue }
  }
}

/// One `name`/`value` (or secret or env reference) pair of a Component or HTTPEndpoint.
public struct MetadataItem: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var name: String? {
    get { self["name"] }
    set { self["name"] = newValue }
  }
  /// Any JSON; daprd reads strings, numbers and booleans.
  public var value: JSONValue? {
    get { self["value"] }
    set { self["value"] = newValue }
  }
  public var secretKeyRef: SecretKeyRef? {
    get { self["secretKeyRef"] }
    set { self["secretKeyRef"] = newValue }
  }
  public var envRef: String? {
    get { self["envRef"] }
    set { self["envRef"] = newValue }
  }
}

/// A reference to one key of a Secret; the key defaults to the secret's name.
public struct SecretKeyRef: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var name: String? {
    get { self["name"] }
    set { self["name"] = newValue }
  }
  public var key: String? {
    get { self["key"] }
    set { self["key"] = newValue }
  }
}

/// `dapr.io/v1alpha1/Configuration`.
public struct DaprConfiguration: KubernetesObject {
  public static let resource = ResourceDescriptor(
    group: "dapr.io", version: "v1alpha1", plural: "configurations", kind: "Configuration", namespaced: true)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  /// `spec.mtls`.
  public var mtls: MTLSSpec {
    get { json["spec"]?["mtls"].flatMap(MTLSSpec.init(jsonValue:)) ?? MTLSSpec() }
    set {
      var spec = json["spec"]?.objectValue ?? [:]
      spec["mtls"] = newValue.jsonValue
      json["spec"] = .object(spec)
    }
  }

  /// `spec.accessControl.trustDomain`.
  public var accessControlTrustDomain: String? {
    json["spec"]?["accessControl"]?["trustDomain"]?.stringValue
  }
}

/// The `mtls` section of a Configuration (read by sentry and the injector from `daprsystem`).
public struct MTLSSpec: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  /// Whether sidecars use mTLS; unset means true.
  public var enabled: Bool? {
    get { self["enabled"] }
    set { self["enabled"] = newValue }
  }
  public var workloadCertTTL: String? {
    get { self["workloadCertTTL"] }
    set { self["workloadCertTTL"] = newValue }
  }
  public var allowedClockSkew: String? {
    get { self["allowedClockSkew"] }
    set { self["allowedClockSkew"] = newValue }
  }
  public var controlPlaneTrustDomain: String? {
    get { self["controlPlaneTrustDomain"] }
    set { self["controlPlaneTrustDomain"] = newValue }
  }
  public var sentryAddress: String? {
    get { self["sentryAddress"] }
    set { self["sentryAddress"] = newValue }
  }
  /// `[{name, options}]`; only `jwks` may be configured.
  public var tokenValidators: [JSONObject]? {
    get { self["tokenValidators"] }
    set { self["tokenValidators"] = newValue }
  }
}

/// `dapr.io/v2alpha1/Subscription`, the stored and served version.
public struct DaprSubscription: DaprScopedObject {
  public static let resource = ResourceDescriptor(
    group: "dapr.io", version: "v2alpha1", plural: "subscriptions", kind: "Subscription", namespaced: true)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }
}

/// `dapr.io/v1alpha1/Subscription`, the older form with a single `route`.
public struct DaprSubscriptionV1Alpha1: DaprScopedObject {
  public static let resource = ResourceDescriptor(
    group: "dapr.io", version: "v1alpha1", plural: "subscriptions", kind: "Subscription", namespaced: true)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }
}

/// `dapr.io/v1alpha1/Resiliency`.
public struct DaprResiliency: DaprScopedObject {
  public static let resource = ResourceDescriptor(
    group: "dapr.io", version: "v1alpha1", plural: "resiliencies", kind: "Resiliency", namespaced: true)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }
}

/// `dapr.io/v1alpha1/HTTPEndpoint`.
public struct DaprHTTPEndpoint: DaprScopedObject {
  public static let resource = ResourceDescriptor(
    group: "dapr.io", version: "v1alpha1", plural: "httpendpoints", kind: "HTTPEndpoint", namespaced: true)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }
}

/// `dapr.io/v1alpha1/MCPServer`: a Model Context Protocol server that sidecars reach for durable tool calls.
public struct DaprMCPServer: DaprScopedObject {
  public static let resource = ResourceDescriptor(
    group: "dapr.io", version: "v1alpha1", plural: "mcpservers", kind: "MCPServer", namespaced: true)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }
}

/// `dapr.io/v1alpha1/WorkflowAccessPolicy`: which apps may schedule which workflows and activities on an app.
public struct DaprWorkflowAccessPolicy: DaprScopedObject {
  public static let resource = ResourceDescriptor(
    group: "dapr.io", version: "v1alpha1", plural: "workflowaccesspolicies", kind: "WorkflowAccessPolicy",
    namespaced: true)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }
}

/// The one rule for `dapr.io/enabled`, used by the injector, the Service reconciler and the watchdog alike: the value
/// `true` in any case. Dapr's reconciler and watchdog accept any truthy value (`yes`, `on`, `1`) while its injector
/// accepts only `true`, so a pod annotated `yes` got a Service and was deleted by the watchdog again and again without
/// ever being injected.
public enum DaprEnabled {
  public static let annotation = "dapr.io/enabled"

  public static func isEnabled(_ value: String?) -> Bool { value?.lowercased() == "true" }

  public static func isEnabled(annotations: [String: String]?) -> Bool { isEnabled(annotations?[annotation]) }
}
