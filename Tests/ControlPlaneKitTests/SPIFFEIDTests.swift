import ControlPlaneKit
import Testing

@Suite struct SPIFFEIDTests {
  @Test(
    "Valid Dapr SPIFFE IDs parse into their parts and print back unchanged",
    arguments: [
      ("spiffe://public/ns/default/myapp", "public", "default", "myapp"),
      ("spiffe://cluster.local/ns/dapr-system/dapr-sentry", "cluster.local", "dapr-system", "dapr-sentry"),
      ("spiffe://my_domain-1.example/ns/team-a/Order_Service", "my_domain-1.example", "team-a", "Order_Service"),
      (
        "spiffe://localhost/ns/default/" + String(repeating: "a", count: 64), "localhost", "default",
        String(repeating: "a", count: 64)
      ),
    ])
  func validIDs(text: String, trustDomain: String, namespace: String, appID: String) throws {
    let id = try SPIFFEID(parsing: text)
    #expect(id.trustDomain == trustDomain)
    #expect(id.namespace == namespace)
    #expect(id.appID == appID)
    #expect(id.description == text)
    #expect(try SPIFFEID(trustDomain: trustDomain, namespace: namespace, appID: appID) == id)
  }

  static let malformed: [(String, String, SPIFFEIDError.Code)] = [
    ("missing scheme", "public/ns/default/myapp", .missingScheme),
    ("wrong scheme", "https://public/ns/default/myapp", .missingScheme),
    ("empty trust domain", "spiffe:///ns/default/myapp", .emptyTrustDomain),
    ("upper-case trust domain", "spiffe://Public/ns/default/myapp", .invalidTrustDomain),
    ("trust domain with a port", "spiffe://public:443/ns/default/myapp", .userInfoOrPort),
    ("no path", "spiffe://public", .wrongPathShape),
    ("path not starting with ns", "spiffe://public/namespace/default/myapp", .wrongPathShape),
    ("empty namespace", "spiffe://public/ns//myapp", .emptyNamespace),
    ("missing app id", "spiffe://public/ns/default", .emptyAppID),
    ("empty app id", "spiffe://public/ns/default/", .emptyAppID),
    ("extra segments", "spiffe://public/ns/default/myapp/extra", .extraSegments),
    ("dot in app id", "spiffe://public/ns/default/my.app", .dotInAppID),
    ("dot in namespace", "spiffe://public/ns/de.fault/myapp", .dotInNamespace),
    ("query", "spiffe://public/ns/default/myapp?x=1", .queryOrFragment),
    ("app id over 64 characters", "spiffe://public/ns/default/" + String(repeating: "a", count: 65), .appIDTooLong),
    ("whole ID over 2048 bytes", "spiffe://" + String(repeating: "a", count: 2100) + "/ns/default/myapp", .tooLong),
    ("space in app id", "spiffe://public/ns/default/my app", .invalidCharacter),
  ]

  @Test("Malformed IDs are rejected with the specific problem", arguments: malformed)
  func malformedIDs(name: String, text: String, code: SPIFFEIDError.Code) {
    #expect(throws: SPIFFEIDError.self, "\(name)") { try SPIFFEID(parsing: text) }
    do {
      _ = try SPIFFEID(parsing: text)
    } catch {
      #expect(error.code == code, "\(name): \(error.message)")
    }
  }

  @Test func everyKindOfRejectionHasItsOwnMessage() {
    var messages: [SPIFFEIDError.Code: Set<String>] = [:]
    for (_, text, _) in Self.malformed {
      do {
        _ = try SPIFFEID(parsing: text)
      } catch {
        messages[error.code, default: []].insert(error.message)
      }
    }
    let allMessages = messages.values.flatMap { $0 }
    #expect(Set(allMessages).count == allMessages.count)
    #expect(messages.count >= 12)
  }

  @Test func buildingFromPartsChecksEachPart() {
    #expect(throws: SPIFFEIDError.self) { try SPIFFEID(trustDomain: "public", namespace: "default", appID: "a.b") }
    #expect(throws: SPIFFEIDError.self) { try SPIFFEID(trustDomain: "", namespace: "default", appID: "app") }
    #expect(throws: SPIFFEIDError.self) { try SPIFFEID(trustDomain: "public", namespace: "", appID: "app") }
  }
}
