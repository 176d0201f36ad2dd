import ArgumentParser
import Crypto
import X509
import _CryptoExtras

/// The key types the control plane creates: Ed25519 (Dapr 1.18's default), ECDSA P-256 (Dapr 1.12 to 1.17) and
/// RSA 2048 (webhook serving certificates, which some API servers cannot verify with Ed25519).
public enum KeyAlgorithm: String, Sendable, CaseIterable, ExpressibleByArgument {
  case ed25519
  case ecdsaP256 = "ecdsa-p256"
  case rsa2048 = "rsa-2048"

  /// A new private key of this type.
  public func makePrivateKey() -> Certificate.PrivateKey {
    switch self {
    case .ed25519: Certificate.PrivateKey(Curve25519.Signing.PrivateKey())
    case .ecdsaP256: Certificate.PrivateKey(P256.Signing.PrivateKey())
    // Key generation only fails for unsupported sizes; 2048 is supported.
    case .rsa2048: Certificate.PrivateKey(try! _RSA.Signing.PrivateKey(keySize: .bits2048))
    }
  }

}

extension Certificate.PrivateKey {
  /// The signature algorithm this key signs certificates and CSRs with: SHA-256 based for ECDSA and RSA (as Go's
  /// x509 package picks), Ed25519 for Ed25519.
  public var preferredSignatureAlgorithm: Certificate.SignatureAlgorithm {
    let supported = supportedSignatureAlgorithms
    if supported.contains(.ecdsaWithSHA256) { return .ecdsaWithSHA256 }
    if supported.contains(.sha256WithRSAEncryption) { return .sha256WithRSAEncryption }
    return .ed25519
  }
}
