import ControlPlaneKit
import Foundation
import Hummingbird
import HummingbirdHTTP2
import Injector
import Kubernetes
import Logging
import ServiceLifecycle
import X509

/// The injector's webhook benchmark tools; `scripts/benchmarks/injector.sh` runs them with wrk and nginx.
///
/// - `InjectorBenchmark review FILE`: a realistic AdmissionReview (a Deployment's pod with `dapr.io/*` annotations and
///   managedFields, 3-4 KB) for wrk to post.
/// - `InjectorBenchmark response REVIEW FILE`: the webhook's answer to that review, for nginx to serve statically.
/// - `InjectorBenchmark time REVIEW`: what parsing and answering that review cost on one core, without the network.
/// - `InjectorBenchmark profile REVIEW SECONDS`: answers that review in a loop for SECONDS, for `perf record`.
/// - `InjectorBenchmark serve-static PORT CERT KEY ANSWER [h2]`: Hummingbird with the webhook's HTTPS set-up answering
///   every POST to `/mutate` with the file ANSWER: the floor the framework sets, without reading the review; with `h2`,
///   HTTP/2 offered by ALPN as well (what serving HTTP/2 to the API server would cost).
/// - `InjectorBenchmark serve PORT CERT KEY`: the real webhook (the same `InjectorWebhook` the injector runs) on
///   HTTPS with the given certificate, until SIGTERM.
@main
struct InjectorBenchmark {
  static func main() async throws {
    ControlPlaneProcess.runTasksOnEventLoops()
    let arguments = Array(CommandLine.arguments.dropFirst())
    switch arguments.first {
    case "review" where arguments.count == 2:
      try JSONCoding.encode(review()).write(to: URL(fileURLWithPath: arguments[1]))
    case "response" where arguments.count == 3:
      let body = try Data(contentsOf: URL(fileURLWithPath: arguments[1]))
      try handler().handle(body: body, contentType: "application/json").body.write(
        to: URL(fileURLWithPath: arguments[2]))
    case "time" where arguments.count == 2:
      try time(review: Data(contentsOf: URL(fileURLWithPath: arguments[1])))
    case "profile" where arguments.count == 3:
      try profile(review: Data(contentsOf: URL(fileURLWithPath: arguments[1])), seconds: Int(arguments[2]) ?? 10)
    case "serve-static" where arguments.count == 5 || (arguments.count == 6 && arguments[5] == "h2"):
      try await serveStatic(
        port: Int(arguments[1]) ?? 0, certificate: arguments[2], key: arguments[3], answer: arguments[4],
        http2: arguments.count == 6)
    case "serve" where arguments.count == 4:
      try await serve(port: Int(arguments[1]) ?? 0, certificate: arguments[2], key: arguments[3])
    default:
      print(
        "usage: InjectorBenchmark review FILE | response REVIEW FILE | time REVIEW | profile REVIEW SECONDS"
          + " | serve PORT CERT KEY"
          + " | serve-static PORT CERT KEY ANSWER [h2]")
      exit(2)
    }
  }

  /// The review's costs without the network, on one core: parsing it, and answering it (parse, plan, encode).
  static func time(review body: Data) throws {
    let handler = try handler()
    let rounds = 5000
    func perReview(_ work: () throws -> Void) rethrows -> String {
      for _ in 0..<500 { try work() }
      let started = ContinuousClock.now
      for _ in 0..<rounds { try work() }
      let micros = (ContinuousClock.now - started) / rounds / .microseconds(1)
      return String(format: "%.1f µs", micros)
    }
    print("parse (JSONReader): \(try perReview { _ = try JSONCoding.parse(body) })")
    print(
      "parse (Foundation's JSONSerialization, then JSONValue): \(try perReview { _ = try JSONCoding.parseWithFoundation(body) })"
    )
    print(
      "answer (parse, plan, encode): \(perReview { _ = handler.handle(body: body, contentType: "application/json") })")
  }

  /// Answers the review over and over for `seconds`, and nothing else: a steady target for `perf record`.
  static func profile(review body: Data, seconds: Int) throws {
    let handler = try handler()
    let deadline = ContinuousClock.now + .seconds(seconds)
    var answers = 0
    while ContinuousClock.now < deadline {
      for _ in 0..<100 { _ = handler.handle(body: body, contentType: "application/json") }
      answers += 100
    }
    print("\(answers) answers")
  }

  static func handler() throws -> AdmissionReviewHandler {
    AdmissionReviewHandler(
      planner: PatchPlanner(settings: InjectorSettings(), trustAnchors: String(repeating: "A", count: 600)),
      allowList: try ServiceAccountAllowList())
  }

  static func identity(certificate: String, key: String) throws -> TLSIdentity {
    try TLSIdentity(
      certificateChain: [Certificate(pemEncoded: String(contentsOfFile: certificate, encoding: .utf8))],
      privateKey: Certificate.PrivateKey(pemEncoded: String(contentsOfFile: key, encoding: .utf8)))
  }

  static func serveStatic(port: Int, certificate: String, key: String, answer: String, http2: Bool) async throws {
    let body = ByteBuffer(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: answer))))
    let router = Router()
    router.post("mutate") { request, _ -> Response in
      _ = try await request.body.collect(upTo: 16 << 20)
      return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }
    var logger = Logger(label: "static")
    logger.logLevel = .error
    let identity = LatestValue(try identity(certificate: certificate, key: key))
    let app = Application(
      router: router,
      server: http2
        ? try .http2Upgrade(tlsConfiguration: HummingbirdTLSConfigurations.server(identity: identity).tlsConfiguration)
        : try InjectorWebhook.httpServer(identity: identity),
      configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
    try await app.runService()
  }

  static func serve(port: Int, certificate: String, key: String) async throws {
    let identity = try identity(certificate: certificate, key: key)
    var logger = Logger(label: "dapr.injector")
    logger.logLevel = .error
    let readiness = ReadinessTargets([InjectorWebhook.readinessTarget])
    let webhook = InjectorWebhook(
      host: "127.0.0.1", port: port, identity: LatestValue(identity), handler: LatestValue(try handler()),
      metrics: InjectorMetrics(registry: MetricsRegistry()), readiness: readiness, logger: logger)
    // As every control-plane process (`ControlPlaneProcess.makeServiceGroup`).
    let memory = HeapTrimService(releasingStartupPagesOnce: readiness, logger: logger)
    let group = ServiceGroup(
      configuration: .init(
        services: [.init(service: webhook), .init(service: memory)],
        gracefulShutdownSignals: [.sigterm], logger: logger))
    try await group.run()
  }

  /// A pod as the ReplicaSet controller creates it for a Deployment, with Dapr's annotations and managedFields.
  static func review() -> JSONValue {
    let annotations: JSONObject = [
      "dapr.io/enabled": "true", "dapr.io/app-id": "checkout", "dapr.io/app-port": "8080",
      "dapr.io/config": "tracing", "dapr.io/log-level": "info", "dapr.io/enable-api-logging": "true",
      "dapr.io/sidecar-cpu-request": "100m", "dapr.io/sidecar-memory-limit": "256Mi",
      "dapr.io/env": "OTEL_SERVICE_NAME=checkout,LOG_FORMAT=json",
    ]
    let managedFields: JSONValue = [
      [
        "manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
        "time": "2026-11-22T10:00:00Z", "fieldsType": "FieldsV1",
        "fieldsV1": [
          "f:metadata": [
            "f:annotations": .object(JSONObject(annotations.keys.sorted().map { (key: "f:\($0)", value: [:]) })),
            "f:generateName": [:], "f:labels": ["f:app": [:], "f:pod-template-hash": [:]],
            "f:ownerReferences": ["k:{\"uid\":\"8f2b6c1e-3d4a-4b5c-9e8f-1a2b3c4d5e6f\"}": [:]],
          ],
          "f:spec": [
            "f:containers": [
              "k:{\"name\":\"checkout\"}": [
                "f:env": ["k:{\"name\":\"STORE\"}": ["f:value": [:]]], "f:image": [:], "f:imagePullPolicy": [:],
                "f:ports": ["k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": [:]], "f:resources": [:],
              ]
            ],
            "f:dnsPolicy": [:], "f:restartPolicy": [:], "f:schedulerName": [:], "f:terminationGracePeriodSeconds": [:],
          ],
        ],
      ]
    ]
    let pod: JSONValue = [
      "apiVersion": "v1", "kind": "Pod",
      "metadata": [
        "generateName": "checkout-6d5f8b7c9-", "namespace": "shop",
        "labels": ["app": "checkout", "pod-template-hash": "6d5f8b7c9"],
        "annotations": .object(annotations),
        "ownerReferences": [
          [
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "checkout-6d5f8b7c9",
            "uid": "8f2b6c1e-3d4a-4b5c-9e8f-1a2b3c4d5e6f", "controller": true, "blockOwnerDeletion": true,
          ]
        ],
        "managedFields": managedFields,
      ],
      "spec": [
        "containers": [
          [
            "name": "checkout", "image": "registry.example.com/shop/checkout:1.4.2", "imagePullPolicy": "IfNotPresent",
            "ports": [["containerPort": 8080, "protocol": "TCP"]],
            "env": [["name": "STORE", "value": "statestore"]],
            "resources": [:], "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "volumeMounts": [
              [
                "name": "kube-api-access-x7k2p", "readOnly": true,
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
              ]
            ],
          ]
        ],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default", "schedulerName": "default-scheduler",
        "volumes": [
          [
            "name": "kube-api-access-x7k2p",
            "projected": [
              "defaultMode": 420,
              "sources": [
                ["serviceAccountToken": ["expirationSeconds": 3607, "path": "token"]],
                ["configMap": ["name": "kube-root-ca.crt", "items": [["key": "ca.crt", "path": "ca.crt"]]]],
              ],
            ],
          ]
        ],
      ],
    ]
    return [
      "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
      "request": [
        "uid": "2a5c7e3b-9d1f-4e6a-8b2c-0f1e2d3c4b5a",
        "kind": ["group": "", "version": "v1", "kind": "Pod"],
        "resource": ["group": "", "version": "v1", "resource": "pods"],
        "requestKind": ["group": "", "version": "v1", "kind": "Pod"],
        "requestResource": ["group": "", "version": "v1", "resource": "pods"],
        "namespace": "shop", "operation": "CREATE",
        "userInfo": [
          "username": "system:serviceaccount:kube-system:replicaset-controller",
          "uid": "4b1c9a2e-7f3d-4c8b-a6e5-d2f1c0b9a8e7",
          "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
        ],
        "object": pod, "oldObject": nil, "dryRun": false,
        "options": ["apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"],
      ],
    ]
  }
}
