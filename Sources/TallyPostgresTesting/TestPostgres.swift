import Foundation
import Logging
import PostgresNIO
import Tally
import TallyPostgres

/// The PostgreSQL server of the test run, and a throwaway database per test on it
/// (tests run in parallel, so none shares a database).
public enum TestPostgres {
    /// The variable `scripts/test` sets to the server it started.
    public static let variable = "TALLY_TEST_DATABASE_URL"

    public struct MissingServer: Error, CustomStringConvertible {
        public var description: String {
            """
            \(TestPostgres.variable) is not set, so the PostgreSQL tests have no server: run the tests with \
            scripts/test, which starts a throwaway PostgreSQL (or set \(TestPostgres.variable) to a \
            postgres:// URL of a server where the tests may create and drop databases)
            """
        }
    }

    /// The server's URL. Throws (so the test fails, never silently passes) when unset.
    public static func serverURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment[variable], !url.isEmpty else { throw MissingServer() }
        return url
    }

    public static func serverConfiguration() throws -> PostgresPool.Configuration {
        var configuration = try PostgresPool.Configuration(url: try serverURL())
        configuration.maximumConnections = 12
        return configuration
    }

    /// A quiet logger: the tests assert on outcomes, not on log lines.
    public static let logger = Logger(label: "tally.test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Creates an empty database `tally_test_<random>`, runs `body` with its
    /// configuration, and drops it whatever happens.
    public static func withEmptyDatabase<Result: Sendable>(
        _ body: @Sendable (PostgresPool.Configuration) async throws -> Result
    ) async throws -> Result {
        let server = try serverConfiguration()
        let name = "tally_test_" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        try await admin(server, "CREATE DATABASE \(name)")
        do {
            let result = try await body(server.with(database: name))
            try await admin(server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            return result
        } catch {
            try? await admin(server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            throw error
        }
    }

    /// Like ``withEmptyDatabase(_:)``, with the pool running.
    public static func withDatabase<Result: Sendable>(
        _ body: @Sendable (PostgresPool) async throws -> Result
    ) async throws -> Result {
        try await withEmptyDatabase { configuration in
            try await PostgresPool.withRunning(configuration, logger: logger, body)
        }
    }

    /// A migrated database in `mode`.
    public static func withMigratedDatabase<Result: Sendable>(
        mode: PostgresStorageMode = .partitioned,
        _ body: @Sendable (PostgresPool) async throws -> Result
    ) async throws -> Result {
        try await withDatabase { database in
            try await Migrator(migrations: PostgresMigrations.all(mode: mode),
                               target: PostgresMigrationTarget(database: database, mode: mode)).migrate(phases: [.pre, .post])
            return try await body(database)
        }
    }

    /// Whether the server can create the TimescaleDB extension.
    public static func timescaleAvailable() async -> Bool {
        guard let server = try? serverConfiguration() else { return false }
        return (try? await PostgresPool.withRunning(server, logger: logger) { database in
            try await PostgresMigrationTarget.mode(of: database) == .timescaledb
        }) ?? false
    }

    private static func admin(_ server: PostgresPool.Configuration, _ sql: String) async throws {
        try await PostgresPool.withRunning(server, logger: logger, check: false) { database in
            try await database.execute(PostgresQuery(unsafeSQL: sql))
        }
    }
}
