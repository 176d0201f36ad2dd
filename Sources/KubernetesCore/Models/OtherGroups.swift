// Kinds outside the core group: apps, coordination, authentication, admission registration, API extensions.

/// `apps/v1/Deployment`.
public struct Deployment: KubernetesObject {
  public static let resource = ResourceDescriptor(
    group: "apps", version: "v1", plural: "deployments", kind: "Deployment", namespaced: true)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var spec: WorkloadSpec {
    get { self["spec"] ?? WorkloadSpec() }
    set { self["spec"] = newValue }
  }
}

/// `apps/v1/StatefulSet`.
public struct StatefulSet: KubernetesObject {
  public static let resource = ResourceDescriptor(
    group: "apps", version: "v1", plural: "statefulsets", kind: "StatefulSet", namespaced: true)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var spec: WorkloadSpec {
    get { self["spec"] ?? WorkloadSpec() }
    set { self["spec"] = newValue }
  }
}

/// `argoproj.io/v1alpha1/Rollout` (Argo Rollouts): a Deployment-shaped workload whose pod template the operator reads
/// like a Deployment's.
public struct ArgoRollout: KubernetesObject {
  public static let resource = ResourceDescriptor(
    group: "argoproj.io", version: "v1alpha1", plural: "rollouts", kind: "Rollout", namespaced: true)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var spec: WorkloadSpec {
    get { self["spec"] ?? WorkloadSpec() }
    set { self["spec"] = newValue }
  }
}

/// The part Deployments, StatefulSets and Rollouts share: replicas, selector, pod template.
public struct WorkloadSpec: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var replicas: Int? {
    get { self["replicas"] }
    set { self["replicas"] = newValue }
  }
  public var selector: LabelSelector? {
    get { self["selector"] }
    set { self["selector"] = newValue }
  }
  public var template: PodTemplateSpec {
    get { self["template"] ?? PodTemplateSpec() }
    set { self["template"] = newValue }
  }
  /// StatefulSets only.
  public var serviceName: String? {
    get { self["serviceName"] }
    set { self["serviceName"] = newValue }
  }
}

/// A label selector; `matchExpressions` is kept as JSON.
public struct LabelSelector: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var matchLabels: [String: String]? {
    get { self["matchLabels"] }
    set { self["matchLabels"] = newValue }
  }
}

/// `coordination.k8s.io/v1/Lease`.
public struct Lease: KubernetesObject {
  public static let resource = ResourceDescriptor(
    group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease", namespaced: true)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var spec: LeaseSpec {
    get { self["spec"] ?? LeaseSpec() }
    set { self["spec"] = newValue }
  }
}

/// Who holds a lease and until when. Times are RFC 3339 with microseconds (`MicroTime`).
public struct LeaseSpec: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var holderIdentity: String? {
    get { self["holderIdentity"] }
    set { self["holderIdentity"] = newValue }
  }
  public var leaseDurationSeconds: Int? {
    get { self["leaseDurationSeconds"] }
    set { self["leaseDurationSeconds"] = newValue }
  }
  public var acquireTime: String? {
    get { self["acquireTime"] }
    set { self["acquireTime"] = newValue }
  }
  public var renewTime: String? {
    get { self["renewTime"] }
    set { self["renewTime"] = newValue }
  }
  public var leaseTransitions: Int? {
    get { self["leaseTransitions"] }
    set { self["leaseTransitions"] = newValue }
  }
}

/// `authentication.k8s.io/v1/TokenReview`: asks the API server who a bearer token belongs to.
public struct TokenReview: KubernetesObject {
  public static let resource = ResourceDescriptor(
    group: "authentication.k8s.io", version: "v1", plural: "tokenreviews", kind: "TokenReview", namespaced: false)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  /// A review of `token`, valid for any of `audiences` (empty: the API server's own).
  public init(token: String, audiences: [String] = []) {
    self.init(json: ["apiVersion": .string(Self.resource.apiVersion), "kind": .string(Self.resource.kind)])
    var spec = JSONObject()
    spec["token"] = .string(token)
    if !audiences.isEmpty { spec["audiences"] = audiences.jsonValue }
    json["spec"] = .object(spec)
  }

  public var status: TokenReviewStatus {
    self["status"] ?? TokenReviewStatus()
  }
}

/// The answer of a TokenReview.
public struct TokenReviewStatus: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var authenticated: Bool { self["authenticated"] ?? false }
  public var user: UserInfo { self["user"] ?? UserInfo() }
  public var audiences: [String] { self["audiences"] ?? [] }
  public var error: String? { self["error"] }
}

/// Who a request or token belongs to.
public struct UserInfo: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var username: String? { self["username"] }
  public var uid: String? { self["uid"] }
  public var groups: [String] { self["groups"] ?? [] }
  /// Extra claims, such as `authentication.kubernetes.io/pod-name`.
  public var extra: [String: [String]] { self["extra"] ?? [:] }
}

/// `authentication.k8s.io/v1/TokenRequest`, the `token` subresource of a ServiceAccount.
public struct TokenRequest: KubernetesObject {
  public static let resource = ResourceDescriptor(
    group: "authentication.k8s.io", version: "v1", plural: "tokenrequests", kind: "TokenRequest", namespaced: true)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  /// A request for a token with `audiences`, valid for `expirationSeconds`, optionally bound to a pod.
  public init(audiences: [String], expirationSeconds: Int, boundPod: (name: String, uid: String)? = nil) {
    self.init(json: ["apiVersion": .string(Self.resource.apiVersion), "kind": .string(Self.resource.kind)])
    var spec: JSONObject = ["audiences": audiences.jsonValue, "expirationSeconds": .int(Int64(expirationSeconds))]
    if let boundPod {
      spec["boundObjectRef"] = [
        "apiVersion": "v1", "kind": "Pod", "name": .string(boundPod.name), "uid": .string(boundPod.uid),
      ]
    }
    json["spec"] = .object(spec)
  }

  /// The issued token.
  public var token: String? { json["status"]?["token"]?.stringValue }
  public var expirationTimestamp: String? { json["status"]?["expirationTimestamp"]?.stringValue }
}

/// `admissionregistration.k8s.io/v1/MutatingWebhookConfiguration`.
public struct MutatingWebhookConfiguration: KubernetesObject {
  public static let resource = ResourceDescriptor(
    group: "admissionregistration.k8s.io", version: "v1", plural: "mutatingwebhookconfigurations",
    kind: "MutatingWebhookConfiguration", namespaced: false)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var webhooks: [Webhook]? {
    get { self["webhooks"] }
    set { self["webhooks"] = newValue }
  }
}

/// One webhook of a webhook configuration; rules and selectors are kept as JSON.
public struct Webhook: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var name: String? {
    get { self["name"] }
    set { self["name"] = newValue }
  }
  public var clientConfig: WebhookClientConfig {
    get { self["clientConfig"] ?? WebhookClientConfig() }
    set { self["clientConfig"] = newValue }
  }
  public var failurePolicy: String? {
    get { self["failurePolicy"] }
    set { self["failurePolicy"] = newValue }
  }
}

/// How the API server reaches a webhook: a URL or a Service, and the CA bundle it trusts.
public struct WebhookClientConfig: JSONObjectView {
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  /// Base64 of the PEM bundle, as the API serves it.
  public var caBundle: String? {
    get { self["caBundle"] }
    set { self["caBundle"] = newValue }
  }
  public var url: String? {
    get { self["url"] }
    set { self["url"] = newValue }
  }
  /// `{namespace, name, path, port}`.
  public var service: JSONObject? {
    get { self["service"] }
    set { self["service"] = newValue }
  }
}

/// `apiextensions.k8s.io/v1/CustomResourceDefinition`.
public struct CustomResourceDefinition: KubernetesObject {
  public static let resource = ResourceDescriptor(
    group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions",
    kind: "CustomResourceDefinition", namespaced: false)
  public var json: JSONObject
  public init(json: JSONObject) { self.json = json }

  public var group: String? { json["spec"]?["group"]?.stringValue }

  /// The conversion webhook's client config, when the CRD converts through a webhook.
  public var conversionWebhookClientConfig: WebhookClientConfig? {
    json["spec"]?["conversion"]?["webhook"]?["clientConfig"].flatMap(WebhookClientConfig.init(jsonValue:))
  }

  /// True once the API server serves the CRD's resources.
  public var isEstablished: Bool {
    let conditions = json["status"]?["conditions"]?.arrayValue ?? []
    return conditions.contains { $0["type"]?.stringValue == "Established" && $0["status"]?.stringValue == "True" }
  }
}
