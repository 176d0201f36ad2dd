import Foundation
import NIOCore
import NIOSSL
import SwiftASN1
@_spi(FixedExpiryValidationTime) import X509

/// Which SPIFFE IDs a TLS peer may present.
public enum PeerRequirement: Hashable, Sendable, CustomStringConvertible {
  /// Any well-formed SPIFFE ID whose chain verifies (servers that authorise per call).
  case anyIdentity
  /// Exactly this ID (clients pinning the control-plane service they dial).
  case exactly(SPIFFEID)
  /// Any ID in one of these trust domains.
  case trustDomains(Set<String>)

  public var description: String {
    switch self {
    case .anyIdentity: "any SPIFFE ID"
    case .exactly(let id): "\(id)"
    case .trustDomains(let domains): "an ID in trust domain \(domains.sorted().joined(separator: " or "))"
    }
  }

  func check(_ id: SPIFFEID) -> String? {
    switch self {
    case .anyIdentity: return nil
    case .exactly(let expected):
      return id == expected ? nil : "peer SPIFFE ID \(id) is not the expected \(expected)"
    case .trustDomains(let domains):
      return domains.contains(id.trustDomain) ? nil : "peer SPIFFE ID \(id) is not in \(self)"
    }
  }
}

/// Verifies a TLS peer's certificate chain against the current trust anchors (RFC 5280 path validation with
/// swift-certificates) and checks its SPIFFE ID against a ``PeerRequirement``.
///
/// The anchors are read at every handshake, so a rotated trust bundle applies to the next connection without
/// rebuilding any TLS context. Plug it into NIOSSL, the gRPC transport or Hummingbird through
/// ``nioVerificationCallback``.
public struct SPIFFEPeerVerifier: Sendable {
  /// The anchors to chain to, read at each handshake.
  public let trustAnchors: @Sendable () -> TrustBundle
  /// What the peer's ID must be.
  public let requirement: PeerRequirement
  /// The validation time; inject a fixed one in tests.
  public let now: @Sendable () -> Date

  public init(
    trustAnchors: @escaping @Sendable () -> TrustBundle,
    requirement: PeerRequirement,
    now: @escaping @Sendable () -> Date = { Date() }
  ) {
    self.trustAnchors = trustAnchors
    self.requirement = requirement
    self.now = now
  }

  /// Verifies against a trust bundle that is being watched for rotation.
  public init(trustBundle: LatestValue<TrustBundle>, requirement: PeerRequirement) {
    self.init(trustAnchors: { trustBundle.current }, requirement: requirement)
  }

  /// The verified chain (leaf first, anchor last) and the peer's ID, or why the peer is refused.
  public func verify(
    presented chain: [Certificate]
  ) async throws(PeerVerificationError) -> (
    chain: [Certificate], id: SPIFFEID
  ) {
    guard let leaf = chain.first else { throw .noCertificate }
    let id: SPIFFEID
    do {
      id = try PeerIdentity.spiffeID(of: leaf)
    } catch {
      throw .noIdentity(error.message)
    }
    if let mismatch = requirement.check(id) { throw .wrongIdentity(mismatch) }

    var verifier = Verifier(rootCertificates: CertificateStore(trustAnchors().certificates)) {
      RFC5280Policy(fixedExpiryValidationTime: now())
      AcceptsSubjectAlternativeNames()
    }
    let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(chain.dropFirst()))
    switch result {
    case .validCertificate(let verified):
      return (Array(verified), id)
    case .couldNotValidate(let failures):
      let reasons = failures.map { "\($0.policyFailureReason)" }
      throw .untrusted(id: id, reasons: reasons)
    }
  }

  /// The callback shape NIOSSL and the gRPC transport take. On success it hands the validated chain on, which
  /// the gRPC server exposes to handlers (see ``PeerIdentity/spiffeID(of:)-swift.type.method``).
  public var nioVerificationCallback:
    @Sendable ([NIOSSLCertificate], EventLoopPromise<NIOSSLVerificationResultWithMetadata>) -> Void
  {
    recordingCallback(into: nil)
  }

  /// The same check without metadata, for APIs (Hummingbird) that take the plain callback.
  public var plainNIOVerificationCallback:
    @Sendable ([NIOSSLCertificate], EventLoopPromise<NIOSSLVerificationResult>) -> Void
  {
    { presented, promise in
      promise.completeWithTask {
        do {
          let chain = try presented.map { try Certificate(derEncoded: try $0.toDERBytes()) }
          _ = try await self.verify(presented: chain)
          return .certificateVerified
        } catch {
          return .failed
        }
      }
    }
  }
}

/// SPIFFE leaves put their identity in a (usually critical) subject alternative name extension; this policy is
/// where that extension is processed (the SPIFFE ID check itself happens before path building).
public struct AcceptsSubjectAlternativeNames: VerifierPolicy {
  public let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [.X509ExtensionID.subjectAlternativeName]

  public init() {}

  public func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult {
    .meetsPolicy
  }
}

/// Why a TLS peer was refused.
public struct PeerVerificationError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Code: Hashable, Sendable { case noCertificate, noIdentity, wrongIdentity, untrusted }

  public let code: Code
  public let message: String
  public var description: String { message }

  static let noCertificate = Self(code: .noCertificate, message: "the peer presented no certificate")
  static func noIdentity(_ reason: String) -> Self { .init(code: .noIdentity, message: reason) }
  static func wrongIdentity(_ reason: String) -> Self { .init(code: .wrongIdentity, message: reason) }
  static func untrusted(id: SPIFFEID, reasons: [String]) -> Self {
    .init(
      code: .untrusted,
      message: "the certificate chain of \(id) does not verify against the trust anchors"
        + (reasons.isEmpty ? "" : ": " + reasons.joined(separator: "; ")))
  }
}

extension Certificate {
  /// The DER encoding.
  var derBytes: [UInt8] {
    get throws {
      var serializer = DER.Serializer()
      try serializer.serialize(self)
      return serializer.serializedBytes
    }
  }
}
