import Foundation
import SwiftASN1
import X509

/// PEM encoding on the signing hot path. swift-asn1's `PEMDocument.pemString` splits lines by walking `String`
/// indices, which costs more than the base64 itself (`BENCHMARKS.md`, sentry's signing path); Foundation's
/// line-wrapping base64 does the same in one pass. The output is the same text: 64-character lines, `\n` endings, a final newline.
extension Certificate {
  public func pemEncodedWithNewline() throws -> String {
    var serializer = DER.Serializer()
    try serializer.serialize(self)
    return FastPEM.encode(serializer.serializedBytes, discriminator: "CERTIFICATE")
  }
}

public enum FastPEM {
  public static func encode(_ der: [UInt8], discriminator: String) -> String {
    let body = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
    return "-----BEGIN \(discriminator)-----\n\(body)\n-----END \(discriminator)-----\n"
  }
}
