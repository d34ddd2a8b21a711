import Dispatch
import GRDB
import Synchronization

/// Copies committed transactions from the write-ahead log into the database file
/// on a connection of its own, so the writer does not.
///
/// SQLite's own checkpoint runs inside the commit that takes the log past
/// `wal_autocheckpoint` pages (1,000 by default): the writer copies the pages
/// and syncs the database file while it holds the write lock. Under a stream of
/// group commits that was every few commits, and ingest waited for it. Here a
/// `PASSIVE` checkpoint runs on another thread shortly after commits land: it
/// copies what no reader still needs, never takes the write lock, and leaves
/// the rest for its next run. The writer's own threshold stays, raised, as a
/// bound on the log should this one fall behind (a long read holds it back).
///
/// Durability is unchanged: SQLite applies the `synchronous` setting of the
/// connection that checkpoints, and this one gets the writer's (`NORMAL` when
/// `WALSync` syncs each commit), under which a checkpoint syncs the log before
/// copying from it and the database file before the log is reused — what the
/// writer's own checkpoint did.
final class WALCheckpointer: Sendable {
    /// The log size, in pages, at which the writer checkpoints by itself.
    static let writerThresholdPages = 16_384
    /// The size of a log of that many pages (a 32-byte header, then a 24-byte
    /// header and the page for each frame), at SQLite's default page size of
    /// 4,096 bytes, which Tally does not change: about 64 MiB.
    static let writerThresholdBytes = 32 + writerThresholdPages * (24 + 4_096)

    private let databasePath: String
    private let synchronous: String
    private let busyTimeout: Double
    /// Opened on first use, not with the database: opening reads the schema,
    /// which fails at once while another process is creating the file.
    private let connection = Mutex<DatabaseQueue?>(nil)
    /// Runs one at a time, off the cooperative pool (a checkpoint blocks).
    private let queue = DispatchQueue(label: "tally.sqlite.checkpoint")
    /// A run is scheduled and has not started: commits meanwhile need no other.
    private let scheduled = Atomic<Bool>(false)
    /// Commits that land within this delay share one run.
    private let delay: DispatchTimeInterval

    init(databasePath: String, synchronous: String, busyTimeout: Double, delay: DispatchTimeInterval = .milliseconds(20)) {
        self.databasePath = databasePath
        self.synchronous = synchronous
        self.busyTimeout = busyTimeout
        self.delay = delay
    }

    /// Schedules a checkpoint for the commit that has just landed, unless one is
    /// already scheduled (it will copy this commit too).
    func commitLanded() {
        guard !scheduled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.asyncAfter(deadline: .now() + delay) { [self] in
            scheduled.store(false, ordering: .releasing)
            // Best effort: a busy or failed run leaves the frames in the log, safe,
            // for the next run or the writer's own checkpoint.
            _ = try? open().writeWithoutTransaction { db in try db.checkpoint(.passive) }
        }
    }

    /// Copies the whole log into the database file and empties it. Another
    /// connection's checkpoint makes SQLite answer "busy" at once, without its
    /// busy wait, so that is retried until the busy timeout.
    func copyAll() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            queue.async { [self] in
                continuation.resume(with: Result {
                    try retryingWhileBusy(for: busyTimeout) {
                        _ = try open().writeWithoutTransaction { db in try db.checkpoint(.truncate) }
                    }
                })
            }
        }
    }

    /// The connection's `synchronous` setting (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA).
    func synchronousSetting() throws -> Int {
        try open().read { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    private func open() throws -> DatabaseQueue {
        try connection.withLock { connection in
            if let connection { return connection }
            var configuration = GRDB.Configuration()
            configuration.busyMode = .timeout(busyTimeout)
            configuration.prepareDatabase { [synchronous] db in
                try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            }
            let opened = try retryingWhileBusy(for: busyTimeout) { try DatabaseQueue(path: databasePath, configuration: configuration) }
            connection = opened
            return opened
        }
    }
}
