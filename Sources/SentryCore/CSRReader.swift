import SwiftASN1
import X509

/// Reads the CSR of a request: one PEM block of type `CERTIFICATE REQUEST` (or the legacy `CERTIFICATE`), a
/// well-formed PKCS#10 request, signed by its own key. Only the public key is used afterwards.
public enum CSRReader {
  public static func read(_ pem: [UInt8]) throws(SignFailure) -> CertificateSigningRequest {
    let document: PEMDocument
    do {
      document = try PEMDocument(pemString: String(decoding: pem, as: UTF8.self))
    } catch {
      throw .invalidCSR
    }
    guard document.discriminator == "CERTIFICATE REQUEST" || document.discriminator == "CERTIFICATE" else {
      throw .invalidCSR
    }
    let csr: CertificateSigningRequest
    do {
      csr = try CertificateSigningRequest(derEncoded: document.derBytes)
    } catch {
      throw .unparsableCSR(String(describing: error))
    }
    guard csr.publicKey.isValidSignature(csr.signature, for: csr) else { throw .invalidSignature }
    return csr
  }
}
