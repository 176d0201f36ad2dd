import Foundation
import SwiftASN1
import X509

/// A set of trust anchors (root certificates), as Dapr keeps them in `ca.crt`: one or many PEM `CERTIFICATE`
/// blocks, possibly with comments between them.
public struct TrustBundle: Hashable, Sendable {
  /// The anchors, in file order.
  public let certificates: [Certificate]

  /// Parses a PEM bundle. Text outside PEM blocks (comments) is ignored; any block that is not a `CERTIFICATE`, or
  /// that does not parse, is an error, and so is a bundle without certificates.
  public init(pemEncoded pem: String) throws(TrustBundleError) {
    let documents: [PEMDocument]
    do {
      documents = try PEMDocument.parseMultiple(pemString: pem)
    } catch {
      throw .invalidPEM(String(describing: error))
    }
    var certificates: [Certificate] = []
    for (index, document) in documents.enumerated() {
      guard document.discriminator == "CERTIFICATE" else {
        throw .unexpectedBlock(index: index, type: document.discriminator)
      }
      do {
        certificates.append(try Certificate(derEncoded: document.derBytes))
      } catch {
        throw .invalidCertificate(index: index, reason: String(describing: error))
      }
    }
    if certificates.isEmpty { throw .empty }
    self.certificates = certificates
  }

  /// Wraps certificates that are already parsed.
  public init(certificates: [Certificate]) {
    self.certificates = certificates
  }

  /// Reads and parses a PEM bundle file.
  public init(contentsOfFile path: String) throws(TrustBundleError) {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw .unreadable(path: path, reason: error.localizedDescription)
    }
    do {
      try self.init(pemEncoded: String(decoding: data, as: UTF8.self))
    } catch {
      throw error.inFile(path)
    }
  }

  /// The anchors as one PEM bundle, each certificate followed by a newline.
  public func pemEncoded() throws -> String {
    try certificates.map { try $0.serializeAsPEM().pemString + "\n" }.joined()
  }

  /// The earliest expiry among the anchors.
  public var earliestExpiry: Date? { certificates.map(\.notValidAfter).min() }
}

/// Why a trust bundle could not be loaded.
public struct TrustBundleError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Code: Hashable, Sendable { case unreadable, invalidPEM, unexpectedBlock, invalidCertificate, empty }

  public let code: Code
  public let message: String
  public var description: String { message }

  package static func unreadable(path: String, reason: String) -> Self {
    .init(code: .unreadable, message: "cannot read trust bundle \(path): \(reason)")
  }
  static func invalidPEM(_ reason: String) -> Self {
    .init(code: .invalidPEM, message: "trust bundle is not valid PEM: \(reason)")
  }
  static func unexpectedBlock(index: Int, type: String) -> Self {
    .init(
      code: .unexpectedBlock,
      message: "trust bundle block \(index + 1) is a \"\(type)\"; only CERTIFICATE blocks are allowed")
  }
  static func invalidCertificate(index: Int, reason: String) -> Self {
    .init(code: .invalidCertificate, message: "trust bundle certificate \(index + 1) does not parse: \(reason)")
  }
  static let empty = Self(code: .empty, message: "trust bundle holds no certificates")

  package func inFile(_ path: String) -> Self {
    code == .unreadable ? self : .init(code: code, message: "\(path): \(message)")
  }
}
