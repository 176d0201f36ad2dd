import ControlPlaneTestSupport
import Foundation
import Kubernetes
import Testing

/// The package graph keeps the layers apart: what a target may depend on is checked against the package
/// description SwiftPM reads (`swift package dump-package`), so a forbidden import fails here, not in review.
@Suite struct PackageGraphTests {
  /// Targets that must stay free of networking: no NIO, TLS, gRPC, HTTP server or client.
  static let pureTargets = [
    "AsyncPrimitives", "KubernetesCore", "DaprMessages", "ControlPlaneCore", "PlacementCore", "InjectorCore",
    "OperatorCore", "SentryCore",
  ]
  /// Packages whose products a pure target must not use.
  static let networkingPackages = [
    "swift-nio", "swift-nio-ssl", "swift-nio-http2", "swift-nio-extras", "grpc-swift-2", "grpc-swift-nio-transport",
    "grpc-swift-protobuf", "hummingbird", "async-http-client",
  ]

  /// Each target's direct dependencies: target names, and products as `package/product`.
  static func dependencies() throws -> [String: [String]] {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("dump-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: scratch) }
    // A scratch path of its own: the test runner's build folder stays untouched (and unlocked).
    let description = try ExternalTool("swift", ["package", "--scratch-path", scratch.path, "dump-package"])
      .succeeding()
    let package = try JSONCoding.parse(Data(description.utf8))
    var result: [String: [String]] = [:]
    for target in package["targets"]?.arrayValue ?? [] {
      guard let name = target["name"]?.stringValue else { continue }
      result[name] = (target["dependencies"]?.arrayValue ?? []).compactMap { dependency in
        if let byName = dependency["byName"]?.arrayValue?.first?.stringValue { return byName }
        if let target = dependency["target"]?.arrayValue?.first?.stringValue { return target }
        if let product = dependency["product"]?.arrayValue, let name = product.first?.stringValue,
          let package = product.dropFirst().first?.stringValue
        {
          return "\(package)/\(name)"
        }
        return nil
      }
    }
    return result
  }

  @Test func theKubernetesClientDoesNotDependOnControlPlaneKit() throws {
    let graph = try Self.dependencies()
    let kubernetes = try #require(graph["Kubernetes"], "no Kubernetes target in \(graph.keys.sorted())")
    #expect(!kubernetes.contains("ControlPlaneKit"), "\(kubernetes)")
    #expect(kubernetes.contains("AsyncPrimitives"))
  }

  @Test func pureTargetsNameNoNetworkingPackage() throws {
    let graph = try Self.dependencies()
    for target in Self.pureTargets {
      let dependencies = try #require(graph[target], "no \(target) target")
      let networking = dependencies.filter { dependency in
        Self.networkingPackages.contains { dependency.hasPrefix("\($0)/") }
      }
      #expect(networking.isEmpty, "\(target) depends on \(networking)")
      // Nor on a target that does.
      for local in dependencies where graph[local] != nil {
        #expect(Self.pureTargets.contains(local), "\(target) depends on \(local), which is not pure")
      }
    }
  }
}
