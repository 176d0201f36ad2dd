import GRPCCore
import GRPCNIOTransportHTTP2
import X509

/// Reads SPIFFE IDs out of certificates and out of gRPC calls.
public enum PeerIdentity {
  /// The SPIFFE ID in a certificate's URI SAN. Exactly one `spiffe://` URI SAN must be present.
  public static func spiffeID(of certificate: Certificate) throws(PeerIdentityError) -> SPIFFEID {
    let sans: SubjectAlternativeNames?
    do {
      sans = try certificate.extensions.subjectAlternativeNames
    } catch {
      throw .malformedSubjectAlternativeNames(String(describing: error))
    }
    let uris = (sans ?? SubjectAlternativeNames()).compactMap { name -> String? in
      if case .uniformResourceIdentifier(let uri) = name, uri.hasPrefix("spiffe://") { return uri }
      return nil
    }
    guard let uri = uris.first else { throw .noSPIFFEID }
    guard uris.count == 1 else { throw .severalSPIFFEIDs(uris) }
    do {
      return try SPIFFEID(parsing: uri)
    } catch {
      throw .invalidSPIFFEID(error)
    }
  }

  /// The SPIFFE ID of the client of a gRPC call served over mutual TLS by ``SecureGRPC`` (or by grpc-swift's own
  /// Posix transport with a verification callback), whose chain the verifier has already checked.
  public static func spiffeID(of context: ServerContext) throws(PeerIdentityError) -> SPIFFEID {
    if let peer = context.transportSpecific as? SPIFFEPeerContext { return peer.id }
    guard let transport = context.transportSpecific as? HTTP2ServerTransport.Posix.Context,
      let certificate = transport.peerCertificateChain?.leaf ?? transport.peerCertificate
    else {
      throw .noPeerCertificate
    }
    return try spiffeID(of: certificate)
  }
}

/// Why no SPIFFE ID could be read from a peer.
public struct PeerIdentityError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Code: Hashable, Sendable {
    case noPeerCertificate, malformedSubjectAlternativeNames, noSPIFFEID, severalSPIFFEIDs, invalidSPIFFEID
  }

  public let code: Code
  public let message: String
  public var description: String { message }

  static let noPeerCertificate = Self(code: .noPeerCertificate, message: "the peer presented no client certificate")
  static func malformedSubjectAlternativeNames(_ reason: String) -> Self {
    .init(
      code: .malformedSubjectAlternativeNames,
      message: "the certificate's subject alternative names do not parse: \(reason)")
  }
  static let noSPIFFEID = Self(code: .noSPIFFEID, message: "the certificate has no spiffe:// URI SAN")
  static func severalSPIFFEIDs(_ uris: [String]) -> Self {
    .init(
      code: .severalSPIFFEIDs,
      message: "the certificate has several spiffe:// URI SANs: \(uris.joined(separator: ", "))")
  }
  static func invalidSPIFFEID(_ error: SPIFFEIDError) -> Self {
    .init(code: .invalidSPIFFEID, message: "the certificate's SPIFFE ID is invalid: \(error.message)")
  }
}
