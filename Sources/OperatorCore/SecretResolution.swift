import Foundation
import KubernetesCore

/// Fills in the values of `secretKeyRef`s from Kubernetes Secrets, as Dapr's operator does: the value becomes the
/// JSON string of the secret's base64 bytes (exactly the text the API server stores under `data`), the ref is kept,
/// the key defaults to the secret's name, and a missing key leaves the value as it was. Refs to another secret store
/// pass through untouched. A Configuration's OpenTelemetry headers get the secret's decoded text instead, and there
/// the key is required.
public enum SecretResolution {
  /// A Secret's `data` (base64 strings), or nil when the Secret does not exist.
  public typealias SecretLookup = (_ namespace: String, _ name: String) -> [String: String]?

  /// A secret a resource refers to that does not exist (or, for a Configuration, lacks the key asked for).
  public struct MissingSecret: Error, Hashable, Sendable, CustomStringConvertible {
    public let resource: String
    public let secret: String
    /// What is wrong when it is not the Secret's absence.
    public var problem: String? = nil

    public init(resource: String, secret: String, problem: String? = nil) {
      self.resource = resource
      self.secret = secret
      self.problem = problem
    }
    public var description: String {
      problem.map { "\(resource): \($0)" } ?? "\(resource) refers to Secret \(secret), which does not exist"
    }
  }

  /// Whether the resource's secrets come from Kubernetes (`auth.secretStore` empty or `kubernetes`).
  static func usesKubernetesSecrets(_ object: JSONValue) -> Bool {
    let store = object["auth"]?["secretStore"]?.stringValue ?? ""
    return store.isEmpty || store == "kubernetes"
  }

  /// A Component with its `spec.metadata[].secretKeyRef` values filled in.
  public static func component(_ object: JSONValue, lookup: SecretLookup) throws(MissingSecret) -> JSONValue {
    guard usesKubernetesSecrets(object) else { return object }
    return try resolving(object, at: ["spec", "metadata"], lookup: lookup)
  }

  /// An HTTPEndpoint with its header and client TLS `secretKeyRef` values filled in.
  public static func httpEndpoint(_ object: JSONValue, lookup: SecretLookup) throws(MissingSecret) -> JSONValue {
    guard usesKubernetesSecrets(object) else { return object }
    var resolved = try resolving(object, at: ["spec", "headers"], lookup: lookup)
    for field in ["certificate", "privateKey", "rootCA"] {
      guard let item = resolved["spec"]?["clientTLS"]?[field] else { continue }
      let value = try resolve(item, namespace: namespace(of: object), resource: label(of: object), lookup: lookup)
      resolved = replacing(["spec", "clientTLS", field], in: resolved, with: value)
    }
    return resolved
  }

  /// An MCPServer with the `secretKeyRef` values of its transport's headers (streamable HTTP or SSE) or its stdio
  /// environment filled in, as for HTTPEndpoints. The secret store is the transport's `auth.secretStore`.
  public static func mcpServer(_ object: JSONValue, lookup: SecretLookup) throws(MissingSecret) -> JSONValue {
    for (transport, field) in [("streamableHTTP", "headers"), ("sse", "headers"), ("stdio", "env")] {
      guard object["spec"]?["endpoint"]?[transport]?.objectValue != nil else { continue }
      let store = object["spec"]?["endpoint"]?[transport]?["auth"]?["secretStore"]?.stringValue ?? ""
      guard store.isEmpty || store == "kubernetes" else { return object }
      return try resolving(object, at: ["spec", "endpoint", transport, field], lookup: lookup)
    }
    return object
  }

  /// A Configuration with its `spec.tracing.otel.headers[].secretKeyRef` values filled in with the secret's text
  /// (not base64, as Dapr's operator does); the key is required and must exist.
  public static func configuration(_ object: JSONValue, lookup: SecretLookup) throws(MissingSecret) -> JSONValue {
    let path = ["spec", "tracing", "otel", "headers"]
    guard let headers = path.reduce(Optional(object), { $0?[$1] })?.arrayValue else { return object }
    let (namespace, resource) = (namespace(of: object), label(of: object))
    var resolved: [JSONValue] = []
    for header in headers {
      guard case .object(var fields) = header, let name = header["secretKeyRef"]?["name"]?.stringValue, !name.isEmpty
      else {
        resolved.append(header)
        continue
      }
      let headerName = header["name"]?.stringValue ?? ""
      let secret = "\(namespace)/\(name)"
      guard let key = header["secretKeyRef"]?["key"]?.stringValue, !key.isEmpty else {
        throw MissingSecret(
          resource: resource, secret: secret, problem: "header \(headerName) names Secret \(secret) without a key")
      }
      guard let data = lookup(namespace, name) else {
        throw MissingSecret(
          resource: resource, secret: secret,
          problem: "header \(headerName) refers to Secret \(secret), which does not exist")
      }
      guard let encoded = data[key] else {
        throw MissingSecret(
          resource: resource, secret: secret, problem: "header \(headerName): Secret \(secret) has no key \(key)")
      }
      guard let bytes = Data(base64Encoded: encoded) else {
        throw MissingSecret(
          resource: resource, secret: secret,
          problem: "header \(headerName): key \(key) of Secret \(secret) is not base64 data")
      }
      fields["value"] = .string(String(decoding: bytes, as: UTF8.self))
      resolved.append(.object(fields))
    }
    return replacing(path, in: object, with: .array(resolved))
  }

  static func namespace(of object: JSONValue) -> String { object["metadata"]?["namespace"]?.stringValue ?? "" }

  public static func label(of object: JSONValue) -> String {
    "\(object["kind"]?.stringValue ?? "resource") \(namespace(of: object))/\(object["metadata"]?["name"]?.stringValue ?? "")"
  }

  static func resolving(
    _ object: JSONValue, at path: [String], lookup: SecretLookup
  ) throws(MissingSecret)
    -> JSONValue
  {
    guard let items = path.reduce(Optional(object), { $0?[$1] })?.arrayValue else { return object }
    var resolved: [JSONValue] = []
    for item in items {
      resolved.append(try resolve(item, namespace: namespace(of: object), resource: label(of: object), lookup: lookup))
    }
    return replacing(path, in: object, with: .array(resolved))
  }

  /// One `{name, value, secretKeyRef}` item.
  static func resolve(
    _ item: JSONValue, namespace: String, resource: String, lookup: SecretLookup
  )
    throws(MissingSecret) -> JSONValue
  {
    guard case .object(var fields) = item, let name = item["secretKeyRef"]?["name"]?.stringValue, !name.isEmpty
    else { return item }
    guard let data = lookup(namespace, name) else {
      throw MissingSecret(resource: resource, secret: "\(namespace)/\(name)")
    }
    let key = item["secretKeyRef"]?["key"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? name
    if let value = data[key] { fields["value"] = .string(value) }
    return .object(fields)
  }

  static func replacing(_ path: [String], in value: JSONValue, with replacement: JSONValue) -> JSONValue {
    guard let first = path.first else { return replacement }
    guard case .object(var object) = value else { return value }
    object[first] = replacing(Array(path.dropFirst()), in: object[first] ?? .object([:]), with: replacement)
    return .object(object)
  }
}
