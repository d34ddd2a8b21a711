// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Tally",
    platforms: [.macOS(.v15), .iOS(.v18)],
    products: [
        .library(name: "Tally", targets: ["Tally"]),
        .library(name: "TallySQLite", targets: ["TallySQLite"]),
        .library(name: "TallyDevice", targets: ["TallyDevice"]),
        .library(name: "TallyPostgres", targets: ["TallyPostgres"]),
        .executable(name: "tally", targets: ["tally"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // The core: events, validation, enrichment, the sink and store protocols,
        // migrations as data, an in-memory store. It imports no storage backend.
        .target(
            name: "Tally",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The embedded default store on SQLite (GRDB).
        .target(
            name: "TallySQLite",
            dependencies: [
                "Tally",
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API, for the one read that steps a million rows (SQLiteRawRows).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The system zlib, for gzip request bodies.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // gzip in and out of memory, bounded, on the system zlib.
        .target(name: "TallyGzip", dependencies: ["CZlib"]),
        // Device mode: the offline-first queue's use cases and the HTTP flush to a collector.
        .target(
            name: "TallyDevice",
            dependencies: [
                "Tally", "TallySQLite", "TallyGzip",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The server store on PostgreSQL (postgres-nio): daily partitions, or a
        // TimescaleDB hypertable when the extension is there.
        .target(
            name: "TallyPostgres",
            dependencies: [
                "Tally",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `tally serve`: Segment-compatible ingest, the query API, privacy endpoints,
        // the dashboard and operations routes, on Hummingbird. Backend-neutral: the
        // CLI hands it a store.
        .target(
            name: "TallyServer",
            dependencies: [
                "Tally", "TallyGzip",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Fixtures shared by the test suites and the benchmarks.
        .target(
            name: "TallyTesting",
            dependencies: [
                "Tally",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // A throwaway database per test on the server of TALLY_TEST_DATABASE_URL.
        .target(
            name: "TallyPostgresTesting",
            dependencies: ["Tally", "TallyPostgres"]
        ),
        .executableTarget(
            name: "tally",
            dependencies: [
                "Tally",
                "TallySQLite",
                "TallyPostgres",
                "TallyServer",
                "TallyDevice",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // `swift run -c release tally-benchmark-postgres`: psql \copy against the store's writes.
        .executableTarget(
            name: "tally-benchmark-postgres",
            dependencies: [
                "Tally", "TallyPostgres", "TallyTesting",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // `swift run -c release tally-benchmark-aggregates`: SQLite's refresh of one day, and the aggregate queries over 30 days.
        .executableTarget(
            name: "tally-benchmark-aggregates",
            dependencies: [
                "Tally", "TallySQLite", "TallyTesting",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "TallyTests",
            dependencies: [
                "Tally", "TallyTesting",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "TallySQLiteTests",
            dependencies: [
                "Tally", "TallySQLite", "TallyTesting",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // One behavioural suite run against every store: memory, SQLite, PostgreSQL.
        .testTarget(
            name: "TallyStoreTests",
            dependencies: ["Tally", "TallySQLite", "TallyPostgres", "TallyTesting", "TallyPostgresTesting"]
        ),
        // Migrations, lifecycle and connection errors on a real PostgreSQL server.
        .testTarget(
            name: "TallyPostgresTests",
            dependencies: [
                "Tally", "TallyPostgres", "TallyTesting", "TallyPostgresTesting",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "TallyDeviceTests",
            dependencies: [
                "Tally", "TallySQLite", "TallyDevice", "TallyTesting", "TallyGzip",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Every route on a live server over real sockets, on SQLite and PostgreSQL.
        .testTarget(
            name: "TallyServerTests",
            dependencies: [
                "Tally", "TallySQLite", "TallyPostgres", "TallyServer", "TallyTesting", "TallyPostgresTesting", "TallyGzip",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // A process the crash test kills with SIGKILL (see TallyCLITests).
        .executableTarget(
            name: "tally-crash-probe",
            dependencies: [
                "Tally", "TallySQLite",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/TallyCrashProbe"
        ),
        // Runs the built executables as a user (or a crash) would.
        .testTarget(
            name: "TallyCLITests",
            dependencies: [
                "tally", "tally-crash-probe", "Tally", "TallySQLite", "TallyPostgres", "TallyTesting", "TallyPostgresTesting",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ]
)
