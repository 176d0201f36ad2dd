// swift-tools-version: 6.1
//
// The Dapr control plane in Swift: four services (operator, injector, sentry, placement) that share one
// core library and speak Dapr's own wire protocols, so that an unmodified `daprd` sidecar works against them.

import PackageDescription

let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")

// The four binaries are linked by the toolchain's lld with packed relative relocations (DT_RELR, glibc 2.36+): the
// dynamic loader reads 17 KB of them at start instead of 2 MB of RELA entries, about 3 MiB less resident per process.
let compactBinary: [LinkerSetting] = [
  .unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(platforms: [.linux]))
]

let package = Package(
  name: "dapr-control-plane",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "operator", targets: ["OperatorCommand"]),
    .executable(name: "injector", targets: ["InjectorCommand"]),
    .executable(name: "sentry", targets: ["SentryCommand"]),
    .executable(name: "placement", targets: ["PlacementCommand"]),
    .executable(name: "dapr-sidecar-sim", targets: ["SidecarSimulatorCommand"]),
    .executable(name: "dapr-local", targets: ["LocalRunner"]),
    .library(name: "ControlPlaneKit", targets: ["ControlPlaneKit"]),
    .library(name: "DaprProto", targets: ["DaprProto"]),
    .library(name: "Kubernetes", targets: ["Kubernetes"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
    .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
    .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
    .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
    .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
    .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
  ],
  targets: [
    // Generated protobuf messages and grpc-swift-2 stubs (scripts/generate-protos.sh; committed).
    // Dapr's control-plane messages alone (SwiftProtobuf), for the pure cores; DaprProto adds the gRPC services.
    .target(
      name: "DaprMessages",
      dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]
    ),
    .target(
      name: "DaprProto",
      dependencies: [
        "DaprMessages",
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
      ],
      exclude: ["README.md", "Protos"]
    ),
    // glibc's heap statistics and trimming, which Swift's Glibc module does not export.
    .target(name: "CMalloc"),
    // Small concurrency building blocks on the standard library alone (a latest value with subscribers), shared by
    // the Kubernetes client and ControlPlaneKit without either depending on the other.
    .target(name: "AsyncPrimitives"),
    // The shared core: identity and TLS, observability (logs, metrics, health), process runtime.
    // What the services' cores share, without the network: SPIFFE IDs, trust bundles and PEM, Go's flag and duration
    // syntax, daprd's ring hash (BLAKE2b), the run mode. Pure (PackageGraphTests checks it).
    .target(
      name: "ControlPlaneCore",
      dependencies: [
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "_CryptoExtras", package: "swift-crypto"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "SwiftASN1", package: "swift-asn1"),
      ]
    ),
    .target(
      name: "ControlPlaneKit",
      dependencies: [
        "AsyncPrimitives", "ControlPlaneCore", "DaprProto", "CMalloc",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "NIOCertificateReloading", package: "swift-nio-extras"),
        .product(name: "NIOHTTP2", package: "swift-nio-http2"),
        .product(name: "HTTPTypes", package: "swift-http-types"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "_CryptoExtras", package: "swift-crypto"),
        .product(name: "SwiftASN1", package: "swift-asn1"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdTLS", package: "hummingbird"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]
    ),
    // Kubernetes without the network: JSON, the models, the reflector, lease and work-queue state machines,
    // Backoff, the protocols controllers read and write through. Pure (PackageGraphTests checks it).
    .target(
      name: "KubernetesCore",
      dependencies: ["AsyncPrimitives", .product(name: "Yams", package: "Yams")]
    ),
    // A thin, typed Kubernetes client on AsyncHTTPClient: verbs, watches, informers, leader election.
    .target(
      name: "Kubernetes",
      dependencies: [
        "AsyncPrimitives", "KubernetesCore",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOFoundationCompat", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Yams", package: "Yams"),
      ]
    ),
    // Sentry's certificate policy, request checks, issuing authority and root rotation, without the network.
    .target(
      name: "SentryCore",
      dependencies: [
        "ControlPlaneCore", "DaprMessages", "KubernetesCore",
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "SwiftASN1", package: "swift-asn1"),
      ]
    ),
    .target(
      name: "Sentry",
      dependencies: [
        "ControlPlaneKit", "DaprProto", "Kubernetes", "SentryCore",
        .product(name: "JWTKit", package: "jwt-kit"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "_CryptoExtras", package: "swift-crypto"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdCore", package: "hummingbird"),
        .product(name: "HummingbirdTLS", package: "hummingbird"),
        .product(name: "HTTPTypes", package: "swift-http-types"),
        .product(name: "SwiftASN1", package: "swift-asn1"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    // The operator's planning (fan-out, secret resolution, Services, the watchdog's decisions), without the network.
    .target(name: "OperatorCore", dependencies: ["ControlPlaneCore", "KubernetesCore"]),
    .target(
      name: "Operator",
      dependencies: [
        "ControlPlaneKit", "DaprProto", "Kubernetes", "OperatorCore",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdTLS", package: "hummingbird"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    // The injector's patch planning and admission answers, without the network.
    .target(name: "InjectorCore", dependencies: ["ControlPlaneCore", "KubernetesCore"]),
    .target(
      name: "Injector",
      dependencies: [
        "ControlPlaneKit", "Kubernetes", "InjectorCore",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Yams", package: "Yams"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdTLS", package: "hummingbird"),
        .product(name: "HummingbirdCore", package: "hummingbird"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    // Placement's rounds, orders and report rules, without the network (PackageGraphTests checks it).
    .target(
      name: "PlacementCore",
      dependencies: ["DaprMessages"]
    ),
    .target(
      name: "Placement",
      dependencies: [
        "ControlPlaneKit", "DaprProto", "Kubernetes", "PlacementCore",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    // Simulated sidecars for placement's tests and benchmarks.
    .target(
      name: "PlacementSimulator",
      dependencies: [
        "DaprProto",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
      ]
    ),
    // daprd's side of sentry, the operator and placement, for injected pods: the sidecar simulator.
    .target(
      name: "SidecarSimulator",
      dependencies: [
        "ControlPlaneKit", "DaprProto", "Kubernetes", "PlacementSimulator",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]
    ),
    .executableTarget(name: "SidecarSimulatorCommand", dependencies: ["SidecarSimulator", argumentParser]),
    // Thin `@main` entry points; the binaries are named as Dapr's image names them.
    .executableTarget(name: "SentryCommand", dependencies: ["Sentry", argumentParser], linkerSettings: compactBinary),
    .executableTarget(
      name: "OperatorCommand", dependencies: ["Operator", argumentParser], linkerSettings: compactBinary),
    .executableTarget(
      name: "InjectorCommand", dependencies: ["Injector", argumentParser], linkerSettings: compactBinary),
    .executableTarget(
      name: "PlacementCommand", dependencies: ["Placement", argumentParser], linkerSettings: compactBinary),
    // What runs the control plane on this machine, for the local runner and the tests alike: the Kubernetes test
    // control plane, the chart rendered and applied, child processes that die with their parent, external tools.
    .target(
      name: "LocalControlPlane",
      dependencies: ["Kubernetes", .product(name: "AsyncHTTPClient", package: "async-http-client")]
    ),
    // `dapr-local`, which scripts/run-local.sh runs: the control plane on this machine, from the chart, with a demo.
    .executableTarget(
      name: "LocalRunner",
      dependencies: [
        "LocalControlPlane", "Kubernetes", argumentParser,
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
      ]
    ),
    // Helpers for tests: an in-memory CA, running services in the background, one-shot signals.
    .target(
      name: "ControlPlaneTestSupport",
      dependencies: [
        "ControlPlaneKit",
        "Kubernetes",
        "LocalControlPlane",
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "SwiftASN1", package: "swift-asn1"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "_CryptoExtras", package: "swift-crypto"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]
    ),
    .testTarget(
      name: "ControlPlaneKitTests",
      dependencies: [
        "ControlPlaneKit",
        "ControlPlaneTestSupport",
        "DaprProto",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
      ]
    ),
    .testTarget(
      name: "KubernetesTests",
      dependencies: [
        "Kubernetes", "KubernetesCore",
        "ControlPlaneTestSupport",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdTLS", package: "hummingbird"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
      ]
    ),
    .testTarget(
      name: "SentryTests",
      dependencies: [
        "Sentry", "SentryCore", "ControlPlaneKit", "ControlPlaneTestSupport", "DaprProto", "Kubernetes",
        .product(name: "JWTKit", package: "jwt-kit"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "SwiftASN1", package: "swift-asn1"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]
    ),
    // Benchmarks (run in release; results in BENCHMARKS.md).
    .executableTarget(
      name: "ReflectorBenchmark",
      dependencies: ["Kubernetes", "ControlPlaneTestSupport", .product(name: "Logging", package: "swift-log")],
      path: "Benchmarks/ReflectorBenchmark"
    ),
    .executableTarget(
      name: "SentryBenchmark",
      dependencies: [
        "Sentry", "ControlPlaneKit", "DaprProto",
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      path: "Benchmarks/SentryBenchmark"
    ),
    // The benchmarks' simulated sidecars: gRPC calls over NIO's HTTP/2 without a task per message.
    .target(
      name: "LeanGRPCClient",
      dependencies: [
        "ControlPlaneKit",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "NIOHTTP2", package: "swift-nio-http2"),
        .product(name: "NIOHPACK", package: "swift-nio-http2"),
      ],
      path: "Benchmarks/LeanGRPCClient"
    ),
    // `scripts/benchmarks/placement.sh`: the ring, table sizes, and a fleet of simulated sidecars in its own process.
    .executableTarget(
      name: "PlacementBenchmark",
      dependencies: [
        "Placement", "PlacementSimulator", "ControlPlaneKit", "ControlPlaneTestSupport", "DaprProto", "LeanGRPCClient",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "X509", package: "swift-certificates"),
      ],
      path: "Benchmarks/PlacementBenchmark"
    ),
    // `scripts/benchmarks/operator.sh`: Component changes fanned out to a fleet of streams.
    .executableTarget(
      name: "OperatorBenchmark",
      dependencies: [
        "Operator", "ControlPlaneKit", "ControlPlaneTestSupport", "Kubernetes", "DaprProto", "LeanGRPCClient",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      path: "Benchmarks/OperatorBenchmark",
      // It stands in for the product's process, whose memory it reports: linked the same way.
      linkerSettings: compactBinary
    ),
    // `scripts/benchmarks/injector.sh`: the webhook next to nginx, under wrk.
    .executableTarget(
      name: "InjectorBenchmark",
      dependencies: [
        "Injector", "ControlPlaneKit", "Kubernetes",
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdHTTP2", package: "hummingbird"),
      ],
      path: "Benchmarks/InjectorBenchmark",
      // It stands in for the product's process, whose memory it reports: linked the same way.
      linkerSettings: compactBinary
    ),
    .testTarget(
      name: "PlacementTests",
      dependencies: [
        "Placement", "PlacementSimulator", "ControlPlaneKit", "ControlPlaneTestSupport", "DaprProto", "Kubernetes",
        "LeanGRPCClient",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]
    ),
    .testTarget(
      name: "InjectorTests",
      dependencies: [
        "Injector", "InjectorCore", "Kubernetes", "ControlPlaneKit", "ControlPlaneTestSupport",
        .product(name: "Yams", package: "Yams"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "Logging", package: "swift-log"),
      ],
      exclude: ["Fixtures"]
    ),
    .testTarget(
      name: "OperatorTests",
      dependencies: [
        "Operator", "OperatorCore", "Kubernetes", "ControlPlaneKit", "ControlPlaneTestSupport", "DaprProto",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]
    ),
    .testTarget(
      name: "SidecarSimulatorTests",
      dependencies: ["SidecarSimulator", "Injector", "Kubernetes", "ControlPlaneKit", "ControlPlaneTestSupport"]
    ),
    // The four binaries serving simulated sidecars together on a real API server, as a user runs them.
    .testTarget(
      name: "EndToEndTests",
      dependencies: [
        "Kubernetes", "ControlPlaneKit", "ControlPlaneTestSupport",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    // The chart, the CRDs, the plain manifests and the RBAC, checked with real Helm, Kubernetes' schemas, the
    // binaries' own flag parsers and, with an audit log, the real API server.
    .testTarget(
      name: "PackagingTests",
      dependencies: [
        "Operator", "Injector", "Sentry", "Placement", "Kubernetes", "ControlPlaneKit", "ControlPlaneTestSupport",
        "DaprProto",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "Yams", package: "Yams"),
      ],
      exclude: ["Fixtures"]
    ),
    // Starts the four binaries and checks /healthz, /metrics (with promtool) and SIGTERM.
    .testTarget(
      name: "ExecutablesTests",
      dependencies: [
        "ControlPlaneTestSupport",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
      ]
    ),
  ],
  swiftLanguageModes: [.v6]
)
