import Foundation
import Injector
import Kubernetes
import Testing
import Yams

/// One file under `Fixtures/`: a pod, the injector's environment, and the namespace's pluggable Components. Its
/// expected JSON Patch is `<name>.patch.json` next to it (one operation per line), and the warnings, when there are
/// any, `<name>.warnings.txt`. `INJECTOR_UPDATE_GOLDEN=1` rewrites both from the planner (review the diff).
struct GoldenFixture: CustomTestStringConvertible, Sendable {
  static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
  static let trustAnchors = "-----BEGIN CERTIFICATE-----\nMIIBfixture\n-----END CERTIFICATE-----\n"

  let name: String
  var testDescription: String { name }

  static var all: [GoldenFixture] {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return files.filter { $0.hasSuffix(".yaml") }.sorted().map { GoldenFixture(name: String($0.dropLast(5))) }
  }

  var url: URL { Self.directory.appendingPathComponent(name + ".yaml") }
  var patchURL: URL { Self.directory.appendingPathComponent(name + ".patch.json") }
  var warningsURL: URL { Self.directory.appendingPathComponent(name + ".warnings.txt") }

  /// The fixture as JSON (through Foundation, as `kubectl` would read the YAML).
  func document() throws -> JSONValue {
    let yaml = try String(contentsOf: url, encoding: .utf8)
    let loaded = try #require(try Yams.load(yaml: yaml))
    return try JSONCoding.parse(try JSONSerialization.data(withJSONObject: loaded))
  }

  func pod() throws -> JSONValue { try #require(try document()["pod"]) }

  func plan() throws -> (operations: [PatchOperation], warnings: [String]) {
    let document = try document()
    var environment: [String: String] = [:]
    for (key, value) in document["injector"]?.objectValue ?? [:] { environment[key] = value.stringValue }
    var settingWarnings: [String] = []
    var settings = try InjectorSettings(
      environment: environment, warnings: &settingWarnings)
    // The fixtures hold Dapr's own patches, made with Dapr's default of a scheduler (ours has none by default).
    settings.schedulerEnabled = document["scheduler"]?.boolValue ?? true
    let components = (document["components"]?.arrayValue ?? []).map {
      PluggableComponent(
        name: $0["name"]?.stringValue ?? "", scopes: $0["scopes"]?.arrayValue?.compactMap(\.stringValue) ?? [],
        container: $0["container"]?.stringValue ?? "")
    }
    let planner = PatchPlanner(
      settings: settings, trustAnchors: Self.trustAnchors, mTLSEnabled: document["mtls"]?.boolValue ?? true)
    let plan = try planner.plan(pod: try pod(), namespace: "shop", components: components)
    guard case .inject(_, let operations, let warnings) = plan else {
      throw UnexpectedPlan(description: "\(name): expected an injection, got \(plan)")
    }
    return (operations, settingWarnings + warnings.map(\.message))
  }

  /// A patch as its golden file holds it: a JSON array with one operation (sorted keys) per line.
  static func golden(_ operations: [PatchOperation]) throws -> String {
    let lines = try operations.map {
      String(decoding: try JSONCoding.encode($0.jsonValue, sortedKeys: true), as: UTF8.self)
    }
    return "[\n" + lines.joined(separator: ",\n") + "\n]\n"
  }
}

@Suite struct GoldenPatchTests {
  static let fixtures = GoldenFixture.all
  static let updating = ProcessInfo.processInfo.environment["INJECTOR_UPDATE_GOLDEN"] == "1"

  @Test func thereAreAtLeastTwentyFiveFixturePodsEachWithItsExpectedPatch() throws {
    #expect(Self.fixtures.count >= 25)
    for fixture in Self.fixtures {
      #expect(FileManager.default.fileExists(atPath: fixture.patchURL.path), "\(fixture.name) has no .patch.json")
    }
  }

  @Test("Each fixture pod gets exactly the JSON Patch (and the warnings) of its golden files", arguments: fixtures)
  func producesTheGoldenPatch(fixture: GoldenFixture) throws {
    let (operations, warnings) = try fixture.plan()
    let patch = try GoldenFixture.golden(operations)
    let warningsText = warnings.map { $0 + "\n" }.joined()
    if Self.updating {
      try patch.write(to: fixture.patchURL, atomically: true, encoding: .utf8)
      if warnings.isEmpty {
        try? FileManager.default.removeItem(at: fixture.warningsURL)
      } else {
        try warningsText.write(to: fixture.warningsURL, atomically: true, encoding: .utf8)
      }
    }
    #expect(patch == (try String(contentsOf: fixture.patchURL, encoding: .utf8)))
    let expectedWarnings = (try? String(contentsOf: fixture.warningsURL, encoding: .utf8)) ?? ""
    #expect(warningsText == expectedWarnings)
  }

  @Test("The patch the webhook sends is the golden patch, written by its one-pass writer", arguments: fixtures)
  func theWebhooksWriterSendsTheGoldenPatch(fixture: GoldenFixture) throws {
    let (operations, _) = try fixture.plan()
    let sent = try JSONCoding.parse(PatchOperation.json(operations))
    #expect(sent == (try JSONCoding.parse(try Data(contentsOf: fixture.patchURL))))
  }

  @Test(
    "Kubernetes applies each golden patch: daprd as planned, one copy of each volume, the labels, and app containers with the Dapr variables beside their own",
    arguments: fixtures)
  func kubectlAppliesTheGoldenPatch(fixture: GoldenFixture) throws {
    let pod = try fixture.pod()
    let patch = try JSONCoding.parse(try Data(contentsOf: fixture.patchURL))
    let documents = try #require(patch.arrayValue)
    // The injector only adds; a golden file with any other op is wrong.
    #expect(documents.allSatisfy { $0["op"]?.stringValue == "add" })
    let operations = documents.map { PatchOperation.add($0["path"]?.stringValue ?? "", $0["value"] ?? .null) }
    let result = try KubectlPatchTests.applied(pod, operations)
    try Self.check(result: result, original: pod, operations: operations)
  }

  static func check(result: JSONValue, original pod: JSONValue, operations: [PatchOperation]) throws {
    let spec = try #require(result["spec"])
    let containers = spec["containers"]?.arrayValue ?? []
    let initContainers = spec["initContainers"]?.arrayValue ?? []
    let planned = try #require(
      operations.first { $0.path == "/spec/containers/-" || $0.path == "/spec/initContainers/-" }?.value)
    let daprd = try #require((containers + initContainers).first { $0["name"]?.stringValue == "daprd" })
    // The container Kubernetes stored is the planned one: args in order, env, ports, probes, mounts.
    #expect(daprd == planned)
    #expect(daprd["args"]?.arrayValue?.contains("--app-id") == true)
    for key in ["env", "ports", "readinessProbe", "livenessProbe", "securityContext"] {
      #expect(daprd[key] != nil, "daprd has no \(key)")
    }

    // Each volume once, and every one daprd mounts exists.
    let volumes = (spec["volumes"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
    #expect(volumes.count == Set(volumes).count, "duplicate volumes: \(volumes)")
    for mount in daprd["volumeMounts"]?.arrayValue ?? [] {
      #expect(volumes.contains(mount["name"]?.stringValue ?? ""), "daprd mounts a missing volume: \(mount)")
    }
    for volume in pod["spec"]?["volumes"]?.arrayValue ?? [] {
      #expect(spec["volumes"]?.arrayValue?.contains(volume) == true, "the pod's volume \(volume) was changed")
    }

    let labels = result["metadata"]?["labels"]
    #expect(labels?["dapr.io/sidecar-injected"]?.stringValue == "true")
    #expect(labels?["dapr.io/app-id"]?.stringValue == daprd["args"]?.arrayValue?.firstValue(after: "--app-id"))
    #expect(labels?["dapr.io/metrics-enabled"]?.stringValue != nil)
    for (key, value) in pod["metadata"]?["labels"]?.objectValue ?? [:] { #expect(labels?[key] == value) }

    // App containers: the Dapr variables, their own variables first and untouched. Component containers: the
    // socket folder instead. The pod's init containers are untouched.
    let annotations = pod["metadata"]?["annotations"]
    let components = Set(
      (annotations?["dapr.io/pluggable-components"]?.stringValue ?? "").split(separator: ",").map(String.init))
    let originals = pod["spec"]?["containers"]?.arrayValue ?? []
    for (index, original) in originals.enumerated() {
      let container = containers[index]
      let env = container["env"]?.arrayValue ?? []
      let own = original["env"]?.arrayValue ?? []
      #expect(Array(env.prefix(own.count)) == own, "\(original["name"]!) lost or reordered its own variables")
      let names = env.compactMap { $0["name"]?.stringValue }
      if components.contains(original["name"]?.stringValue ?? "") {
        #expect(names.contains("DAPR_COMPONENT_SOCKETS_FOLDER") && !names.contains("DAPR_HTTP_PORT"))
      } else {
        #expect(names.contains("DAPR_HTTP_PORT") && names.contains("DAPR_GRPC_PORT"))
      }
    }
    let originalInit = pod["spec"]?["initContainers"]?.arrayValue ?? []
    #expect(Array(initContainers.prefix(originalInit.count)) == originalInit)
  }
}

extension [JSONValue] {
  /// The string after `flag` in an argument list.
  func firstValue(after flag: String) -> String? {
    guard let index = firstIndex(of: .string(flag)), index + 1 < count else { return nil }
    return self[index + 1].stringValue
  }
}
