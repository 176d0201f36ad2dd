import ControlPlaneKit
import Crypto
import Foundation
import Kubernetes
import Synchronization

/// Asks the API server who a token belongs to.
public protocol TokenReviewing: Sendable {
  func review(token: String, audiences: [String]) async throws(KubernetesError) -> TokenReview
}

extension KubernetesClient: TokenReviewing {}

/// Where the validator finds pods and Configurations: informer caches in production, dictionaries in tests.
public protocol ClusterDirectory: Sendable {
  /// True once the caches hold the cluster's state.
  var isReady: Bool { get }
  func pod(namespace: String, name: String) async -> Pod?
  func configuration(namespace: String, name: String) async -> DaprConfiguration?
}

/// Dapr's `kubernetes` validator: the request's token must be a service-account token the API server accepts for
/// sentry's audiences, belong to the pod it names, in the namespace asked for, running under that service account,
/// and the id asked for must be that pod's app id (or `dapr-<service>` for control-plane pods in sentry's own
/// namespace). The trust domain comes from the Configuration named by the pod's `dapr.io/config` annotation.
///
/// Pods and Configurations come from caches and successful token reviews are remembered for half a minute, so a
/// burst of requests does not become a burst of API calls.
public final class KubernetesValidator: IdentityValidator {
  /// The control-plane services whose pods may ask for `dapr-<service>`.
  static let controlPlaneServices: Set<String> = ["operator", "placement", "injector", "sentry", "scheduler"]

  private let reviewer: any TokenReviewing
  private let directory: any ClusterDirectory
  private let sentryID: SPIFFEID
  private let reviews: ReviewCache

  /// - Parameters:
  ///   - sentryID: sentry's own SPIFFE ID: an audience of the token, and the trust domain of control-plane pods.
  public init(
    reviewer: any TokenReviewing, directory: any ClusterDirectory, sentryID: SPIFFEID,
    now: @escaping @Sendable () -> Date = { Date() }
  ) {
    self.reviewer = reviewer
    self.directory = directory
    self.sentryID = sentryID
    self.reviews = ReviewCache(now: now)
  }

  /// The audiences a token may have: Dapr's legacy one and sentry's SPIFFE ID.
  public var audiences: [String] { ["dapr.io/sentry", sentryID.description] }

  public func validate(_ request: SignRequest) async throws(ValidationFailure) -> String {
    guard directory.isReady else { throw ValidationFailure("validator not ready") }
    _ = try RequestChecks.validate(request)

    let username = try await reviewedUsername(request.token)
    let parts = username.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 4, parts[0] == "system" else {
      throw ValidationFailure("provided token is not a properly structured service account token")
    }
    let serviceAccountNamespace = String(parts[2])
    let serviceAccountName = String(parts[3])
    let podName = try Self.podName(inToken: request.token)

    guard let pod = await directory.pod(namespace: serviceAccountNamespace, name: podName) else {
      throw ValidationFailure("failed to get pod of identity")
    }
    guard serviceAccountNamespace == request.namespace else {
      throw ValidationFailure("namespace mismatch; received namespace: \(request.namespace)")
    }
    guard pod.spec.serviceAccountName == serviceAccountName else {
      throw ValidationFailure("pod service account mismatch")
    }

    let annotations = pod.metadata.annotations ?? [:]
    let expectedID: String
    var isControlPlane = false
    if let service = annotations["dapr.io/control-plane"] {
      guard pod.metadata.namespace == sentryID.namespace else {
        throw ValidationFailure("control plane service in namespace '\(pod.metadata.namespace ?? "")' is not allowed")
      }
      guard Self.controlPlaneServices.contains(service) else {
        throw ValidationFailure("unknown control plane service '\(podName)'")
      }
      guard annotations["dapr.io/app-id"] == nil else {
        throw ValidationFailure("control plane service '\(podName)' cannot have annotation 'dapr.io/app-id'")
      }
      expectedID = "dapr-\(service)"
      isControlPlane = true
    } else {
      expectedID = annotations["dapr.io/app-id"] ?? podName
    }
    guard expectedID == request.id else {
      throw ValidationFailure("app-id mismatch. expected: \(expectedID), received: \(request.id)")
    }

    if isControlPlane { return sentryID.trustDomain }
    guard let configName = annotations["dapr.io/config"], !configName.isEmpty else { return "public" }
    guard let configuration = await directory.configuration(namespace: request.namespace, name: configName) else {
      throw ValidationFailure("failed to get configuration")
    }
    guard let trustDomain = configuration.accessControlTrustDomain, !trustDomain.isEmpty else { return "public" }
    do {
      return try RequestChecks.trustDomain(trustDomain)
    } catch {
      throw ValidationFailure("failed to parse trust domain \"\(trustDomain)\": \(error.message)")
    }
  }

  /// The username the API server says `token` belongs to, from the cache when it was reviewed recently.
  private func reviewedUsername(_ token: String) async throws(ValidationFailure) -> String {
    if let cached = reviews.username(for: token) { return cached }
    let review: TokenReview
    do {
      review = try await reviewer.review(token: token, audiences: audiences)
    } catch {
      throw ValidationFailure("token review failed: \(error.message)")
    }
    if let error = review.status.error, !error.isEmpty { throw ValidationFailure("invalid token: \(error)") }
    guard review.status.authenticated, let username = review.status.user.username else {
      throw ValidationFailure("authentication failed")
    }
    reviews.remember(token: token, username: username)
    return username
  }

  /// The pod name in a service-account token's `kubernetes.io` claim. The token is not verified here: the token
  /// review did that.
  static func podName(inToken token: String) throws(ValidationFailure) -> String {
    let segments = token.split(separator: ".", omittingEmptySubsequences: false)
    guard segments.count == 3, let payload = Data(base64URLEncoded: String(segments[1])),
      let claims = try? JSONCoding.parse(payload)
    else {
      throw ValidationFailure("failed to parse Kubernetes token: the token is not a JWT")
    }
    guard let name = claims["kubernetes.io"]?["pod"]?["name"]?.stringValue, !name.isEmpty else {
      throw ValidationFailure("kubernetes.io/pod/name claim is missing from Kubernetes token")
    }
    return name
  }
}

/// Successful token reviews, remembered for 30 seconds by the token's SHA-256.
final class ReviewCache: Sendable {
  private let entries = Mutex<[SHA256.Digest: (username: String, until: Date)]>([:])
  private let now: @Sendable () -> Date
  private let lifetime: TimeInterval = 30
  private let capacity = 10_000

  init(now: @escaping @Sendable () -> Date) {
    self.now = now
  }

  func username(for token: String) -> String? {
    let key = SHA256.hash(data: Data(token.utf8))
    let moment = now()
    return entries.withLock { entries in
      guard let entry = entries[key] else { return nil }
      if entry.until <= moment {
        entries[key] = nil
        return nil
      }
      return entry.username
    }
  }

  func remember(token: String, username: String) {
    let key = SHA256.hash(data: Data(token.utf8))
    let until = now() + lifetime
    entries.withLock { entries in
      if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
      entries[key] = (username, until)
    }
  }
}

extension Data {
  /// Decodes base64url without padding, as JWT segments are written.
  init?(base64URLEncoded text: String) {
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while base64.count % 4 != 0 { base64 += "=" }
    self.init(base64Encoded: base64)
  }
}
