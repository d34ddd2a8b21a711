import Crypto

/// One versioned, forward-only schema change: plain SQL run in its own
/// transaction and recorded with a checksum.
///
/// > Warning: Never edit a migration that has shipped. `tally migrate status`
/// > flags the changed checksum and `migrate` refuses to run until the original
/// > text is restored; add a new migration instead.
public struct Migration: Sendable, Hashable {
    /// When a migration may run relative to a deploy.
    public enum Phase: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// Tables, indexes, partitioning, policies: safe before the new code is deployed.
        case pre
        /// Aggregates and anything the new code needs in place: after the deploy.
        case post

        public var description: String { rawValue }
    }

    /// Orders migrations; unique across both phases.
    public let version: Int
    /// A short snake_case name, e.g. `create_analytics_events`.
    public let name: String
    public let phase: Phase
    /// The SQL, one or more statements.
    public let sql: String

    public init(version: Int, name: String, phase: Phase, sql: String) {
        self.version = version
        self.name = name
        self.phase = phase
        self.sql = sql
    }

    /// `0001_create_analytics_events`: what the migrations table records.
    public var id: String {
        let digits = String(version)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits + "_" + name
    }

    /// SHA-256 of the SQL text, hexadecimal.
    public var checksum: String {
        SHA256.hash(data: Array(sql.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}

/// A migration as recorded in a database's migrations table.
public struct AppliedMigration: Sendable, Hashable {
    public var id: String
    public var phase: Migration.Phase
    public var checksum: String
    public var appliedAt: Timestamp

    public init(id: String, phase: Migration.Phase, checksum: String, appliedAt: Timestamp) {
        self.id = id
        self.phase = phase
        self.checksum = checksum
        self.appliedAt = appliedAt
    }
}

/// What a backend provides so the ``Migrator`` can run its migrations.
public protocol MigrationTarget: Sendable {
    /// A human description of the database, without credentials.
    var displayName: String { get }

    /// The migrations recorded as applied; empty when nothing was ever migrated.
    /// Must not change the database.
    func appliedMigrations() async throws -> [AppliedMigration]

    /// Runs `migration` in one transaction together with its record, holding a lock
    /// that makes concurrent migrators wait. If another migrator recorded it while
    /// this one waited, does nothing.
    ///
    /// - Returns: `true` if this call applied it.
    func apply(_ migration: Migration) async throws -> Bool
}
