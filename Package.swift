// swift-tools-version: 6.1
import PackageDescription

// AutoTrader: a core library that holds the domain (databases, calendar, card
// arithmetic, the Alpaca client), a library for the Alpaca-compatible simulator,
// and one thin executable per process that wires them together. Nothing depends
// on an executable (the tests only start them as processes).
let package = Package(
    name: "AutoTrader",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "AutoTraderCore", targets: ["AutoTraderCore"]),
        .executable(name: "autotrader", targets: ["autotrader"]),
        .executable(name: "autotrader-sim", targets: ["autotrader-sim"]),
        .executable(name: "autotrader-bench", targets: ["autotrader-bench"]),
        .executable(name: "autotrader-streamer", targets: ["autotrader-streamer"]),
        .executable(name: "autotrader-executor", targets: ["autotrader-executor"]),
        .executable(name: "autotrader-api", targets: ["autotrader-api"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket", from: "1.6.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        .target(
            name: "AutoTraderCore",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // The trading algorithms: one file each in algorithm/, the registry generated from the file names.
        .target(
            name: "TradingAlgorithms",
            dependencies: ["AutoTraderCore"],
            path: "algorithm",
            exclude: ["README.md"],
            plugins: ["AlgorithmRegistryPlugin"]
        ),
        .executableTarget(name: "algorithm-registry-generator"),
        .plugin(
            name: "AlgorithmRegistryPlugin",
            capability: .buildTool(),
            dependencies: ["algorithm-registry-generator"]
        ),
        // The Alpaca-compatible exchange: market data, paper matching, faults.
        .target(
            name: "AutoTraderSim",
            dependencies: [
                "AutoTraderCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "autotrader",
            dependencies: [
                "AutoTraderCore",
                "TradingAlgorithms",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            linkerSettings: leanReleaseLinking
        ),
        .executableTarget(
            name: "autotrader-sim",
            dependencies: [
                "AutoTraderSim",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            linkerSettings: leanReleaseLinking
        ),
        // The market-data service: live bars for the running cards' tickers, backfill and gap repair.
        .executableTarget(
            name: "autotrader-streamer",
            dependencies: [
                "AutoTraderCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            linkerSettings: leanReleaseLinking
        ),
        // The trading service: runs the algorithms every market minute and trades crash-safely.
        .executableTarget(
            name: "autotrader-executor",
            dependencies: [
                "AutoTraderCore",
                "TradingAlgorithms",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            linkerSettings: leanReleaseLinking
        ),
        // The dashboard's HTTP API: routes, PIN guard, validation, health (a library, so the executable stays thin).
        .target(
            name: "AutoTraderAPI",
            dependencies: [
                "AutoTraderCore",
                "TradingAlgorithms",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "autotrader-api",
            dependencies: [
                "AutoTraderAPI",
                "AutoTraderCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            linkerSettings: leanReleaseLinking
        ),
        // Benchmarks (run in release builds) and the load generator the multi-process tests start.
        .executableTarget(
            name: "autotrader-bench",
            dependencies: [
                "AutoTraderCore",
                "TradingAlgorithms",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
                // The script-decisions benchmark drives a script worker, which logs.
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Three test targets, one folder of shared helpers (Tests/AutoTraderTestSupport, linked into each
        // as Support/ so the helpers keep `@testable` access to the core): see the README's "Tests".
        // Unit tests start no process and finish within a minute of the build.
        .testTarget(name: "AutoTraderUnitTests", dependencies: testDependencies),
        // Tests that start the real executables (simulator, streamer, executor, api, CLI) as processes.
        .testTarget(name: "AutoTraderProcessTests", dependencies: testDependencies + executables),
        // The long ones: the soak, the systemd sandbox, the browser, schemathesis, the full trading day.
        .testTarget(name: "AutoTraderLongTests", dependencies: testDependencies + executables),
    ]
)

/// What every test target (and the shared helpers compiled into each) needs.
var testDependencies: [Target.Dependency] {
    [
        "AutoTraderCore", "TradingAlgorithms", "AutoTraderAPI", "AutoTraderSim",
        .product(name: "GRDB", package: "GRDB.swift"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Yams", package: "Yams"),
        // The api's own application driven in-process (`app.test(.router)`) by the unit tests.
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdTesting", package: "hummingbird"),
        .product(name: "HTTPTypes", package: "swift-http-types"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        // The simulator's stream, read frame by frame by the wire-contract test.
        .product(name: "WSClient", package: "swift-websocket"),
        // The WebDriver client: chromedriver writes "Name:value" headers, which FoundationNetworking refuses.
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOFoundationCompat", package: "swift-nio"),
    ]
}

/// Built before the process tests so they can start them (the tests never link their code).
var executables: [Target.Dependency] {
    ["autotrader", "autotrader-bench", "autotrader-sim", "autotrader-streamer", "autotrader-executor", "autotrader-api"]
}

/// How the release executables are linked on Linux: by lld, with the relative relocations packed (DT_RELR,
/// glibc 2.36+: Debian 12, Raspberry Pi OS bookworm) and without exporting every symbol of the program
/// (`--no-export-dynamic` undoes the static stdlib's `-export-dynamic`). The loader then touches ~3 MB of
/// relocations and ~2 MB of symbol table less: each service's resident memory drops by ~5.5 MB (README, "Memory").
var leanReleaseLinking: [LinkerSetting] {
    [.unsafeFlags(
        ["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic"],
        .when(platforms: [.linux], configuration: .release))]
}
