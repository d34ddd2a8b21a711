import Logging
import PostgresNIO
import Tally

/// Runs migrations on a PostgreSQL database, recording them in `tally_schema_migrations`.
///
/// Each migration runs in one transaction together with its record, after taking
/// a transaction-level advisory lock: a second migrator waits on the lock, then
/// finds the migration recorded and skips it. Reading the applied migrations
/// changes nothing (it does not even create the migrations table).
public struct PostgresMigrationTarget: MigrationTarget {
    public let database: PostgresPool
    public let mode: PostgresStorageMode

    /// The advisory lock every Tally migrator takes (`tally` in ASCII).
    public static let lockKey: Int64 = 0x74_61_6C_6C_79

    /// Run before each migration, under the lock.
    public static let createTableSQL = """
        CREATE TABLE IF NOT EXISTS tally_schema_migrations (
            id         text        PRIMARY KEY,
            phase      text        NOT NULL CHECK (phase IN ('pre', 'post')),
            checksum   text        NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    static let table = "tally_schema_migrations"

    public init(database: PostgresPool, mode: PostgresStorageMode) {
        self.database = database
        self.mode = mode
    }

    public var displayName: String { "\(database.displayName) (\(mode))" }

    /// The mode of `database`: the one its recorded migrations say, else `forced`,
    /// else TimescaleDB when the extension is installed or can be created (available
    /// and preloaded), else partitioned. Changes nothing.
    ///
    /// - Throws: ``PostgresStoreError`` when `forced` contradicts what is recorded.
    public static func mode(of database: PostgresPool, forced: PostgresStorageMode? = nil) async throws -> PostgresStorageMode {
        let applied = try await Self.readApplied(database)
        for (mode, id) in PostgresMigrations.firstMigrationIDs where applied.contains(where: { $0.id == id }) {
            if let forced, forced != mode {
                throw PostgresStoreError(code: .rejected, database: database.displayName, message: """
                    \(database.displayName) was migrated in \(mode) mode; it cannot be switched to \(forced). \
                    Drop the --postgres-mode flag, or migrate a new database.
                    """)
            }
            return mode
        }
        if let forced { return forced }
        let timescale = try await database.query("""
            SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
                OR (EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
                    AND current_setting('shared_preload_libraries') LIKE '%timescaledb%')
            """) { row in try row.decode(Bool.self) }.first ?? false
        return timescale ? .timescaledb : .partitioned
    }

    public func appliedMigrations() async throws -> [AppliedMigration] {
        try await Self.readApplied(database)
    }

    static func readApplied(_ database: PostgresPool) async throws -> [AppliedMigration] {
        let exists = try await database.query("SELECT to_regclass('tally_schema_migrations') IS NOT NULL") { row in
            try row.decode(Bool.self)
        }.first ?? false
        guard exists else { return [] }
        return try await database.query("SELECT id, phase, checksum, applied_at FROM tally_schema_migrations ORDER BY id") { row in
            let (id, phase, checksum, appliedAt) = try row.decode((String, String, String, PostgresTimestamp).self)
            return AppliedMigration(id: id, phase: Migration.Phase(rawValue: phase) ?? .pre, checksum: checksum, appliedAt: appliedAt.timestamp)
        }
    }

    public func apply(_ migration: Migration) async throws -> Bool {
        let logger = database.logger
        return try await database.withConnection { connection in
            try await connection.exec("BEGIN", logger: logger)
            do {
                try await connection.exec("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger)
                try await connection.exec(PostgresQuery(unsafeSQL: Self.createTableSQL), logger: logger)
                var already = false
                for try await _ in try await connection.query("SELECT 1 FROM tally_schema_migrations WHERE id = \(migration.id)", logger: logger) {
                    already = true
                }
                if already {
                    try await connection.exec("COMMIT", logger: logger)
                    return false
                }
                let statements = SQLStatements.split(migration.sql)
                for (index, statement) in statements.enumerated() {
                    do {
                        try await connection.exec(PostgresQuery(unsafeSQL: statement), logger: logger)
                    } catch let error as PSQLError {
                        throw MigrationError.failed(migration.id, underlying: Self.explain(
                            error, statement: statement, index: index, of: statements.count))
                    }
                }
                try await connection.exec("""
                    INSERT INTO tally_schema_migrations (id, phase, checksum, applied_at)
                    VALUES (\(migration.id), \(migration.phase.rawValue), \(migration.checksum), now())
                    """, logger: logger)
                try await connection.exec("COMMIT", logger: logger)
                return true
            } catch {
                try? await connection.exec("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// `statement 2 of 3 (CREATE INDEX …) failed: relation "x" does not exist (SQLSTATE 42P01)`.
    /// Migration SQL has no bound values, so the server's message is safe to show.
    static func explain(_ error: PSQLError, statement: String, index: Int, of count: Int) -> String {
        let code = statement.split(separator: "\n").map { $0.trimmingPrefix(while: \.isWhitespace) }
            .first { !$0.isEmpty && !$0.hasPrefix("--") }.map(String.init) ?? statement
        let shown = code.count > 120 ? code.prefix(120) + "…" : Substring(code)
        let reason: String
        if let info = error.serverInfo {
            reason = "\(info[.message] ?? "error")\(info[.sqlState].map { " (SQLSTATE \($0))" } ?? "")"
                + (info[.hint].map { "; hint: \($0)" } ?? "")
        } else {
            reason = "\(error.code)"
        }
        return "statement \(index + 1) of \(count) (`\(shown)`) failed: \(reason)"
    }
}
