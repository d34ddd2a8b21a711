import Tally
@testable import TallySQLite
import TallyTesting
import Foundation
import GRDB
import Synchronization
import Testing

@Suite("SQLite database: durability settings")
struct SQLiteDatabaseTests {
    /// Runs `body` with a store on a new, migrated file in a temporary
    /// directory, removed after.
    static func withMigratedStore(configuration: SQLiteDatabase.Configuration = .init(),
                                  _ body: (SQLiteEventStore) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try SQLiteDatabase(path: directory.file("tally.sqlite"), configuration: configuration)
        _ = try await Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget(database: database)).migrate(phases: [.pre, .post])
        try await body(SQLiteEventStore(database: database))
    }

    /// The size of the file at `path` in bytes; 0 when there is none.
    static func fileSize(_ path: String) -> Int64 {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
    }

    @Test("with synchronous FULL every write returns after a sync of the log that covers its commit")
    func fullSyncsEveryCommitBeforeReturning() async throws {
        try await Self.withMigratedStore { store async throws in
            // The writer commits without syncing; the sync comes after, off the lock.
            #expect(try await store.database.writerSynchronousSetting() == 1)
            // Checkpoints, on their own connection, sync the log before copying it.
            #expect(try store.database.checkpointerSynchronousSetting() == 1)
            let before = try #require(store.database.syncProgress)
            #expect(before.synced == before.commits)

            let start = Timestamp(iso8601: "2026-11-23T08:00:00Z")!
            let stored = try await withThrowingTaskGroup(of: (Int, UInt64).self) { group in
                for writer in 0..<16 {
                    group.addTask {
                        let time = start.adding(microseconds: Int64(writer) * 1_000_000)
                        let newly = try await store.write([CatalogueExamples.event(.authLogout, at: time, seed: UInt64(writer))])
                        // Its commit is numbered after the ones before the test, and it
                        // returned only once a sync covered that number.
                        return (newly, store.database.syncProgress!.synced)
                    }
                }
                var results: [(Int, UInt64)] = []
                for try await result in group { results.append(result) }
                return results
            }
            #expect(stored.map(\.0).reduce(0, +) == 16)
            #expect(stored.allSatisfy { $0.1 > before.commits })
            let after = try #require(store.database.syncProgress)
            #expect(after.commits == before.commits + 16)
            #expect(after.synced == after.commits)
            #expect(try await store.count() == 16)
        }
    }

    @Test("a synchronous setting other than FULL reaches the writer (GRDB's own NORMAL does not override it)")
    func otherSettingsReachTheWriter() async throws {
        var configuration = SQLiteDatabase.Configuration()
        configuration.synchronous = "OFF"
        try await Self.withMigratedStore(configuration: configuration) { store async throws in
            #expect(try await store.database.writerSynchronousSetting() == 0)
            #expect(try store.database.checkpointerSynchronousSetting() == 0)
            #expect(store.database.syncProgress == nil)
            let written = try await store.write([CatalogueExamples.event(.authLogout, at: Timestamp(iso8601: "2026-11-23T08:00:00Z")!)])
            #expect(written == 1)
        }
    }

    @Test("committed pages reach the database file from the checkpointer's connection, not in the writer's commits")
    func checkpointsRunOffTheWriter() async throws {
        try await Self.withMigratedStore { store async throws in
            let path = store.database.path
            let size = Self.fileSize
            try await store.database.checkpoint()
            #expect(size(path + "-wal") == 0, "checkpoint() leaves everything in the file")
            let before = size(path)

            // A few hundred events: well under the 1,000 pages of log at which SQLite's
            // writer would checkpoint by itself by default (and the 16,384 set here).
            let start = Timestamp(iso8601: "2026-11-23T08:00:00Z")!
            for batch in 0..<10 {
                let events = (0..<30).map { n in
                    CatalogueExamples.event(.authLogout, at: start.adding(microseconds: Int64(batch * 30 + n) * 1_000), seed: UInt64(batch * 30 + n))
                }
                #expect(try await store.write(events) == 30)
            }
            let logged = size(path + "-wal")
            #expect(logged > 0 && logged < 1_000 * (4_096 + 24), "the log holds the writes: \(logged) bytes")

            // The checkpointer copies them into the file shortly after.
            #expect(await eventually(timeout: .seconds(10)) { size(path) > before },
                    "the file grew from \(before) bytes: its pages were copied from the log")
            #expect(try await store.count() == 300)
        }
    }

    @Test("a log that grew past 4 MiB keeps its size when it restarts (cutting it back made the file system allocate its blocks again as it regrew)")
    func restartedLogKeepsItsSize() async throws {
        try await Self.withMigratedStore { store async throws in
            let log = store.database.path + "-wal"
            func size() -> Int64 { Self.fileSize(log) }
            /// A passive checkpoint: frames in the log, and how many of them are in
            /// the file. Retried while the checkpointer's own makes SQLite answer busy.
            func checkpoint() async throws -> (logged: Int, copied: Int) {
                let result = try await store.database.pool.writeWithoutTransaction { db in
                    try retryingWhileBusy(for: 10) { try db.checkpoint(.passive) }
                }
                return (result.walFrameCount, result.checkpointedFrameCount)
            }
            let start = Timestamp(iso8601: "2026-11-23T08:00:00Z")!
            let events = (0..<20_000).map { n in
                CatalogueExamples.event(.taskStarted(taskID: "t_\(n)"), at: start.adding(microseconds: Int64(n) * 1_000), seed: UInt64(n))
            }
            #expect(try await store.write(events) == 20_000)
            let grown = size()
            #expect(grown > 6 << 20, "one write of 20,000 events grew the log to \(grown) bytes")

            // Once every frame is in the file, the next write restarts the log from
            // its start, and SQLite cuts the file to `journal_size_limit` then.
            #expect(try await eventually(timeout: .seconds(10)) { let copied = try await checkpoint(); return copied.logged == copied.copied },
                    "a checkpoint copied the whole log")
            let event = CatalogueExamples.event(.authLogout, at: start.adding(microseconds: 30_000_000), seed: 99)
            #expect(try await store.write([event]) == 1)
            let restarted = try await checkpoint()
            #expect(restarted.logged < 100, "the write restarted the log: it holds \(restarted.logged) frames")
            #expect(size() == grown, "the log file kept its \(grown) bytes")
        }
    }

    @Test("a checkpoint that a reader holds up past the busy timeout fails as busy, naming the file, and loses nothing")
    func checkpointHeldUpByAReaderFailsAsBusy() async throws {
        var configuration = SQLiteDatabase.Configuration()
        configuration.busyTimeout = 0.3
        try await Self.withMigratedStore(configuration: configuration) { store async throws in
            #expect(try await store.write([CatalogueExamples.event(.authLogout, at: Timestamp(iso8601: "2026-11-23T08:00:00Z")!)]) == 1)

            // Another process's reader, in a transaction on a snapshot that uses the
            // log, on a thread of its own (it blocks while it holds the snapshot).
            let reader = try DatabaseQueue(path: store.database.path)
            let phase = Atomic<Int>(0)  // 1: reading, 2: released, 3: done
            Thread.detachNewThread {
                _ = try? reader.read { db in
                    _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM analytics_events")
                    phase.store(1, ordering: .releasing)
                    while phase.load(ordering: .acquiring) != 2 { usleep(1_000) }
                }
                phase.store(3, ordering: .releasing)
            }
            _ = await eventually(timeout: .seconds(10)) { phase.load(ordering: .acquiring) != 0 }
            try #require(phase.load(ordering: .acquiring) == 1, "the reader did not start")
            // A commit after the reader's snapshot: the log now holds frames that
            // reader does not see, so emptying the log must wait for it, whether or
            // not the checkpointer already copied the first write.
            #expect(try await store.write([CatalogueExamples.event(.authLogout, at: Timestamp(iso8601: "2026-11-23T08:00:01Z")!)]) == 1)
            let error = await #expect(throws: SQLiteStoreError.self) { try await store.database.checkpoint() }
            phase.store(2, ordering: .releasing)
            while phase.load(ordering: .acquiring) != 3 { try await Task.sleep(for: .milliseconds(5)) }
            #expect(error?.code == .busy)
            #expect(error?.path == store.database.path)
            #expect(error.map { String(describing: $0).contains(store.database.path) } == true)
            #expect(error.map { String(describing: $0).contains("a reader") } == true, "says what held it up")

            try await store.database.checkpoint()
            #expect(try await store.count() == 2)
        }
    }
}
