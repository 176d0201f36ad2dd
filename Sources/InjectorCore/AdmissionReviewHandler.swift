import ControlPlaneCore
import Foundation
import KubernetesCore

/// Answers one AdmissionReview (`admission.k8s.io/v1` or `v1beta1`, echoed back) as Dapr's webhook does, without
/// any I/O: the HTTP status and body to send, and what happened, for metrics and logs.
public struct AdmissionReviewHandler: Sendable {
  public var planner: PatchPlanner
  public var allowList: ServiceAccountAllowList
  /// The Components with a container annotation in a namespace (from a cache; nil until the cache has loaded), read
  /// only for pods that ask for `dapr.io/inject-pluggable-components`.
  public var pluggableComponents: @Sendable (_ namespace: String) -> [PluggableComponent]?

  public init(
    planner: PatchPlanner, allowList: ServiceAccountAllowList,
    pluggableComponents: @escaping @Sendable (_ namespace: String) -> [PluggableComponent]? = { _ in [] }
  ) {
    self.planner = planner
    self.allowList = allowList
    self.pluggableComponents = pluggableComponents
  }

  public enum Outcome: Hashable, Sendable {
    /// The request itself was unusable (no review was answered).
    case badRequest
    /// The body ended short of its `Content-Length`: the client gave up mid-request and reads no answer. Not a
    /// failed injection.
    case abandoned(received: Int, declared: Int)
    /// Answered without a patch: not a pod, not enabled, already injected.
    case notInjected(reason: NotInjectedReason)
    /// A pod from a user outside the allow-list: admitted without a sidecar.
    case unauthorized(username: String)
    case injected(appID: String, warnings: [AnnotationWarning])
    /// The pod is refused (`allowed: false`).
    case refused(appID: String, reason: String)
  }

  public struct Answer: Sendable {
    public let status: Int
    public let contentType: String
    public let body: Data
    public let outcome: Outcome
    /// What the review's `warnings` carry (`kubectl` prints each as `Warning: ...`).
    public var warnings: [AnnotationWarning] = []
  }

  /// - Parameter declaredLength: the request's `Content-Length`, when it had one. A body that ended short of it was
  ///   cut off by a client that gave up (a reset stream, a closed connection): it is not a review to judge, and
  ///   answering it as malformed JSON would count the client's exit as a failed injection.
  public func handle(body: Data, contentType: String?, declaredLength: Int? = nil) -> Answer {
    guard !body.isEmpty else { return Self.plain(400, "empty body", .badRequest) }
    if let declaredLength, body.count != declaredLength {
      return Self.plain(
        400, "the request body has \(body.count) bytes where its Content-Length declares \(declaredLength)",
        body.count < declaredLength ? .abandoned(received: body.count, declared: declaredLength) : .badRequest)
    }
    guard contentType == "application/json" else {
      return Self.plain(415, "invalid Content-Type, expected `application/json`", .badRequest)
    }
    let review: JSONValue
    do {
      review = try JSONCoding.parse(body)
      guard review.objectValue != nil else { throw InjectionError("the AdmissionReview is not a JSON object") }
    } catch {
      return answer(
        review: nil, allowed: false, message: "could not decode the AdmissionReview: \(error)",
        outcome: .refused(appID: "", reason: "\(error)"))
    }
    let request = review["request"] ?? .null
    guard request["kind"]?["kind"]?.stringValue == "Pod" else {
      return answer(review: review, allowed: true, outcome: .notInjected(reason: .notAPod))
    }
    let pod = request["object"] ?? .null
    guard DaprEnabled.isEnabled(pod["metadata"]?["annotations"]?[DaprEnabled.annotation]?.stringValue) else {
      return answer(
        review: review, allowed: true, warnings: Self.notEnabledWarnings(pod["metadata"]?["annotations"]),
        outcome: .notInjected(reason: .notEnabled))
    }
    let user = request["userInfo"] ?? .null
    let username = user["username"]?.stringValue ?? ""
    guard
      allowList.allows(
        username: username, uid: user["uid"]?.stringValue ?? "",
        groups: user["groups"]?.arrayValue?.compactMap(\.stringValue) ?? [])
    else {
      return answer(review: review, allowed: true, outcome: .unauthorized(username: username))
    }
    let namespace = request["namespace"]?.stringValue ?? ""
    do throws(InjectionError) {
      let wantsComponents =
        pod["metadata"]?["annotations"]?["dapr.io/inject-pluggable-components"]?.stringValue
        .map(ProcessFacts.isTruthy) ?? false
      let podNamespace = (pod["metadata"]?["namespace"]?.stringValue).flatMap { $0.isEmpty ? nil : $0 } ?? namespace
      var components: [PluggableComponent] = []
      if wantsComponents {
        // Dapr refuses the pod when it cannot list the Components; so does this, saying why.
        guard let loaded = pluggableComponents(podNamespace) else {
          throw InjectionError(
            "dapr.io/inject-pluggable-components: the injector has not loaded the Components of namespace "
              + "\(podNamespace) yet (is the Component CRD installed, and may the injector list and watch components?)")
        }
        components = loaded
      }
      switch try planner.plan(pod: pod, namespace: namespace, components: components) {
      case .skip(let reason):
        return answer(review: review, allowed: true, outcome: .notInjected(reason: .skipped(reason)))
      case .inject(let appID, let operations, let warnings):
        return answer(
          review: review, allowed: true, patch: PatchOperation.json(operations), warnings: warnings,
          outcome: .injected(appID: appID, warnings: warnings))
      }
    } catch {
      let appID = pod["metadata"]?["annotations"]?["dapr.io/app-id"]?.stringValue ?? ""
      return answer(
        review: review, allowed: false, message: error.message, outcome: .refused(appID: appID, reason: error.message))
    }
  }

  /// The AdmissionReview answer, written in one pass; the patch's base64 text goes in without a detour through
  /// a `String`.
  func answer(
    review: JSONValue?, allowed: Bool, message: String? = nil, patch: Data? = nil,
    warnings: [AnnotationWarning] = [], outcome: Outcome
  ) -> Answer {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(256 + (patch?.count ?? 0) * 4 / 3)
    bytes.append(contentsOf: #"{"apiVersion":"#.utf8)
    (review?["apiVersion"] ?? "admission.k8s.io/v1").write(into: &bytes)
    bytes.append(contentsOf: #","kind":"#.utf8)
    (review?["kind"] ?? "AdmissionReview").write(into: &bytes)
    bytes.append(contentsOf: #","response":{"allowed":"#.utf8)
    bytes.append(contentsOf: (allowed ? "true" : "false").utf8)
    if let uid = review?["request"]?["uid"] {
      bytes.append(contentsOf: #","uid":"#.utf8)
      uid.write(into: &bytes)
    }
    if let message {
      bytes.append(contentsOf: #","status":{"message":"#.utf8)
      JSONValue.string(message).write(into: &bytes)
      bytes.append(UInt8(ascii: "}"))
    }
    if let patch {
      bytes.append(contentsOf: #","patchType":"JSONPatch","patch":""#.utf8)
      bytes.append(contentsOf: patch.base64EncodedData())
      bytes.append(UInt8(ascii: "\""))
    }
    if !warnings.isEmpty {
      bytes.append(contentsOf: #","warnings":"#.utf8)
      JSONValue.array(warnings.map { .string($0.message) }).write(into: &bytes)
    }
    bytes.append(contentsOf: "}}".utf8)
    return Answer(
      status: 200, contentType: "application/json", body: Data(bytes), outcome: outcome, warnings: warnings)
  }

  /// For a pod that gets no sidecar: a `dapr.io/enabled` that is true to Dapr's other switches but not `"true"`
  /// (`yes`, `on`, `1`), or a key that is probably a typo of it. Nothing for pods without `dapr.io/` annotations.
  static func notEnabledWarnings(_ annotations: JSONValue?) -> [AnnotationWarning] {
    guard let object = annotations?.objectValue,
      object.keys.contains(where: { $0.hasPrefix(SidecarAnnotations.prefix) })
    else { return [] }
    let name = DaprEnabled.annotation
    if let value = object[name]?.stringValue {
      guard ProcessFacts.isTruthy(value) else { return [] }
      return [
        AnnotationWarning(
          .malformed, "\(name): \(AnnotationWarning.quoted(value)) is not \"true\"; the pod gets no Dapr sidecar")
      ]
    }
    return object.keys.sorted().compactMap { key in
      guard key.hasPrefix(SidecarAnnotations.prefix),
        KnownAnnotations.suggestion(for: String(key.dropFirst(SidecarAnnotations.prefix.count))) == "enabled"
      else { return nil }
      return AnnotationWarning(
        .unknownAnnotation, "\(key) is not a Dapr annotation; did you mean \(name)? The pod gets no Dapr sidecar")
    }
  }

  static func plain(_ status: Int, _ message: String, _ outcome: Outcome) -> Answer {
    Answer(
      status: status, contentType: "text/plain; charset=utf-8", body: Data((message + "\n").utf8), outcome: outcome)
  }
}

/// Why a review was answered without a patch.
public enum NotInjectedReason: Hashable, Sendable, CustomStringConvertible {
  /// The object is not a Pod (Dapr counts this as a failed injection).
  case notAPod
  /// `dapr.io/enabled` is not `"true"`.
  case notEnabled
  /// The planner's reason (the pod already has a daprd container, say).
  case skipped(String)

  public var description: String {
    switch self {
    case .notAPod: "not a Pod"
    case .notEnabled: "dapr.io/enabled is not \"true\""
    case .skipped(let reason): reason
    }
  }
}
