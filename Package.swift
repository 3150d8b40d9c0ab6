// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "millwright",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "millwright", targets: ["millwright"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // C libraries, reached only through the Swift module that wraps each of them.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CLibJWT", pkgConfig: "libjwt", providers: [.apt(["libjwt-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CLibCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // curl_easy_setopt/getinfo are variadic macros-in-spirit: typed C functions for Swift.
        .target(name: "CCurlShims", dependencies: ["CLibCurl"]),

        // Every parser of bytes a client controls, with no dependencies, so that each is
        // fuzzed alone (scripts/fuzz.sh).
        .target(name: "InputParsing", swiftSettings: strict),
        .target(
            name: "Postgres",
            dependencies: [
                "CLibPQ", "InputParsing", "Tenancy",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CurlClient",
            dependencies: [
                "CLibCurl", "CCurlShims",
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(name: "OpenSSLSupport", dependencies: ["COpenSSL"], swiftSettings: strict),
        .target(name: "Gzip", dependencies: ["CZlib"], swiftSettings: strict),
        .target(
            name: "Auth",
            dependencies: [
                "CLibJWT", "CurlClient", "OpenSSLSupport", "InputParsing", "Tenancy",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .target(name: "Tenancy", dependencies: ["InputParsing"], swiftSettings: strict),
        // JSON written straight into bytes, for the API's responses and the streams' events.
        .target(name: "JSONText", dependencies: ["InputParsing"], swiftSettings: strict),
        .target(
            name: "DeviceRegistry",
            dependencies: ["Tenancy", "Postgres", "Auth", "InputParsing"],
            swiftSettings: strict
        ),
        .target(
            name: "MetricRouter",
            dependencies: [
                "Tenancy", "Auth", "DeviceRegistry", "Postgres", "InputParsing",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Alerting",
            dependencies: [
                "Tenancy", "Auth", "DeviceRegistry", "Postgres", "InputParsing", "CurlClient", "OpenSSLSupport",
                "MetricRouter",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // Live streams: the stream log, each replica's hub and tickets.
        .target(
            name: "Streams",
            dependencies: [
                "Tenancy", "Auth", "Postgres", "InputParsing", "MetricRouter", "OpenSSLSupport", "JSONText",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "API",
            dependencies: [
                "Auth", "Tenancy", "DeviceRegistry", "MetricRouter", "Alerting", "Streams", "JSONText", "Gzip", "Postgres",
                "InputParsing",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "millwright",
            dependencies: [
                "API",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // Benchmarks that need the service's internals (see scripts/bench.sh).
        .executableTarget(
            name: "millwright-bench",
            dependencies: ["Auth", "CurlClient", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MillwrightTests",
            dependencies: [
                "API", "Auth", "Postgres", "CurlClient", "OpenSSLSupport", "Tenancy", "DeviceRegistry", "MetricRouter",
                "Alerting", "Streams", "JSONText",
                "Gzip",
                "InputParsing",
                "CZlib",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
    ]
)
