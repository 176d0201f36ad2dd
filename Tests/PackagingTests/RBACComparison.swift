import Foundation
import Kubernetes
import LocalControlPlane

/// The API server's audit log (`--audit-log-format json`): one request per line.
enum AuditLog {
  struct Request: Hashable, CustomStringConvertible {
    var user: String
    var verb: String
    var group: String
    /// `resource` or `resource/subresource`.
    var resource: String
    var namespace: String
    var name: String
    var code: Int

    var description: String {
      "\(user) \(verb) \(group)/\(resource) \(namespace.isEmpty ? "" : namespace + "/")\(name) -> \(code)"
    }
  }

  static func read(_ path: String) throws -> [Request] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    return try text.split(separator: "\n").compactMap { line -> Request? in
      let event = try JSONCoding.parse(Data(line.utf8))
      guard let reference = event["objectRef"], let resource = reference["resource"]?.stringValue else { return nil }
      let subresource = reference["subresource"]?.stringValue.map { "/\($0)" } ?? ""
      return Request(
        user: event["user"]?["username"]?.stringValue ?? "", verb: event["verb"]?.stringValue ?? "",
        group: reference["apiGroup"]?.stringValue ?? "", resource: resource + subresource,
        namespace: reference["namespace"]?.stringValue ?? "", name: reference["name"]?.stringValue ?? "",
        code: Int(event["responseStatus"]?["code"]?.intValue ?? 0))
    }
  }
}

/// What the chart's RBAC grants each service account of the control plane, and which of it the audited requests
/// used. A grant is one verb on one `group/resource`, as `"verb group/resource"` (the core group is empty).
struct RBACComparison {
  struct Grant: Hashable {
    var verb: String
    var group: String
    var resource: String
    /// nil: every namespace (a ClusterRole bound cluster-wide).
    var namespace: String?
    var names: Set<String>

    var key: String { "\(verb) \(group)/\(resource)" }

    func allows(_ request: AuditLog.Request) -> Bool {
      guard request.verb == verb, request.group == group, request.resource == resource else { return false }
      if let namespace, request.namespace != namespace { return false }
      // A list or watch narrowed by a field selector carries the name; one that is not carries none.
      return names.isEmpty || request.name.isEmpty || names.contains(request.name)
    }
  }

  /// Account name → grants.
  let grants: [String: [Grant]]
  /// Account name → the keys of grants no request used.
  let unusedGrants: [String: Set<String>]

  init(install: RenderedInstall, requests: [AuditLog.Request]) {
    let prefix = "system:serviceaccount:\(install.namespace):"
    var grants: [String: [Grant]] = [:]
    for binding in install.objects(kind: "ClusterRoleBinding") + install.objects(kind: "RoleBinding") {
      let bindingNamespace = binding.kind == "RoleBinding" ? binding["metadata"]?["namespace"]?.stringValue : nil
      let roleKind = binding["roleRef"]?["kind"]?.stringValue ?? ""
      let roleName = binding["roleRef"]?["name"]?.stringValue ?? ""
      let role = install.objects(kind: roleKind).first { candidate -> Bool in
        let metadata = candidate["metadata"]
        guard metadata?["name"]?.stringValue == roleName else { return false }
        return roleKind == "ClusterRole" || metadata?["namespace"]?.stringValue == bindingNamespace
      }
      guard let role else { continue }
      for subject in binding["subjects"]?.arrayValue ?? [] {
        let isAccount = subject["kind"]?.stringValue == "ServiceAccount"
        guard isAccount, subject["namespace"]?.stringValue == install.namespace else { continue }
        let account = subject["name"]?.stringValue ?? ""
        for rule in role["rules"]?.arrayValue ?? [] {
          let names = Set(rule["resourceNames"]?.arrayValue?.compactMap(\.stringValue) ?? [])
          for group in rule["apiGroups"]?.arrayValue?.compactMap(\.stringValue) ?? [] {
            for resource in rule["resources"]?.arrayValue?.compactMap(\.stringValue) ?? [] {
              for verb in rule["verbs"]?.arrayValue?.compactMap(\.stringValue) ?? [] {
                grants[account, default: []].append(
                  Grant(verb: verb, group: group, resource: resource, namespace: bindingNamespace, names: names))
              }
            }
          }
        }
      }
    }
    self.grants = grants
    var unused: [String: Set<String>] = [:]
    for (account, accountGrants) in grants {
      let mine = requests.filter { $0.user == prefix + account }
      let used = Set(accountGrants.filter { grant in mine.contains { grant.allows($0) } }.map(\.key))
      unused[account] = Set(accountGrants.map(\.key)).subtracting(used)
    }
    unusedGrants = unused
  }
}
