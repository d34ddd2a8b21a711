import Foundation
import GRDB
import Tally

/// Runs migrations on a SQLite file, recording them in `tally_schema_migrations`.
///
/// Each migration runs in a `BEGIN IMMEDIATE` transaction, which takes SQLite's
/// write lock: a second migrator waits on it (busy timeout), then finds the
/// migration recorded and skips it.
public struct SQLiteMigrationTarget: MigrationTarget {
    private enum Access: Sendable {
        case readWrite(SQLiteDatabase)
        /// Inspects without ever creating or changing the file (status, dry-run).
        case readOnly(path: String)
    }

    private let access: Access

    /// Migrates the opened database.
    public init(database: SQLiteDatabase) {
        access = .readWrite(database)
    }

    /// Inspects the file at `path` read-only; a missing file has no migrations.
    /// `apply` is refused.
    public static func inspecting(path: String) -> SQLiteMigrationTarget {
        SQLiteMigrationTarget(access: .readOnly(path: path))
    }

    private init(access: Access) {
        self.access = access
    }

    static let table = "tally_schema_migrations"

    public var displayName: String {
        switch access {
        case .readWrite(let database): "SQLite \(database.path)"
        case .readOnly(let path): "SQLite \(path)"
        }
    }

    public func appliedMigrations() async throws -> [AppliedMigration] {
        switch access {
        case .readWrite(let database):
            return try await database.read(Self.readApplied)
        case .readOnly(let path):
            guard FileManager.default.fileExists(atPath: path) else { return [] }
            var config = GRDB.Configuration()
            config.readonly = true
            config.busyMode = .timeout(30)
            do {
                let queue = try DatabaseQueue(path: path, configuration: config)
                defer { try? queue.close() }
                return try await queue.read(Self.readApplied)
            } catch let error as DatabaseError {
                throw SQLiteStoreError.cannotOpen(path, reason: SQLiteDatabase.explain(error))
            }
        }
    }

    @Sendable
    private static func readApplied(_ db: Database) throws -> [AppliedMigration] {
        guard try db.tableExists(table) else { return [] }
        return try Row.fetchAll(db, sql: "SELECT id, phase, checksum, applied_at FROM \(table) ORDER BY id").map { row in
            let appliedAt: String = row["applied_at"]
            return AppliedMigration(
                id: row["id"],
                phase: Migration.Phase(rawValue: row["phase"]) ?? .pre,
                checksum: row["checksum"],
                appliedAt: Timestamp(iso8601: appliedAt) ?? Timestamp(microsecondsSinceEpoch: 0))
        }
    }

    public func apply(_ migration: Migration) async throws -> Bool {
        guard case .readWrite(let database) = access else {
            throw MigrationError(code: .unsupported, migrationID: migration.id,
                                 message: "this database was opened for inspection only; nothing was changed")
        }
        do {
            return try await database.writeWithoutTransaction { db in
                var applied = false
                try db.inTransaction(.immediate) {
                    try db.execute(sql: """
                        CREATE TABLE IF NOT EXISTS \(Self.table) (
                            id         TEXT PRIMARY KEY,
                            phase      TEXT NOT NULL,
                            checksum   TEXT NOT NULL,
                            applied_at TEXT NOT NULL
                        )
                        """)
                    let already = try Bool.fetchOne(db, sql: "SELECT 1 FROM \(Self.table) WHERE id = ?", arguments: [migration.id]) ?? false
                    if already { return .commit }
                    try db.execute(sql: migration.sql)
                    try db.execute(
                        sql: "INSERT INTO \(Self.table) (id, phase, checksum, applied_at) VALUES (?, ?, ?, ?)",
                        arguments: [migration.id, migration.phase.rawValue, migration.checksum, Timestamp.now().iso8601])
                    applied = true
                    return .commit
                }
                return applied
            }
        } catch let error as DatabaseError {
            let statement = error.sql.map { " while running `\($0.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200))`" } ?? ""
            throw MigrationError.failed(migration.id, underlying: "\(error.message ?? "\(error.resultCode)")\(statement)")
        }
    }
}
