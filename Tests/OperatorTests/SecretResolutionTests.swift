import Kubernetes
import Operator
import Testing

@Suite struct SecretResolutionTests {
  static let secrets: [String: [String: String]] = [
    "shop/redis": ["password": "c2VjcmV0", "redis": "bmFtZWQ="]
  ]
  static func lookup(_ namespace: String, _ name: String) -> [String: String]? { secrets["\(namespace)/\(name)"] }

  static func component(_ items: [JSONValue], secretStore: String? = nil) -> JSONValue {
    var object: JSONObject = [
      "kind": "Component", "metadata": ["name": "statestore", "namespace": "shop"],
      "spec": ["type": "state.redis", "version": "v1", "metadata": .array(items)],
    ]
    if let secretStore { object["auth"] = ["secretStore": .string(secretStore)] }
    return .object(object)
  }

  @Test(
    "Secret refs become the base64 text of the Secret's value, the ref kept",
    arguments: [
      (["name": "redisPassword", "secretKeyRef": ["name": "redis", "key": "password"]] as JSONValue, "c2VjcmV0"),
      (["name": "byName", "secretKeyRef": ["name": "redis", "key": ""]], "bmFtZWQ="),
      (["name": "missingKey", "value": "kept", "secretKeyRef": ["name": "redis", "key": "nope"]], "kept"),
      (["name": "plain", "value": "localhost:6379"], "localhost:6379"),
      (["name": "unset", "value": "x", "secretKeyRef": ["name": "", "key": ""]], "x"),
    ] as [(JSONValue, String)])
  func resolved(item: JSONValue, value: String) throws {
    let result = try SecretResolution.component(Self.component([item]), lookup: Self.lookup)
    let resolvedItem = try #require(result["spec"]?["metadata"]?.arrayValue?.first)
    #expect(resolvedItem["value"]?.stringValue == value)
    #expect(resolvedItem["secretKeyRef"] == item["secretKeyRef"])
  }

  @Test func otherSecretStoresPassThroughUntouched() throws {
    let component = Self.component(
      [["name": "password", "secretKeyRef": ["name": "vault-password", "key": "p"]]], secretStore: "vault")
    #expect(try SecretResolution.component(component, lookup: Self.lookup) == component)
  }

  @Test func aMissingSecretNamesTheResourceAndTheSecret() {
    let component = Self.component([["name": "password", "secretKeyRef": ["name": "gone", "key": "p"]]])
    #expect(throws: SecretResolution.MissingSecret.self) {
      try SecretResolution.component(component, lookup: Self.lookup)
    }
    do {
      _ = try SecretResolution.component(component, lookup: Self.lookup)
    } catch {
      #expect(error.description == "Component shop/statestore refers to Secret shop/gone, which does not exist")
    }
  }

  static func mcpServer(
    transport: String, field: String, secretStore: String? = nil, secret: String = "redis"
  )
    -> JSONValue
  {
    var endpoint: JSONObject = [
      field: [["name": "TOKEN", "secretKeyRef": ["name": .string(secret), "key": "password"]]]
    ]
    if let secretStore { endpoint["auth"] = ["secretStore": .string(secretStore)] }
    return [
      "kind": "MCPServer", "metadata": ["name": "tools", "namespace": "shop"],
      "spec": ["endpoint": [transport: .object(endpoint)]],
    ]
  }

  @Test(
    "An MCPServer's headers or stdio environment are resolved unless its transport names another secret store",
    arguments: [
      ("streamableHTTP", "headers", nil, "c2VjcmV0"),
      ("sse", "headers", "kubernetes", "c2VjcmV0"),
      ("stdio", "env", nil, "c2VjcmV0"),
      ("streamableHTTP", "headers", "vault", nil),
    ] as [(String, String, String?, String?)])
  func mcpServer(transport: String, field: String, secretStore: String?, value: String?) throws {
    let server = Self.mcpServer(transport: transport, field: field, secretStore: secretStore)
    let result = try SecretResolution.mcpServer(server, lookup: Self.lookup)
    let item = result["spec"]?["endpoint"]?[transport]?[field]?.arrayValue?.first
    #expect(item?["value"]?.stringValue == value)
    #expect(item?["secretKeyRef"]?["name"]?.stringValue == "redis")
  }

  @Test func anMCPServerWhoseSecretIsMissingNamesIt() {
    let server = Self.mcpServer(transport: "stdio", field: "env", secret: "gone")
    let error = #expect(throws: SecretResolution.MissingSecret.self) {
      try SecretResolution.mcpServer(server, lookup: Self.lookup)
    }
    #expect(error?.description == "MCPServer shop/tools refers to Secret shop/gone, which does not exist")
  }

  @Test func httpEndpointHeadersAndClientTLSAreResolved() throws {
    let endpoint: JSONValue = [
      "kind": "HTTPEndpoint", "metadata": ["name": "api", "namespace": "shop"],
      "spec": [
        "baseUrl": "https://api.example.com",
        "headers": [["name": "Authorization", "secretKeyRef": ["name": "redis", "key": "password"]]],
        "clientTLS": ["certificate": ["secretKeyRef": ["name": "redis", "key": "redis"]]],
      ],
    ]
    let result = try SecretResolution.httpEndpoint(endpoint, lookup: Self.lookup)
    #expect(result["spec"]?["headers"]?.arrayValue?.first?["value"]?.stringValue == "c2VjcmV0")
    #expect(result["spec"]?["clientTLS"]?["certificate"]?["value"]?.stringValue == "bmFtZWQ=")
  }

  static func configuration(_ headers: [JSONValue]) -> JSONValue {
    [
      "kind": "Configuration", "metadata": ["name": "tracing", "namespace": "shop"],
      "spec": ["tracing": ["otel": ["endpointAddress": "otel:4317", "headers": .array(headers)]]],
    ]
  }

  @Test func configurationOtelHeadersGetTheSecretsDecodedText() throws {
    let result = try SecretResolution.configuration(
      Self.configuration([
        ["name": "x-api-key", "secretKeyRef": ["name": "redis", "key": "password"]],
        ["name": "x-plain", "value": "1"],
      ]), lookup: Self.lookup)
    let headers = result["spec"]?["tracing"]?["otel"]?["headers"]?.arrayValue ?? []
    #expect(headers.map { $0["value"]?.stringValue } == ["secret", "1"])
  }

  @Test(
    "A Configuration header's secret problem names the header, the Secret and what is missing",
    arguments: [
      (
        ["name": "x-api-key", "secretKeyRef": ["name": "redis"]] as JSONValue,
        "Configuration shop/tracing: header x-api-key names Secret shop/redis without a key"
      ),
      (
        ["name": "x-api-key", "secretKeyRef": ["name": "redis", "key": "nope"]],
        "Configuration shop/tracing: header x-api-key: Secret shop/redis has no key nope"
      ),
      (
        ["name": "x-api-key", "secretKeyRef": ["name": "gone", "key": "k"]],
        "Configuration shop/tracing: header x-api-key refers to Secret shop/gone, which does not exist"
      ),
    ] as [(JSONValue, String)])
  func configurationSecretProblems(header: JSONValue, message: String) {
    do {
      _ = try SecretResolution.configuration(Self.configuration([header]), lookup: Self.lookup)
      Issue.record("expected \(message)")
    } catch {
      #expect(error.description == message)
    }
  }
}
