import Foundation
import Kubernetes

/// How the API server reaches the chart's two webhooks here. The chart registers them by Service
/// (`dapr-sidecar-injector` for the injector, `dapr-webhook` for the operator's conversion webhook), and the API
/// server calls a Service's **cluster IP** on the Service's port (443), verifying TLS for `<service>.<ns>.svc`.
/// There is no kube-proxy here, so each control plane gets a cluster IP range of its own in 198.18.0.0/15 (a
/// range set aside for benchmarks, which no real network uses), the two Services' cluster IPs are put on the
/// loopback interface, and the injector and the operator's webhook listen there on port 443: the API server's calls
/// stay on loopback and go through the chart's own webhook configuration, with the certificates sentry issued for
/// those names. Needs root (`ip addr add ... dev lo`); the addresses are labelled with this process's id and taken
/// away when it stops, and addresses left by a process that died are taken away by the next run.
public final class WebhookRouting: Sendable {
  /// A cluster IP range of its own for one control plane.
  public let serviceCIDR: String
  private let added = LockedAddresses()

  public init() {
    serviceCIDR = "198.\(Int.random(in: 18...19)).\(Int.random(in: 0...255)).0/24"
  }

  /// Whether this process may put addresses on the loopback interface.
  public static var isAvailable: Bool {
    getuid() == 0
      && ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].contains { FileManager.default.isExecutableFile(atPath: $0) }
  }

  static var label: String { "lo:d\(getpid())" }

  /// `endpoints` with the injector and the conversion webhook on port 443 at their Services' cluster IPs, which
  /// are put on the loopback interface.
  public func route(
    _ endpoints: LocalInstallation.Endpoints, install: RenderedInstall, admin: KubernetesClient
  )
    async throws -> LocalInstallation.Endpoints
  {
    Self.removeStaleAddresses()
    var routed = endpoints
    for (service, assign) in [
      (
        "dapr-sidecar-injector",
        { (e: inout LocalInstallation.Endpoints, ip: String) in
          e.injectorAddress = ip; e.injector = 443
        }
      ),
      (
        "dapr-webhook",
        { (e: inout LocalInstallation.Endpoints, ip: String) in
          e.operatorWebhookAddress = ip
          e.operatorWebhook = 443
        }
      ),
    ] {
      let object = try await admin.get(KubernetesService.self, namespace: install.namespace, name: service)
      guard let ip = object.json["spec"]?["clusterIP"]?.stringValue, !ip.isEmpty, ip != "None" else {
        throw LaunchPlan.Unsupported(description: "Service \(service) has no cluster IP")
      }
      try Self.ip(["addr", "add", "\(ip)/32", "dev", "lo", "label", Self.label])
      added.append(ip)
      // Taken away when this process exits normally too (a test run's routing is never deinitialised).
      ProcessExit.run { try? Self.ip(["addr", "del", "\(ip)/32", "dev", "lo"]) }
      assign(&routed, ip)
    }
    return routed
  }

  /// Takes this process's addresses off the loopback interface.
  public func remove() {
    for ip in added.drain() { try? Self.ip(["addr", "del", "\(ip)/32", "dev", "lo"]) }
  }

  /// Removes addresses of processes that are gone (labels `lo:d<pid>` in 198.18.0.0/15).
  static func removeStaleAddresses() {
    guard let listing = try? ExternalTool(ipPath, ["-o", "-4", "addr", "show", "dev", "lo"]).succeeding() else {
      return
    }
    for line in listing.split(separator: "\n") {
      let fields = line.split(whereSeparator: { $0 == " " || $0 == "\\" }).map(String.init)
      guard let inet = fields.firstIndex(of: "inet"), inet + 1 < fields.count,
        let label = fields.first(where: { $0.hasPrefix("lo:d") }), let pid = Int32(label.dropFirst(4)),
        kill(pid, 0) != 0,
        fields[inet + 1].hasPrefix("198.18.") || fields[inet + 1].hasPrefix("198.19.")
      else { continue }
      try? ip(["addr", "del", fields[inet + 1], "dev", "lo"])
    }
  }

  static var ipPath: String {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "ip"
  }

  static func ip(_ arguments: [String]) throws { try ExternalTool(ipPath, arguments).succeeding() }

  deinit { remove() }
}

/// The addresses a routing added, for its cleanup.
final class LockedAddresses: @unchecked Sendable {
  private let lock = NSLock()
  private var addresses: [String] = []

  func append(_ address: String) { lock.withLock { addresses.append(address) } }

  func drain() -> [String] {
    lock.withLock {
      defer { addresses = [] }
      return addresses
    }
  }
}

extension LocalInstallation.Endpoints {
  /// The `--resolve` rules that send a simulated sidecar's cluster addresses (as the injector writes them, for
  /// control-plane namespace `namespace` and cluster domain `domain`) to these endpoints.
  public func simulatorResolveRules(
    namespace: String, domain: String = "cluster.local", placement: [Int]? = nil
  )
    -> [String]
  {
    let placementTargets = (placement ?? [self.placement]).map { "\(address):\($0)" }.joined(separator: ",")
    return [
      "dapr-api.\(namespace).svc.\(domain):443=\(address):\(operatorAPI)",
      "dapr-sentry.\(namespace).svc.\(domain):443=\(address):\(sentry)",
      "dapr-placement-server.\(namespace).svc.\(domain):50005=\(placementTargets)",
    ]
  }
}
