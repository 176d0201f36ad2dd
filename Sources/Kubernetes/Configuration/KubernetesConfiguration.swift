import Foundation
import Yams

/// Where the API server is and how to authenticate to it.
public struct KubernetesConfiguration: Sendable {
  /// `https://host:port`, without a trailing slash.
  public var server: String
  /// PEM of the CA(s) that sign the API server's certificate; `nil`: the system's roots.
  public var certificateAuthorityPEM: [UInt8]?
  /// PEM of a client certificate and its key, for certificate authentication.
  public var clientCertificatePEM: [UInt8]?
  public var clientKeyPEM: [UInt8]?
  /// A bearer token.
  public var token: TokenSource?
  /// Skip verifying the API server's certificate. Never in production.
  public var insecureSkipTLSVerify: Bool
  /// The default namespace of the kubeconfig context, or of the pod in cluster.
  public var namespace: String?
  /// Where this configuration came from, for logs and errors.
  public var source: String

  public init(
    server: String, certificateAuthorityPEM: [UInt8]? = nil, clientCertificatePEM: [UInt8]? = nil,
    clientKeyPEM: [UInt8]? = nil, token: TokenSource? = nil, insecureSkipTLSVerify: Bool = false,
    namespace: String? = nil, source: String = "explicit configuration"
  ) {
    self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
    self.certificateAuthorityPEM = certificateAuthorityPEM
    self.clientCertificatePEM = clientCertificatePEM
    self.clientKeyPEM = clientKeyPEM
    self.token = token
    self.insecureSkipTLSVerify = insecureSkipTLSVerify
    self.namespace = namespace
    self.source = source
  }

  /// The configuration of a process, found as controller-runtime finds it: `kubeconfigPath` (`--kubeconfig`), else
  /// the first existing file of `$KUBECONFIG`, else the pod's service account (in cluster), else `~/.kube/config`.
  public static func load(
    kubeconfigPath: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws(KubernetesError) -> KubernetesConfiguration {
    if let kubeconfigPath, !kubeconfigPath.isEmpty { return try kubeconfig(path: kubeconfigPath) }
    if let list = environment["KUBECONFIG"], !list.isEmpty {
      let paths = list.split(separator: ":").map(String.init)
      guard let path = paths.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
        throw .configuration("none of the files in KUBECONFIG exist: \(list)")
      }
      return try kubeconfig(path: path)
    }
    if environment["KUBERNETES_SERVICE_HOST"] != nil { return try inCluster(environment: environment) }
    if let home = environment["HOME"], FileManager.default.fileExists(atPath: "\(home)/.kube/config") {
      return try kubeconfig(path: "\(home)/.kube/config")
    }
    throw .configuration(
      "no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account")
  }

  /// The pod's service account: `KUBERNETES_SERVICE_HOST`/`_PORT`, the CA and the token under
  /// `/var/run/secrets/kubernetes.io/serviceaccount`. The token file is re-read when kubelet rotates it.
  public static func inCluster(
    environment: [String: String] = ProcessInfo.processInfo.environment,
    serviceAccountDirectory: String = "/var/run/secrets/kubernetes.io/serviceaccount"
  ) throws(KubernetesError) -> KubernetesConfiguration {
    guard let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"],
      !host.isEmpty, !port.isEmpty
    else {
      throw .configuration("not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set")
    }
    let tokenPath = "\(serviceAccountDirectory)/token"
    guard FileManager.default.isReadableFile(atPath: tokenPath) else {
      throw .configuration("in cluster, but the service account token \(tokenPath) is not readable")
    }
    let ca = try readFile("\(serviceAccountDirectory)/ca.crt", what: "service account CA")
    let namespace = try? String(contentsOfFile: "\(serviceAccountDirectory)/namespace", encoding: .utf8)
    let hostPart = host.contains(":") ? "[\(host)]" : host
    return KubernetesConfiguration(
      server: "https://\(hostPart):\(port)", certificateAuthorityPEM: ca, token: .file(tokenPath),
      namespace: namespace?.trimmingCharacters(in: .whitespacesAndNewlines), source: "in-cluster service account")
  }

  /// A kubeconfig file, with its current context (or `context`). Relative file paths are resolved against the
  /// kubeconfig's folder.
  public static func kubeconfig(path: String, context: String? = nil) throws(KubernetesError) -> KubernetesConfiguration
  {
    let text = String(decoding: try readFile(path, what: "kubeconfig"), as: UTF8.self)
    let file: KubeconfigFile
    do {
      file = try YAMLDecoder().decode(KubeconfigFile.self, from: text)
    } catch {
      throw .configuration("kubeconfig \(path) does not parse: \(error)")
    }
    let contextName = context ?? file.currentContext
    guard let contextName, !contextName.isEmpty else {
      throw .configuration("kubeconfig \(path) has no current-context")
    }
    guard let namedContext = file.contexts?.first(where: { $0.name == contextName })?.context else {
      throw .configuration("kubeconfig \(path) has no context named \(contextName)")
    }
    guard let cluster = file.clusters?.first(where: { $0.name == namedContext.cluster })?.cluster else {
      throw .configuration("kubeconfig \(path): context \(contextName) names unknown cluster \(namedContext.cluster)")
    }
    let user = file.users?.first(where: { $0.name == namedContext.user })?.user ?? KubeconfigFile.User()
    let folder = (path as NSString).deletingLastPathComponent
    func resolve(_ file: String) -> String { file.hasPrefix("/") ? file : "\(folder)/\(file)" }
    func material(data: String?, file: String?, what: String) throws(KubernetesError) -> [UInt8]? {
      if let data {
        guard let decoded = Data(base64Encoded: data.filter { !$0.isWhitespace }) else {
          throw .configuration("kubeconfig \(path): \(what) data is not base64")
        }
        return Array(decoded)
      }
      if let file { return try readFile(resolve(file), what: what) }
      return nil
    }
    var token: TokenSource?
    if let value = user.token {
      token = .static(value)
    } else if let file = user.tokenFile {
      token = .file(resolve(file))
    }
    return KubernetesConfiguration(
      server: cluster.server,
      certificateAuthorityPEM: try material(
        data: cluster.certificateAuthorityData, file: cluster.certificateAuthority, what: "certificate-authority"),
      clientCertificatePEM: try material(
        data: user.clientCertificateData, file: user.clientCertificate, what: "client-certificate"),
      clientKeyPEM: try material(data: user.clientKeyData, file: user.clientKey, what: "client-key"),
      token: token,
      insecureSkipTLSVerify: cluster.insecureSkipTLSVerify ?? false,
      namespace: namedContext.namespace,
      source: "kubeconfig \(path) (context \(contextName))")
  }

  private static func readFile(_ path: String, what: String) throws(KubernetesError) -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw .configuration("cannot read \(what) file \(path)")
    }
    return Array(data)
  }
}

/// Where a bearer token comes from.
public enum TokenSource: Sendable, Hashable {
  /// A fixed token.
  case `static`(String)
  /// A file that may be rewritten (projected service-account tokens rotate); it is re-read when it changes.
  case file(String)
}

extension KubernetesError {
  static func configuration(_ message: String) -> KubernetesError {
    KubernetesError(code: .invalidConfiguration, message: message)
  }
}

/// The parts of a kubeconfig file this client reads.
struct KubeconfigFile: Decodable {
  struct NamedCluster: Decodable {
    var name: String
    var cluster: Cluster
  }
  struct Cluster: Decodable {
    var server: String
    var certificateAuthority: String?
    var certificateAuthorityData: String?
    var insecureSkipTLSVerify: Bool?
    enum CodingKeys: String, CodingKey {
      case server
      case certificateAuthority = "certificate-authority"
      case certificateAuthorityData = "certificate-authority-data"
      case insecureSkipTLSVerify = "insecure-skip-tls-verify"
    }
  }
  struct NamedUser: Decodable {
    var name: String
    var user: User?
  }
  struct User: Decodable {
    var clientCertificate: String?
    var clientCertificateData: String?
    var clientKey: String?
    var clientKeyData: String?
    var token: String?
    var tokenFile: String?
    enum CodingKeys: String, CodingKey {
      case clientCertificate = "client-certificate"
      case clientCertificateData = "client-certificate-data"
      case clientKey = "client-key"
      case clientKeyData = "client-key-data"
      case token, tokenFile
    }
  }
  struct NamedContext: Decodable {
    var name: String
    var context: Context
  }
  struct Context: Decodable {
    var cluster: String
    var user: String?
    var namespace: String?
  }

  var clusters: [NamedCluster]?
  var users: [NamedUser]?
  var contexts: [NamedContext]?
  var currentContext: String?

  enum CodingKeys: String, CodingKey {
    case clusters, users, contexts
    case currentContext = "current-context"
  }
}
