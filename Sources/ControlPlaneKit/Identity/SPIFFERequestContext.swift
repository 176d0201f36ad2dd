import Hummingbird
import NIOCore
import NIOSSL
import X509

/// A Hummingbird request context that can tell who the TLS client is, for servers built with
/// ``HummingbirdTLSConfigurations/mutualServer(identity:verifier:)``.
public struct SPIFFERequestContext: RequestContext {
  public var coreContext: CoreRequestContextStorage
  /// The connection the request arrived on.
  public let channel: any Channel

  public init(source: ApplicationRequestContextSource) {
    self.coreContext = CoreRequestContextStorage(source: source)
    self.channel = source.channel
  }

  /// The SPIFFE ID of the client certificate that the server's verifier accepted during the handshake.
  public func peerSPIFFEID() async throws(PeerIdentityError) -> SPIFFEID {
    let leaf: NIOSSLCertificate?
    do {
      leaf = try await channel.nioSSL_peerCertificate().get()
    } catch {
      throw .noPeerCertificate
    }
    guard let leaf, let der = try? leaf.toDERBytes(), let certificate = try? Certificate(derEncoded: der) else {
      throw .noPeerCertificate
    }
    return try PeerIdentity.spiffeID(of: certificate)
  }
}
