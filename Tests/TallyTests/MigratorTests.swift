import Synchronization
import Tally
import Testing

/// A migrations table in memory. It exercises the ``Migrator``'s own algorithm;
/// the SQLite suite runs the same migrator against real files.
actor RecordingMigrationTarget: MigrationTarget {
    struct StatementFailed: Error, CustomStringConvertible {
        var description: String { "near \"CREAT\": syntax error" }
    }

    nonisolated let displayName = "memory test database"

    private(set) var records: [AppliedMigration]
    /// The SQL of every migration this target ran, in order.
    private(set) var executed: [String] = []
    private let failingVersions: Set<Int>
    /// Versions another migrator records first, while this one waits for the lock.
    private let racedVersions: Set<Int>
    private var clock: Int64 = 1_795_439_297_000_000

    init(records: [AppliedMigration] = [], failingVersions: Set<Int> = [], racedVersions: Set<Int> = []) {
        self.records = records
        self.failingVersions = failingVersions
        self.racedVersions = racedVersions
    }

    func appliedMigrations() async throws -> [AppliedMigration] {
        records
    }

    func apply(_ migration: Migration) async throws -> Bool {
        if failingVersions.contains(migration.version) { throw StatementFailed() }
        if racedVersions.contains(migration.version), !records.contains(where: { $0.id == migration.id }) {
            record(migration)
        }
        if records.contains(where: { $0.id == migration.id }) { return false }
        executed.append(migration.sql)
        record(migration)
        return true
    }

    private func record(_ migration: Migration) {
        clock += 1_000_000
        records.append(AppliedMigration(id: migration.id, phase: migration.phase, checksum: migration.checksum,
                                        appliedAt: Timestamp(microsecondsSinceEpoch: clock)))
    }
}

/// Runs `body` and returns the migration error it threw, or `nil` if it threw none.
private func migrationError(_ body: () async throws -> Void) async -> MigrationError? {
    do {
        try await body()
        return nil
    } catch let error as MigrationError {
        return error
    } catch {
        Issue.record("expected a MigrationError, got \(error)")
        return nil
    }
}

@Suite("Migrator")
struct MigratorTests {
    static let createEvents = Migration(version: 1, name: "create_analytics_events", phase: .pre,
                                        sql: "CREATE TABLE analytics_events (event_id TEXT NOT NULL, timestamp INTEGER NOT NULL)")
    static let indexEvents = Migration(version: 2, name: "index_events_by_type", phase: .pre,
                                       sql: "CREATE INDEX analytics_events_type ON analytics_events (timestamp)")
    static let dailyUsers = Migration(version: 3, name: "create_daily_active_users", phase: .post,
                                      sql: "CREATE TABLE analytics_daily_active_users (day TEXT NOT NULL, dau INTEGER NOT NULL)")
    static let taskStats = Migration(version: 10, name: "create_task_stats_daily", phase: .post,
                                     sql: "CREATE TABLE analytics_task_stats_daily (day TEXT NOT NULL)")

    static let all = [createEvents, indexEvents, dailyUsers, taskStats]

    // MARK: Migration values

    @Test func idIsZeroPadded() {
        #expect(Migration(version: 1, name: "x", phase: .pre, sql: "").id == "0001_x")
        #expect(Migration(version: 42, name: "add_index", phase: .pre, sql: "").id == "0042_add_index")
        #expect(Migration(version: 9_999, name: "y", phase: .post, sql: "").id == "9999_y")
        #expect(Migration(version: 12_345, name: "z", phase: .post, sql: "").id == "12345_z")
        #expect(Self.createEvents.id == "0001_create_analytics_events")
    }

    @Test func checksumIsLowercaseSHA256Hex() {
        let checksum = Self.createEvents.checksum
        #expect(checksum.utf8.count == 64)
        #expect(checksum.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(checksum == Self.createEvents.checksum)
        // SHA-256 of the empty string.
        #expect(Migration(version: 1, name: "x", phase: .pre, sql: "").checksum
            == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // SHA-256 of "abc" (FIPS 180-2 test vector).
        #expect(Migration(version: 1, name: "x", phase: .pre, sql: "abc").checksum
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func checksumChangesWithTheSQLOnly() {
        let edited = Migration(version: 1, name: "create_analytics_events", phase: .pre, sql: Self.createEvents.sql + " ")
        #expect(edited.checksum != Self.createEvents.checksum)
        let renamed = Migration(version: 7, name: "other_name", phase: .post, sql: Self.createEvents.sql)
        #expect(renamed.checksum == Self.createEvents.checksum)
    }

    @Test func migrationsAreSortedByVersion() {
        let migrator = Migrator(migrations: [Self.taskStats, Self.createEvents, Self.dailyUsers, Self.indexEvents],
                                target: RecordingMigrationTarget())
        #expect(migrator.migrations.map(\.version) == [1, 2, 3, 10])
    }

    // MARK: Status and migrate

    @Test func freshDatabaseHasEverythingPending() async throws {
        let target = RecordingMigrationTarget()
        let status = try await Migrator(migrations: Self.all, target: target).status()
        #expect(status.database == "memory test database")
        #expect(status.entries.map(\.id) == Self.all.map(\.id))
        #expect(status.entries.allSatisfy { $0.state == .pending })
        #expect(status.entries.map(\.phase) == [.pre, .pre, .post, .post])
        #expect(status.pendingCount == 4)
        #expect(status.appliedCount == 0)
        #expect(status.changedCount == 0)
    }

    @Test func migrateAppliesPendingInOrderThenNothing() async throws {
        let target = RecordingMigrationTarget()
        let migrator = Migrator(migrations: [Self.taskStats, Self.dailyUsers, Self.indexEvents, Self.createEvents], target: target)
        let seen = Mutex<[String]>([])
        let applied = try await migrator.migrate(phases: [.pre, .post]) { migration in
            seen.withLock { $0.append(migration.id) }
        }
        #expect(applied.map(\.id) == Self.all.map(\.id))
        #expect(seen.withLock { $0 } == Self.all.map(\.id))
        #expect(await target.executed == Self.all.map(\.sql))

        let status = try await migrator.status()
        #expect(status.appliedCount == 4)
        #expect(status.pendingCount == 0)
        let records = await target.records
        for (entry, record) in zip(status.entries, records) {
            #expect(entry.state == .applied(at: record.appliedAt))
            #expect(record.checksum == entry.migration?.checksum)
        }

        let again = try await migrator.migrate(phases: [.pre, .post])
        #expect(again.isEmpty)
        #expect(await target.executed.count == 4)
    }

    @Test func phasesRunSeparately() async throws {
        let target = RecordingMigrationTarget()
        let migrator = Migrator(migrations: Self.all, target: target)
        #expect(try await migrator.pending(phases: [.pre]).map(\.id) == [Self.createEvents.id, Self.indexEvents.id])

        let pre = try await migrator.migrate(phases: [.pre])
        #expect(pre.map(\.version) == [1, 2])
        #expect(try await migrator.status().pendingCount == 2)
        #expect(try await migrator.pending(phases: [.pre]).isEmpty)

        let post = try await migrator.migrate(phases: [.post])
        #expect(post.map(\.version) == [3, 10])
        #expect(try await migrator.status().appliedCount == 4)
    }

    @Test func pendingListsInVersionOrderAndChangesNothing() async throws {
        let target = RecordingMigrationTarget()
        let migrator = Migrator(migrations: [Self.taskStats, Self.indexEvents, Self.dailyUsers, Self.createEvents], target: target)
        #expect(try await migrator.pending(phases: [.pre, .post]).map(\.version) == [1, 2, 3, 10])
        #expect(try await migrator.pending(phases: [.post]).map(\.version) == [3, 10])
        #expect(try await migrator.pending(phases: []).isEmpty)
        #expect(await target.records.isEmpty)
        #expect(await target.executed.isEmpty)

        try await Migrator(migrations: [Self.createEvents], target: target).migrate(phases: [.pre])
        #expect(try await migrator.pending(phases: [.pre, .post]).map(\.version) == [2, 3, 10])
    }

    @Test func postAloneWhilePreIsPendingIsRefused() async throws {
        let target = RecordingMigrationTarget()
        let migrator = Migrator(migrations: Self.all, target: target)
        let error = try #require(await migrationError { try await migrator.migrate(phases: [.post]) })
        #expect(error.code == .preBeforePost)
        #expect(error.migrationID == Self.createEvents.id)
        #expect(error.description.contains(Self.createEvents.id))
        #expect(error.description.contains("tally migrate pre"))
        #expect(await target.executed.isEmpty)
        #expect(await target.records.isEmpty)

        // Once pre has run, post alone is fine; and both together never need the check.
        let both = try await Migrator(migrations: Self.all, target: RecordingMigrationTarget()).migrate(phases: [.pre, .post])
        #expect(both.count == 4)
    }

    @Test func editedMigrationShowsChangedAndBlocksEverything() async throws {
        let target = RecordingMigrationTarget()
        try await Migrator(migrations: [Self.createEvents], target: target).migrate(phases: [.pre])
        let appliedAt = try #require(await target.records.first?.appliedAt)

        let edited = Migration(version: 1, name: "create_analytics_events", phase: .pre,
                               sql: "CREATE TABLE analytics_events (event_id TEXT NOT NULL, timestamp INTEGER NOT NULL, extra TEXT)")
        let migrator = Migrator(migrations: [edited, Self.indexEvents, Self.dailyUsers], target: target)
        let status = try await migrator.status()
        #expect(status.entries[0].state == .changed(recorded: Self.createEvents.checksum, current: edited.checksum, appliedAt: appliedAt))
        #expect(status.entries[0].isChanged)
        #expect(status.changedCount == 1)
        #expect(status.pendingCount == 2)

        let error = try #require(await migrationError { try await migrator.migrate(phases: [.pre, .post]) })
        #expect(error.code == .changedAfterApplying)
        #expect(error.migrationID == edited.id)
        #expect(error.description.contains(edited.id))
        #expect(error.description.contains("Nothing was migrated"))
        #expect(await target.executed == [Self.createEvents.sql])
        #expect(await target.records.count == 1)
    }

    @Test func unknownRecordedMigrationIsListed() async throws {
        let future = AppliedMigration(id: "0099_from_a_newer_build", phase: .post, checksum: String(repeating: "a", count: 64),
                                      appliedAt: Timestamp(microsecondsSinceEpoch: 1_795_000_000_000_000))
        let target = RecordingMigrationTarget(records: [future])
        let migrator = Migrator(migrations: [Self.createEvents], target: target)
        let status = try await migrator.status()
        #expect(status.entries.count == 2)
        let unknown = try #require(status.entries.first { $0.id == future.id })
        #expect(unknown.state == .unknown(appliedAt: future.appliedAt))
        #expect(unknown.phase == .post)
        #expect(unknown.migration == nil)
        #expect(status.pendingCount == 1)

        // An unknown migration does not stop this build from applying its own.
        let applied = try await migrator.migrate(phases: [.pre, .post])
        #expect(applied.map(\.id) == [Self.createEvents.id])
    }

    @Test func failingStatementNamesTheMigration() async throws {
        let target = RecordingMigrationTarget(failingVersions: [2])
        let migrator = Migrator(migrations: Self.all, target: target)
        let error = try #require(await migrationError { try await migrator.migrate(phases: [.pre, .post]) })
        #expect(error.code == .failed)
        #expect(error.migrationID == Self.indexEvents.id)
        #expect(error.description.contains(Self.indexEvents.id))
        #expect(error.description.contains("syntax error"))
        #expect(error.description.contains("rolled back"))

        // What ran before the failure stays; nothing after it ran.
        #expect(await target.executed == [Self.createEvents.sql])
        let status = try await migrator.status()
        #expect(status.appliedCount == 1)
        #expect(status.pendingCount == 3)
    }

    @Test func migrationRecordedByAnotherMigratorIsNotReportedAsApplied() async throws {
        let target = RecordingMigrationTarget(racedVersions: [2])
        let migrator = Migrator(migrations: Self.all, target: target)
        let applied = try await migrator.migrate(phases: [.pre, .post])
        #expect(applied.map(\.version) == [1, 3, 10])
        #expect(await target.executed == [Self.createEvents.sql, Self.dailyUsers.sql, Self.taskStats.sql])
        #expect(try await migrator.status().appliedCount == 4)
    }

    @Test func errorCodesHaveStableNames() {
        #expect(MigrationError.Code.changedAfterApplying.description == "changedAfterApplying")
        #expect(MigrationError.Code.preBeforePost.description == "preBeforePost")
        #expect(MigrationError.Code.failed.description == "failed")
        let failed = MigrationError.failed("0003_x", underlying: "disk full")
        #expect(failed.code == .failed)
        #expect(failed.migrationID == "0003_x")
        #expect(failed.description.contains("disk full"))
    }
}
