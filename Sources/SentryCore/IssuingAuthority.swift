import ControlPlaneCore
import Crypto
import Foundation
import SwiftASN1
@_spi(FixedExpiryValidationTime) import X509

/// A verified CA: the trust anchors, the issuer certificate with its key, and any intermediates between them.
/// Built from stored PEM by ``init(material:now:)``, which checks it as Dapr does; signs workload certificates with
/// ``issue(_:)``.
public struct IssuingAuthority: Sendable {
  /// The roots, as served in `trust_chain_certificates` and the ConfigMap's `ca.crt`.
  public let anchors: TrustBundle
  /// The issuer first, then intermediates up to (not including) a root.
  public let issuerChain: [Certificate]
  public let issuerKey: Certificate.PrivateKey
  /// `issuerChain` in PEM, appended to every leaf.
  public let issuerChainPEM: String
  /// The anchors in PEM, as served.
  public let anchorsPEM: String

  public var issuer: Certificate { issuerChain[0] }

  /// Verifies stored material: every anchor self-signed, the issuer chain linked and chaining to an anchor, the
  /// issuer able to sign certificates, the key matching the issuer.
  public init(material: CAMaterial, now: Date) async throws(CAMaterialError) {
    let anchors: [Certificate]
    do {
      anchors = try CAMaterial.certificates(in: material.trustAnchorsPEM)
    } catch {
      throw .invalid(.trustAnchors, "failed to decode trust anchors: \(error)")
    }
    if anchors.isEmpty { throw .invalid(.trustAnchors, "failed to decode trust anchors: no certificates found") }
    for (index, anchor) in anchors.enumerated() where !anchor.isSelfSigned {
      throw .invalid(.trustAnchors, "certificate \(index + 1) in trust anchor is not self-signed")
    }

    var chain: [Certificate]
    do {
      chain = try CAMaterial.certificates(in: material.issuerCertificatePEM)
    } catch {
      throw .invalid(.issuerCertificate, "issuer certificate does not parse: \(error)")
    }
    if chain.isEmpty { throw .invalid(.issuerCertificate, "issuer certificate holds no certificate") }
    for index in chain.indices.dropLast()
    where !chain[index + 1].publicKey.isValidSignature(chain[index].signature, for: chain[index]) {
      throw .invalid(
        .issuerCertificate,
        "certificate chain is not valid: certificate \(index + 1) is not signed by certificate \(index + 2)")
    }
    // A root at the end of the issuer file is dropped; a lone self-signed issuer is no issuer.
    if chain.count > 1, chain[chain.count - 1].isSelfSigned { chain.removeLast() }
    if chain.count == 1, chain[0].isSelfSigned {
      throw .invalid(
        .issuerCertificate, "issuer chain is empty after re-encoding: the issuer certificate is self-signed")
    }
    for certificate in chain where !certificate.canSignCertificates {
      throw .invalid(.issuerCertificate, "intermediate certificate is not valid for signing")
    }

    let key: Certificate.PrivateKey
    do {
      key = try Certificate.PrivateKey(pemEncoded: material.issuerKeyPEM)
    } catch {
      throw .invalid(.issuerKey, "issuer key is not a PEM private key: \(error)")
    }
    guard key.publicKey == chain[0].publicKey else {
      throw .invalid(.issuerKey, "issuer key does not match issuer certificate")
    }

    var verifier = Verifier(rootCertificates: CertificateStore(anchors)) {
      RFC5280Policy(fixedExpiryValidationTime: now)
    }
    let result = await verifier.validate(leaf: chain[0], intermediates: CertificateStore(chain.dropFirst()))
    guard case .validCertificate = result else {
      throw .invalid(.issuerCertificate, "issuer chain does not belong to trust anchors (or has expired)")
    }

    do {
      try self.init(anchors: anchors, issuerChain: chain, issuerKey: key)
    } catch {
      throw .invalid(.issuerCertificate, "cannot encode the issuer chain: \(error)")
    }
  }

  /// An authority from parts already known to be consistent (just generated).
  package init(anchors: [Certificate], issuerChain: [Certificate], issuerKey: Certificate.PrivateKey) throws {
    self.anchors = TrustBundle(certificates: anchors)
    self.issuerChain = issuerChain
    self.issuerKey = issuerKey
    self.issuerChainPEM = try issuerChain.map { try $0.serializeAsPEM().pemString + "\n" }.joined()
    self.anchorsPEM = try self.anchors.pemEncoded()
  }

  /// The stored form: `ca.crt`, `issuer.crt`, `issuer.key`.
  public var material: CAMaterial {
    get throws {
      CAMaterial(
        trustAnchorsPEM: anchorsPEM, issuerCertificatePEM: issuerChainPEM,
        issuerKeyPEM: try issuerKey.serializeAsPEM().pemString + "\n")
    }
  }

  // === Signing ===

  /// When the issuer chain stops being valid: the earliest NotAfter of the issuer and its intermediates.
  public var chainExpiry: Date { issuerChain.map(\.notValidAfter).min() ?? issuer.notValidAfter }

  /// Signs a workload certificate: empty subject, one URI SAN (the SPIFFE ID), the DNS SANs given, digital
  /// signature usage, server and client authentication, a random 128-bit serial, valid from `now - skew` to
  /// `now + ttl`, but never past the issuer chain (Dapr signs leaves that outlive their issuer, dapr#8557). Returns
  /// the leaf and, for the response, the leaf followed by the issuer chain in PEM.
  public func issue(_ request: WorkloadCertificateRequest) throws -> (leaf: Certificate, chainPEM: String) {
    var names: [GeneralName] = [.uniformResourceIdentifier(request.spiffeID.description)]
    names += request.dnsNames.map { .dnsName($0) }
    let issuerKeyID = try issuer.extensions.subjectKeyIdentifier?.keyIdentifier
    let extensions = try Certificate.Extensions {
      Critical(KeyUsage(digitalSignature: true))
      try ExtendedKeyUsage([.serverAuth, .clientAuth])
      if let issuerKeyID { AuthorityKeyIdentifier(keyIdentifier: issuerKeyID) }
      // With an empty subject, RFC 5280 makes the SAN extension critical.
      Critical(SubjectAlternativeNames(names))
    }
    let leaf = try Certificate(
      version: .v3, serialNumber: .random128Bits(), publicKey: request.publicKey,
      notValidBefore: request.now - request.allowedClockSkew,
      notValidAfter: min(request.now + request.ttl, chainExpiry),
      issuer: issuer.subject, subject: DistinguishedName(), signatureAlgorithm: issuerKey.preferredSignatureAlgorithm,
      extensions: extensions, issuerPrivateKey: issuerKey)
    return (leaf, try leaf.pemEncodedWithNewline() + issuerChainPEM)
  }

  // === Generating ===

  /// A new self-signed root and an issuer under it, as sentry creates when none is stored: the root named
  /// `O=<trust domain>`, the issuer `O=spiffe://<trust domain>/ns/<namespace>/dapr-sentry`, both CAs without a path
  /// length, valid for `validity` from `now - skew`.
  ///
  /// - Parameter rootKey: an existing root key to reuse (a renewed root then keeps its public key).
  public static func generate(
    trustDomain: String, namespace: String, keyAlgorithm: KeyAlgorithm, now: Date,
    validity: TimeInterval = 365 * 86_400, allowedClockSkew: TimeInterval = 15 * 60,
    rootKey existingRootKey: Certificate.PrivateKey? = nil
  ) throws -> IssuingAuthority {
    try generateWithRootKey(
      trustDomain: trustDomain, namespace: namespace, keyAlgorithm: keyAlgorithm, now: now, rootValidity: validity,
      issuerValidity: validity, allowedClockSkew: allowedClockSkew, rootKey: existingRootKey
    ).authority
  }

  /// ``generate(trustDomain:namespace:keyAlgorithm:now:validity:allowedClockSkew:rootKey:)`` with separate root
  /// and issuer lifetimes (the issuer never outlives the root), returning the root's key too (`--keep-root-key`).
  public static func generateWithRootKey(
    trustDomain: String, namespace: String, keyAlgorithm: KeyAlgorithm, now: Date, rootValidity: TimeInterval,
    issuerValidity: TimeInterval, allowedClockSkew: TimeInterval, rootKey existingRootKey: Certificate.PrivateKey? = nil
  ) throws -> (authority: IssuingAuthority, rootKey: Certificate.PrivateKey) {
    let rootKey = existingRootKey ?? keyAlgorithm.makePrivateKey()
    let rootName = try DistinguishedName { OrganizationName(trustDomain) }
    let rootKeyID = SubjectKeyIdentifier(hash: rootKey.publicKey)
    let root = try Certificate(
      version: .v3, serialNumber: .random128Bits(), publicKey: rootKey.publicKey,
      notValidBefore: now - allowedClockSkew, notValidAfter: now + rootValidity,
      issuer: rootName, subject: rootName, signatureAlgorithm: rootKey.preferredSignatureAlgorithm,
      extensions: try Certificate.Extensions {
        Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
        Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
        rootKeyID
      },
      issuerPrivateKey: rootKey)

    let issuerName = try DistinguishedName { OrganizationName("spiffe://\(trustDomain)/ns/\(namespace)/dapr-sentry") }
    let (issuer, issuerKey) = try makeIssuer(
      named: issuerName, keyAlgorithm: keyAlgorithm, root: root, rootKey: rootKey, now: now,
      validity: issuerValidity, allowedClockSkew: allowedClockSkew)
    return (try IssuingAuthority(anchors: [root], issuerChain: [issuer], issuerKey: issuerKey), rootKey)
  }

  /// An issuer certificate under `root`, signed with `rootKey`, valid from `now - skew` for `validity` but never
  /// past the root.
  static func makeIssuer(
    named name: DistinguishedName, keyAlgorithm: KeyAlgorithm, root: Certificate, rootKey: Certificate.PrivateKey,
    now: Date, validity: TimeInterval, allowedClockSkew: TimeInterval
  ) throws -> (Certificate, Certificate.PrivateKey) {
    let issuerKey = keyAlgorithm.makePrivateKey()
    let rootKeyID = SubjectKeyIdentifier(hash: rootKey.publicKey)
    let issuer = try Certificate(
      version: .v3, serialNumber: .random128Bits(), publicKey: issuerKey.publicKey,
      notValidBefore: now - allowedClockSkew, notValidAfter: min(now + validity, root.notValidAfter),
      issuer: root.subject, subject: name, signatureAlgorithm: rootKey.preferredSignatureAlgorithm,
      extensions: try Certificate.Extensions {
        Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
        Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
        SubjectKeyIdentifier(hash: issuerKey.publicKey)
        AuthorityKeyIdentifier(keyIdentifier: rootKeyID.keyIdentifier)
      },
      issuerPrivateKey: rootKey)
    return (issuer, issuerKey)
  }

  /// A new issuer under the same root (`rootKey` must be the key of the anchor that signed the current issuer),
  /// with the current issuer's name and key type; the anchors are unchanged, so nothing that trusts them restarts.
  public func renewedIssuer(
    rootKey: Certificate.PrivateKey, now: Date, validity: TimeInterval, allowedClockSkew: TimeInterval
  ) throws(IssuerRenewalError) -> IssuingAuthority {
    guard issuerChain.count == 1 else {
      throw IssuerRenewalError("the issuer chain has intermediates; only an issuer signed by the root is renewed")
    }
    guard let root = anchors.certificates.first(where: { $0.publicKey == rootKey.publicKey }),
      root.subject == issuer.issuer
    else { throw IssuerRenewalError("the stored root key is not the key of the root that signed the issuer") }
    guard root.notValidAfter > now else { throw IssuerRenewalError("the root expired at \(root.notValidAfter)") }
    let algorithm: KeyAlgorithm =
      switch issuerKey.preferredSignatureAlgorithm {
      case .ecdsaWithSHA256: .ecdsaP256
      case .sha256WithRSAEncryption: .rsa2048
      default: .ed25519
      }
    do {
      let (next, key) = try Self.makeIssuer(
        named: issuer.subject, keyAlgorithm: algorithm, root: root, rootKey: rootKey, now: now, validity: validity,
        allowedClockSkew: allowedClockSkew)
      return try IssuingAuthority(anchors: anchors.certificates, issuerChain: [next], issuerKey: key)
    } catch {
      throw IssuerRenewalError("cannot make the new issuer: \(error)")
    }
  }
}

/// Why the issuer cannot be renewed automatically.
public struct IssuerRenewalError: Error, Hashable, Sendable, CustomStringConvertible {
  public let message: String
  public var description: String { message }
  init(_ message: String) { self.message = message }
}

/// What a workload certificate is issued for.
public struct WorkloadCertificateRequest: Sendable {
  public var publicKey: Certificate.PublicKey
  public var spiffeID: SPIFFEID
  public var dnsNames: [String]
  public var now: Date
  public var ttl: TimeInterval
  public var allowedClockSkew: TimeInterval

  public init(
    publicKey: Certificate.PublicKey, spiffeID: SPIFFEID, dnsNames: [String] = [], now: Date, ttl: TimeInterval,
    allowedClockSkew: TimeInterval
  ) {
    self.publicKey = publicKey
    self.spiffeID = spiffeID
    self.dnsNames = dnsNames
    self.now = now
    self.ttl = ttl
    self.allowedClockSkew = allowedClockSkew
  }
}

/// The stored form of a CA: three PEM texts, as in the `dapr-trust-bundle` Secret and the credential files.
public struct CAMaterial: Sendable, Hashable {
  /// `ca.crt`: the trust anchors.
  public var trustAnchorsPEM: String
  /// `issuer.crt`: the issuer, then any intermediates.
  public var issuerCertificatePEM: String
  /// `issuer.key`: the issuer's private key (PKCS#8, SEC 1 or PKCS#1).
  public var issuerKeyPEM: String

  public init(trustAnchorsPEM: String, issuerCertificatePEM: String, issuerKeyPEM: String) {
    self.trustAnchorsPEM = trustAnchorsPEM
    self.issuerCertificatePEM = issuerCertificatePEM
    self.issuerKeyPEM = issuerKeyPEM
  }

  /// The `CERTIFICATE` blocks of a PEM text; comments and other text between blocks are ignored.
  package static func certificates(in pem: String) throws -> [Certificate] {
    try PEMDocument.parseMultiple(pemString: pem)
      .filter { $0.discriminator == "CERTIFICATE" }
      .map { try Certificate(derEncoded: $0.derBytes) }
  }
}

/// Why stored CA material cannot be used. It names the part that is wrong; stores add where it is stored.
public struct CAMaterialError: Error, Hashable, Sendable, CustomStringConvertible {
  /// Which of the three parts is wrong.
  public enum Part: String, Hashable, Sendable {
    case trustAnchors = "ca.crt"
    case issuerCertificate = "issuer.crt"
    case issuerKey = "issuer.key"
  }

  public let part: Part?
  public let message: String
  public var description: String { message }

  public init(part: Part?, message: String) {
    self.part = part
    self.message = message
  }

  static func invalid(_ part: Part, _ message: String) -> CAMaterialError {
    CAMaterialError(part: part, message: "failed to verify CA bundle: \(message)")
  }
}

extension Certificate {
  /// Issued by itself and signed by its own key.
  var isSelfSigned: Bool {
    issuer == subject && publicKey.isValidSignature(signature, for: self)
  }

  /// Dapr refuses an issuer only when it has neither the CA flag nor the certificate-signing key usage.
  var canSignCertificates: Bool {
    let isCA: Bool
    if let constraints = try? extensions.basicConstraints, case .isCertificateAuthority = constraints {
      isCA = true
    } else {
      isCA = false
    }
    let mayCertSign = (try? extensions.keyUsage)??.keyCertSign ?? false
    return isCA || mayCertSign
  }
}

extension Certificate.SerialNumber {
  /// A random positive serial of 128 bits, as Go's sentry draws them.
  static func random128Bits() -> Certificate.SerialNumber {
    // BoringSSL's CSPRNG, seeded once: one `getrandom` per byte (as `UInt8.random` does) cost 4% of a signature.
    var bytes = SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) }
    bytes[0] &= 0x7F
    if bytes[0] == 0 { bytes[0] = 1 }
    return Certificate.SerialNumber(bytes: bytes)
  }
}
