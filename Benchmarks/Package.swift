// swift-tools-version: 6.1
import PackageDescription

// Tally's benchmarks, apart from its tests (see ../README.md, Performance).
//
//   swift package --package-path Benchmarks benchmark          # track() ns/op, mallocs
//   swift build -c release --package-path Benchmarks
//   Benchmarks/.build/release/tally-bench --events 1000000     # durable events/s vs sqlite3 .import
let package = Package(
    name: "TallyBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Tally", path: ".."),
        // The MallocInterposer trait alone: the default traits pull in a runtime
        // interposer that is not available here, and resolution fails without it.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // ordo-one/benchmark finds its targets under Benchmarks/<Name>/<Name>.swift.
        .executableTarget(
            name: "TrackBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Tally", package: "Tally"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/TrackBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Durable throughput against the sqlite3 shell's .import of the same rows.
        .executableTarget(
            name: "tally-bench",
            dependencies: [
                .product(name: "Tally", package: "Tally"),
                .product(name: "TallySQLite", package: "Tally"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/TallyBench"
        ),
    ]
)
