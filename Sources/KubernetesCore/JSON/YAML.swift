import Yams

/// Reads Kubernetes manifests written in YAML.
public enum YAMLDocuments {
  /// Every document of a (multi-document) YAML text, as JSON. Empty documents are skipped. Scalars resolve as
  /// Kubernetes' YAML reader resolves them: `true`/`false`, numbers and `null` are typed, everything else (quoted
  /// values, timestamps) is a string.
  public static func parse(_ text: String) throws(KubernetesError) -> [JSONValue] {
    do {
      var documents: [JSONValue] = []
      var sequence = try Yams.compose_all(yaml: text)
      while let node = sequence.next() {
        let value = try json(from: node)
        if value != .null { documents.append(value) }
      }
      if let error = sequence.error { throw error }
      return documents
    } catch let error as KubernetesError {
      throw error
    } catch {
      throw KubernetesError(code: .malformedResponse, message: "the YAML does not parse: \(error)")
    }
  }

  private static func json(from node: Node) throws -> JSONValue {
    switch node {
    case .scalar(let scalar):
      // Only plain (unquoted) scalars are typed; `"true"` stays a string.
      if scalar.style == .plain || scalar.style == .any {
        if node.null != nil { return .null }
        if let value = node.bool { return .bool(value) }
        if let value = node.int { return .int(Int64(value)) }
        if let value = node.float { return .double(value) }
      }
      return .string(scalar.string)
    case .mapping(let mapping):
      var object = JSONObject()
      for (key, value) in mapping {
        guard let name = key.string else {
          throw KubernetesError(code: .malformedResponse, message: "a YAML mapping key is not a string: \(key)")
        }
        object[name] = try json(from: value)
      }
      return .object(object)
    case .sequence(let sequence):
      return .array(try sequence.map(json(from:)))
    case .alias:
      throw KubernetesError(code: .malformedResponse, message: "YAML aliases are not supported in manifests")
    }
  }
}
