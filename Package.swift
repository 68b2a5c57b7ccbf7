// swift-tools-version: 6.1
import PackageDescription

// AutoTrader: a core library that holds the domain (databases, calendar, card
// arithmetic, and later the broker client and algorithms), and one thin
// executable per process that wires the core together. Nothing depends on an
// executable.
let package = Package(
    name: "AutoTrader",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "AutoTraderCore", targets: ["AutoTraderCore"]),
        .executable(name: "autotrader", targets: ["autotrader"]),
        .executable(name: "autotrader-bench", targets: ["autotrader-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .target(
            name: "AutoTraderCore",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "autotrader",
            dependencies: [
                "AutoTraderCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Benchmarks (run in release builds) and the load generator the multi-process tests start.
        .executableTarget(
            name: "autotrader-bench",
            dependencies: [
                "AutoTraderCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "AutoTraderCoreTests",
            dependencies: ["AutoTraderCore", "autotrader", "autotrader-bench"]
        ),
    ]
)
