import ControlPlaneCore
import Foundation
import KubernetesCore

/// The `spec.mtls` settings sentry reads from the `daprsystem` Configuration (Kubernetes) or the `--config` file
/// (standalone): how long workload certificates live, how far back they are dated, which extra validators run.
public struct MTLSSettings: Sendable, Hashable {
  public var workloadCertTTL: GoDuration = .hours(24)
  public var allowedClockSkew: GoDuration = .minutes(15)
  /// Options of the `jwks` validator, when configured.
  public var jwksOptions: [String: String]?

  public init() {}

  /// Reads `spec.mtls` of a Configuration. Empty or absent durations keep the defaults.
  public init(configuration: DaprConfiguration) throws(MTLSSettingsError) {
    let mtls = configuration.mtls
    if let ttl = mtls.workloadCertTTL, !ttl.isEmpty {
      do {
        workloadCertTTL = try GoDuration(parsing: ttl)
      } catch {
        throw MTLSSettingsError("error parsing WorkloadCertTTL duration: \(error.message)")
      }
    }
    if let skew = mtls.allowedClockSkew, !skew.isEmpty {
      do {
        allowedClockSkew = try GoDuration(parsing: skew)
      } catch {
        throw MTLSSettingsError("error parsing AllowedClockSkew duration: \(error.message)")
      }
    }
    for validator in mtls.tokenValidators ?? [] {
      let name = validator["name"]?.stringValue ?? ""
      switch name {
      case "jwks":
        jwksOptions = (validator["options"]?.objectValue ?? [:]).compactMapValues { value in
          value.stringValue ?? value.intValue.map { String($0) }
        }
      case "kubernetes", "insecure":
        throw MTLSSettingsError(
          "invalid token validator: the built-in 'kubernetes' and 'insecure' validators cannot be configured manually")
      default:
        throw MTLSSettingsError("invalid token validator name: '\(name)'; supported values: 'jwks'")
      }
    }
    guard workloadCertTTL > .seconds(0) else { throw MTLSSettingsError("workloadCertTTL must be positive") }
    guard allowedClockSkew >= .seconds(0) else { throw MTLSSettingsError("allowedClockSkew must not be negative") }
  }

  /// Reads a standalone configuration file (a Configuration in YAML).
  public init(file path: String) throws(MTLSSettingsError) {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw MTLSSettingsError("cannot read the configuration file \(path)")
    }
    let documents: [JSONValue]
    do {
      documents = try YAMLDocuments.parse(String(decoding: data, as: UTF8.self))
    } catch {
      throw MTLSSettingsError("the configuration file \(path) is not valid YAML: \(error.message)")
    }
    guard let object = documents.first?.objectValue else {
      throw MTLSSettingsError("the configuration file \(path) holds no Configuration")
    }
    try self.init(configuration: DaprConfiguration(json: object))
  }
}

/// Why the mTLS settings cannot be used.
public struct MTLSSettingsError: Error, Hashable, Sendable, CustomStringConvertible {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
