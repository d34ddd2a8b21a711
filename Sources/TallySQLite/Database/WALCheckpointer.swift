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
/// Durability is unchanged: a checkpoint syncs the log before copying from it
/// and the database file after (`synchronous = NORMAL` on this connection too),
/// which is what the writer's checkpoint did.
final class WALCheckpointer: Sendable {
    /// The log size, in pages, at which the writer checkpoints by itself.
    static let writerThresholdPages = 16_384

    private let connection: DatabaseQueue
    private let queue = DispatchQueue(label: "tally.sqlite.checkpoint")
    /// A run is scheduled and has not started: commits meanwhile need no other.
    private let scheduled = Atomic<Bool>(false)
    /// Commits that land within this delay share one run.
    private let delay: DispatchTimeInterval

    init(databasePath: String, synchronous: String, busyTimeout: Double,
         delay: DispatchTimeInterval = .milliseconds(20)) throws {
        var configuration = GRDB.Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
        }
        connection = try DatabaseQueue(path: databasePath, configuration: configuration)
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
            _ = try? connection.writeWithoutTransaction { db in try db.checkpoint(.passive) }
        }
    }

    /// Copies the whole log into the database file and empties it, waiting for
    /// readers and the writer as long as the busy timeout allows. Runs on this
    /// connection, so never at the same time as one of its passive runs.
    func copyAll() async throws {
        try await connection.writeWithoutTransaction { db in
            _ = try db.checkpoint(.truncate)
        }
    }
}
