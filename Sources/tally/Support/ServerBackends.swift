import Foundation
import Tally
import TallyPostgres
import TallyServer
import TallySQLite

/// Opens the database the options name, migrated, as what the server needs.
enum ServerBackends {
    /// Runs `body` with the backend; for PostgreSQL the connection pool runs
    /// for exactly as long as `body`. With `migrating` false (commands that only
    /// read) the schema must be up to date already.
    static func withBackend<Result: Sendable>(
        _ options: DatabaseOptions,
        migrating: Bool = true,
        _ body: @Sendable (ServerBackend) async throws -> Result
    ) async throws -> Result {
        switch try options.backend() {
        case .sqlite(let path):
            if migrating { try await MigrateCommand.migrate(path: path, phases: [.pre, .post], quiet: true) }
            let database = try SQLiteDatabase(path: path)
            let migrator = Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget(database: database))
            if !migrating { try await requireMigrated(migrator) }
            return try await body(ServerBackend(
                description: "SQLite \(path)",
                events: SQLiteEventStore(database: database),
                aggregates: SQLiteAggregateStore(database: database),
                keys: SQLiteAPIKeyStore(database: database),
                checkReady: { try await requireMigrated(migrator) }))
        case .postgres(let configuration):
            return try await PostgresPool.withCommandDatabase(configuration) { database in
                let mode = try await PostgresMigrationTarget.mode(of: database)
                let migrator = Migrator(migrations: PostgresMigrations.all(mode: mode),
                                        target: PostgresMigrationTarget(database: database, mode: mode))
                if migrating {
                    try await migrator.migrate(phases: [.pre, .post])
                } else {
                    try await requireMigrated(migrator)
                }
                return try await body(ServerBackend(
                    description: database.displayName,
                    events: PostgresEventStore(database: database),
                    aggregates: PostgresAggregateStore(database: database),
                    keys: PostgresAPIKeyStore(database: database),
                    services: [PartitionLifecycle(database: database, mode: mode)],
                    checkReady: { try await requireMigrated(migrator) }))
            }
        }
    }

    /// Throws unless the store answers and nothing is pending or edited.
    static func requireMigrated(_ migrator: Migrator) async throws {
        let status = try await migrator.status()
        guard status.pendingCount == 0, status.changedCount == 0 else {
            throw CommandError("\(status.pendingCount) migrations pending, \(status.changedCount) edited after applying: run `tally migrate status`")
        }
    }
}
