import NIOCertificateReloading
import NIOSSL
import SwiftASN1
import X509

/// A certificate chain (leaf first, no root) with the leaf's private key: what a service presents in a TLS
/// handshake. Usually an SVID from sentry.
///
/// The NIOSSL forms are converted once, here, so that handshakes on a hot path do not re-encode certificates.
public struct TLSIdentity: Sendable, Hashable {
  /// Leaf first, then any intermediates up to (not including) the trust anchor.
  public let certificateChain: [Certificate]
  /// The private key of the leaf.
  public let privateKey: Certificate.PrivateKey
  /// `certificateChain` for NIOSSL.
  public let nioCertificateChain: [NIOSSLCertificate]
  /// `privateKey` for NIOSSL.
  public let nioPrivateKey: NIOSSLPrivateKey
  /// `certificateChain` in DER, leaf first.
  public let derCertificateChain: [[UInt8]]
  /// `privateKey` as a PKCS#8 (or PKCS#1 for RSA) PEM document. Never log it.
  let privateKeyPEM: [UInt8]

  /// Wraps a chain and its key. Throws if either cannot be handed to BoringSSL.
  public init(certificateChain: [Certificate], privateKey: Certificate.PrivateKey) throws {
    precondition(!certificateChain.isEmpty, "a TLS identity needs at least a leaf certificate")
    self.certificateChain = certificateChain
    self.privateKey = privateKey
    self.derCertificateChain = try certificateChain.map { certificate in
      var serializer = DER.Serializer()
      try serializer.serialize(certificate)
      return serializer.serializedBytes
    }
    self.nioCertificateChain = try derCertificateChain.map { try NIOSSLCertificate(bytes: $0, format: .der) }
    self.privateKeyPEM = Array(try privateKey.serializeAsPEM().pemString.utf8)
    self.nioPrivateKey = try NIOSSLPrivateKey(bytes: privateKeyPEM, format: .pem)
  }

  /// The leaf certificate.
  public var leaf: Certificate { certificateChain[0] }

  /// The SPIFFE ID in the leaf's URI SAN.
  public var spiffeID: SPIFFEID {
    get throws(PeerIdentityError) { try PeerIdentity.spiffeID(of: leaf) }
  }

  public static func == (lhs: Self, rhs: Self) -> Bool {
    lhs.certificateChain == rhs.certificateChain && lhs.privateKey == rhs.privateKey
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(certificateChain)
  }
}

/// Serves the current ``TLSIdentity`` of a ``LatestValue`` to NIOSSL at each handshake, so that a renewed SVID is
/// used by new connections at once while established ones keep going.
public struct RotatingIdentityReloader: CertificateReloader {
  private let identity: LatestValue<TLSIdentity>

  public init(_ identity: LatestValue<TLSIdentity>) {
    self.identity = identity
  }

  public var sslContextConfigurationOverride: NIOSSLContextConfigurationOverride {
    let current = identity.current
    var override = NIOSSLContextConfigurationOverride()
    override.certificateChain = current.nioCertificateChain.map { .certificate($0) }
    override.privateKey = .privateKey(current.nioPrivateKey)
    return override
  }
}
