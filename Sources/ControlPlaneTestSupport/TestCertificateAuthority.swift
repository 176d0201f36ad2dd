import ControlPlaneKit
import Crypto
import Foundation
import SwiftASN1
import X509
import _CryptoExtras

/// An in-memory certificate authority for tests: a self-signed root that issues SPIFFE leaves the way sentry
/// does (empty subject, one URI SAN, optional DNS SANs, serverAuth and clientAuth).
public struct TestCertificateAuthority: Sendable {
  /// The key types a test can ask for.
  public typealias KeyType = KeyAlgorithm

  public let certificate: Certificate
  public let privateKey: Certificate.PrivateKey

  /// An authority that signs with an existing CA certificate and key (sentry's issuer, for a benchmark's clients).
  public init(certificate: Certificate, privateKey: Certificate.PrivateKey) {
    self.certificate = certificate
    self.privateKey = privateKey
  }

  /// A root valid from an hour before `now` for a year, named after `trustDomain`.
  public init(trustDomain: String = "cluster.local", keyType: KeyType = .ecdsaP256, now: Date = Date()) throws {
    let key = keyType.makePrivateKey()
    let name = try DistinguishedName { OrganizationName(trustDomain) }
    let extensions = try Certificate.Extensions {
      Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
      Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
      SubjectKeyIdentifier(hash: key.publicKey)
    }
    self.certificate = try Certificate(
      version: .v3, serialNumber: .init(), publicKey: key.publicKey,
      notValidBefore: now - 3600, notValidAfter: now + 365 * 86_400,
      issuer: name, subject: name, signatureAlgorithm: key.preferredSignatureAlgorithm,
      extensions: extensions, issuerPrivateKey: key)
    self.privateKey = key
  }

  /// The root alone, as a trust bundle.
  public var trustBundle: TrustBundle { TrustBundle(certificates: [certificate]) }

  /// An intermediate CA under this root (a sentry issuer), with its key.
  public func issueIntermediate(
    organization: String, keyType: KeyType = .ecdsaP256, notBefore: Date = Date() - 60,
    validity: TimeInterval = 30 * 86_400
  ) throws -> (certificate: Certificate, privateKey: Certificate.PrivateKey) {
    let key = keyType.makePrivateKey()
    let extensions = try Certificate.Extensions {
      Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
      Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
      SubjectKeyIdentifier(hash: key.publicKey)
      AuthorityKeyIdentifier(keyIdentifier: try certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
    }
    let intermediate = try Certificate(
      version: .v3, serialNumber: .init(), publicKey: key.publicKey, notValidBefore: notBefore,
      notValidAfter: notBefore + validity, issuer: certificate.subject,
      subject: try DistinguishedName { OrganizationName(organization) },
      signatureAlgorithm: privateKey.preferredSignatureAlgorithm, extensions: extensions, issuerPrivateKey: privateKey)
    return (intermediate, key)
  }

  /// A leaf for `spiffeID` (and `dnsNames`), with its own fresh key.
  public func issue(
    spiffeID: SPIFFEID?, dnsNames: [String] = [], ipAddresses: [[UInt8]] = [], keyType: KeyType = .ecdsaP256,
    notBefore: Date = Date() - 60, validity: TimeInterval = 3600
  ) throws -> TLSIdentity {
    let key = keyType.makePrivateKey()
    var names: [GeneralName] = []
    if let spiffeID { names.append(.uniformResourceIdentifier(spiffeID.description)) }
    names += dnsNames.map { .dnsName($0) }
    names += ipAddresses.map { .ipAddress(ASN1OctetString(contentBytes: ArraySlice($0))) }
    let extensions = try Certificate.Extensions {
      Critical(BasicConstraints.notCertificateAuthority)
      Critical(KeyUsage(digitalSignature: true))
      try ExtendedKeyUsage([.serverAuth, .clientAuth])
      Critical(SubjectAlternativeNames(names))
      AuthorityKeyIdentifier(keyIdentifier: try certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
    }
    let leaf = try Certificate(
      version: .v3, serialNumber: .init(), publicKey: key.publicKey,
      notValidBefore: notBefore, notValidAfter: notBefore + validity,
      issuer: certificate.subject, subject: DistinguishedName(),
      signatureAlgorithm: privateKey.preferredSignatureAlgorithm,
      extensions: extensions, issuerPrivateKey: privateKey)
    return try TLSIdentity(certificateChain: [leaf], privateKey: key)
  }
}
