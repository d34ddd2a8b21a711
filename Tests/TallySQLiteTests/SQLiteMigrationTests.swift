import Foundation
import GRDB
import Tally
import TallySQLite
import TallyTesting
import Testing

@Suite("SQLite migrations")
struct SQLiteMigrationTests {
    static func fileBytes(_ path: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path))
    }

    @Test("migrate all creates the schema of DESIGN.md §3 and records every migration")
    func migrateAll() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try SQLiteDatabase(path: directory.file("tally.sqlite"))
        let migrator = Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget(database: database))

        let applied = try await migrator.migrate(phases: [.pre, .post])
        #expect(applied.map(\.id) == SQLiteMigrations.all.map(\.id))
        #expect(try await migrator.migrate(phases: [.pre, .post]).isEmpty)

        let status = try await migrator.status()
        #expect(status.pendingCount == 0)
        #expect(status.appliedCount == SQLiteMigrations.all.count)

        let queue = try DatabaseQueue(path: database.path)
        let (columns, indexes, journal, enabled) = try await queue.read { db in
            (try db.columns(in: "analytics_events").map(\.name),
             try db.indexes(on: "analytics_events").map(\.columns),
             try String.fetchOne(db, sql: "PRAGMA journal_mode"),
             try String.fetchOne(db, sql: "SELECT value FROM analytics_settings WHERE key = 'analytics_enabled'"))
        }
        #expect(columns == ["event_id", "timestamp", "received_at", "event_type", "service", "user_id", "anonymous_id", "session_id", "data"])
        // The design's four, plus (anonymous_id, timestamp) for privacy requests.
        #expect(Set(indexes) == [["timestamp", "event_id"], ["user_id", "timestamp"], ["event_type", "timestamp"], ["service", "timestamp"],
                                 ["anonymous_id", "timestamp"]])
        #expect(journal == "wal")
        #expect(enabled == "true")
        let queueColumns = try await queue.read { db in try db.columns(in: "analytics_queue").map(\.name) }
        #expect(queueColumns.starts(with: ["id", "event_id", "event_type", "properties", "user_id"]))
        #expect(queueColumns.contains("created_at") && queueColumns.contains("attempts"))
    }

    @Test("dry-run reads a migrated file without changing a byte, and never creates a missing one")
    func dryRunChangesNothing() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("tally.sqlite")

        let missing = Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget.inspecting(path: path))
        #expect(try await missing.pending(phases: [.pre, .post]).count == SQLiteMigrations.all.count)
        #expect(!FileManager.default.fileExists(atPath: path))

        // Apply only the first migration, so the dry-run has something to plan.
        do {
            let database = try SQLiteDatabase(path: path)
            try await Migrator(migrations: Array(SQLiteMigrations.all.prefix(1)), target: SQLiteMigrationTarget(database: database))
                .migrate(phases: [.pre])
            try await database.checkpoint()
        }
        let before = try Self.fileBytes(path)

        let inspecting = Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget.inspecting(path: path))
        let pending = try await inspecting.pending(phases: [.pre, .post])
        _ = try await inspecting.status()

        #expect(pending.map(\.id) == SQLiteMigrations.all.dropFirst().map(\.id))
        #expect(try Self.fileBytes(path) == before)
        await #expect(throws: MigrationError.self) { try await inspecting.migrate(phases: [.pre]) }
        #expect(try Self.fileBytes(path) == before)
    }

    @Test("status flags a migration edited after it was applied, and migrate refuses to run")
    func editedMigrationIsFlagged() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try SQLiteDatabase(path: directory.file("tally.sqlite"))
        try await Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget(database: database)).migrate(phases: [.pre, .post])

        // The same registry, with the first migration's SQL edited and a new one appended.
        var edited = SQLiteMigrations.all
        let original = edited[0]
        edited[0] = Migration(version: original.version, name: original.name, phase: original.phase,
                              sql: original.sql + "\nCREATE INDEX sneaky ON analytics_events (received_at);")
        edited.append(Migration(version: 99, name: "later", phase: .pre, sql: "CREATE TABLE later (x INTEGER)"))
        let migrator = Migrator(migrations: edited, target: SQLiteMigrationTarget(database: database))

        let status = try await migrator.status()
        let entry = try #require(status.entries.first { $0.id == original.id })
        guard case .changed(let recorded, let current, _) = entry.state else {
            Issue.record("expected \(original.id) to be flagged as changed, got \(entry.state)")
            return
        }
        #expect(recorded == original.checksum)
        #expect(current == edited[0].checksum)
        #expect(status.changedCount == 1)

        let error = await #expect(throws: MigrationError.self) { try await migrator.migrate(phases: [.pre]) }
        #expect(error?.code == .changedAfterApplying)
        #expect(error?.description.contains(original.id) == true)
        // Nothing ran: neither the later migration nor the edit.
        let tables = try await DatabaseQueue(path: database.path).read { db in try db.tableExists("later") }
        #expect(!tables)
    }

    @Test("a failing migration rolls back whole, is not recorded, and names the statement")
    func failedMigrationRollsBack() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try SQLiteDatabase(path: directory.file("tally.sqlite"))
        let broken = Migration(version: 50, name: "broken", phase: .pre, sql: """
            CREATE TABLE half_done (x INTEGER);
            INSERT INTO no_such_table VALUES (1);
            """)
        let migrator = Migrator(migrations: SQLiteMigrations.all + [broken], target: SQLiteMigrationTarget(database: database))

        let error = await #expect(throws: MigrationError.self) { try await migrator.migrate(phases: [.pre]) }
        #expect(error?.code == .failed)
        #expect(error?.migrationID == "0050_broken")
        #expect(error?.description.contains("no_such_table") == true)

        let (halfDone, events) = try await DatabaseQueue(path: database.path).read { db in
            (try db.tableExists("half_done"), try db.tableExists("analytics_events"))
        }
        #expect(!halfDone)
        #expect(events, "the migrations before the broken one stay applied")
        let status = try await migrator.status()
        #expect(status.entries.first { $0.id == "0050_broken" }?.state == .pending)
    }

    /// With a `synchronous` other than the default the database sets it on the
    /// writer as it opens, while the other migrator may hold the new file's lock.
    @Test("two migrators at once: each migration applied exactly once, both succeed", arguments: ["FULL", "OFF"])
    func concurrentMigrators(synchronous: String) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("tally.sqlite")
        // A slow first migration widens the window in which the two overlap.
        let slow = Migration(version: 1, name: "slow", phase: .pre, sql: """
            CREATE TABLE numbers (n INTEGER);
            WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 300000)
            INSERT INTO numbers SELECT n FROM c;
            """)
        let migrations = [slow] + SQLiteMigrations.all.map {
            Migration(version: $0.version + 1, name: $0.name, phase: $0.phase, sql: $0.sql)
        }
        let results = try await withThrowingTaskGroup(of: [Migration].self) { group in
            for _ in 0..<2 {
                group.addTask {
                    var configuration = SQLiteDatabase.Configuration()
                    configuration.synchronous = synchronous
                    let database = try SQLiteDatabase(path: path, configuration: configuration)
                    return try await Migrator(migrations: migrations, target: SQLiteMigrationTarget(database: database)).migrate(phases: [.pre, .post])
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.flatMap { $0 }.map(\.id).sorted() == migrations.map(\.id).sorted())
        // The migrators' connections may still be closing: the last to close
        // checkpoints the log and deletes it under an exclusive lock, and a
        // connection without a busy timeout would fail at once meanwhile.
        var inspection = Configuration()
        inspection.busyMode = .timeout(10)
        let (rows, recorded) = try await DatabaseQueue(path: path, configuration: inspection).read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM numbers"),
             try Int.fetchOne(db, sql: "SELECT count(*) FROM tally_schema_migrations"))
        }
        #expect(rows == 300_000)
        #expect(recorded == migrations.count)
    }

    @Test("post alone is refused while pre migrations are pending")
    func postNeedsPre() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try SQLiteDatabase(path: directory.file("tally.sqlite"))
        let post = Migration(version: 10, name: "aggregate", phase: .post, sql: "CREATE VIEW event_count AS SELECT count(*) AS n FROM analytics_events")
        let migrator = Migrator(migrations: SQLiteMigrations.all + [post], target: SQLiteMigrationTarget(database: database))

        let error = await #expect(throws: MigrationError.self) { try await migrator.migrate(phases: [.post]) }
        #expect(error?.code == .preBeforePost)

        #expect(try await migrator.migrate(phases: [.pre]).map(\.id) == SQLiteMigrations.all.filter { $0.phase == .pre }.map(\.id))
        #expect(try await migrator.migrate(phases: [.post]).map(\.id) == SQLiteMigrations.all.filter { $0.phase == .post }.map(\.id) + ["0010_aggregate"])
    }
}

@Suite("SQLite errors")
struct SQLiteErrorTests {
    @Test("writing to a file that was never migrated says to run tally migrate")
    func notMigrated() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = SQLiteEventStore(database: try SQLiteDatabase(path: directory.file("empty.sqlite")))
        let event = CatalogueExamples.event(.authLogout, at: Timestamp(iso8601: "2026-11-23T10:00:00Z")!)

        let error = await #expect(throws: SQLiteStoreError.self) { try await store.write([event]) }
        #expect(error?.code == .notMigrated)
        #expect(error?.description.contains("tally migrate all") == true)
    }

    @Test("a path in a missing directory is refused with what to do")
    func missingDirectory() throws {
        let error = #expect(throws: SQLiteStoreError.self) { try SQLiteDatabase(path: "/nonexistent-dir-for-tally/tally.sqlite") }
        #expect(error?.code == .cannotOpen)
        #expect(error?.description.contains("does not exist") == true)
    }

    @Test("a file that is not a database is refused and left untouched")
    func notADatabase() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("notes.txt")
        let text = Data(String(repeating: "these are my notes, not a database\n", count: 200).utf8)
        try text.write(to: URL(fileURLWithPath: path))

        await #expect(throws: (any Error).self) {
            let database = try SQLiteDatabase(path: path)
            try await Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget(database: database)).migrate(phases: [.pre])
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == text)
    }
}
