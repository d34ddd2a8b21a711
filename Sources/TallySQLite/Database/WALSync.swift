import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Makes commits reach the disk outside SQLite's write lock.
///
/// With `synchronous = FULL` a commit syncs the write-ahead log while it holds
/// the write lock, so the next transaction waits for the disk. Here the writer
/// runs with `NORMAL` (a commit writes its frames to the log, no sync) and each
/// write, once committed, waits for a sync of the log that started after its
/// commit: the next transaction inserts meanwhile, and one sync answers every
/// commit made before it started. A write is still acknowledged only once its
/// frames are on disk, which is what `FULL` promises: the log is the only place
/// a committed but not yet checkpointed transaction lives, and SQLite's
/// checkpoints in `NORMAL` sync the log before copying it and the main file after.
final class WALSync: Sendable {
    private struct State {
        /// Commits counted so far; a write's number is taken after it committed.
        var commits: UInt64 = 0
        /// Every commit numbered up to this one is on disk.
        var synced: UInt64 = 0
    }

    private let logPath: String
    private let state = Mutex(State())
    /// Syncs run one at a time, off the cooperative pool (they block).
    private let queue = DispatchQueue(label: "tally.sqlite.wal-sync")

    init(databasePath: String) {
        logPath = databasePath + "-wal"
    }

    /// Commits counted, and the last of them known to be on disk.
    var progress: (commits: UInt64, synced: UInt64) { state.withLock { ($0.commits, $0.synced) } }

    /// Numbers a commit that has just returned; pass the number to
    /// ``waitUntilOnDisk(_:)``.
    func counted() -> UInt64 {
        state.withLock { state in
            state.commits += 1
            return state.commits
        }
    }

    /// Returns once commit number `commit`, and every commit before it, is on disk.
    func waitUntilOnDisk(_ commit: UInt64) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            queue.async { [self] in
                do {
                    try syncIfNeeded(for: commit)
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    private func syncIfNeeded(for commit: UInt64) throws(SQLiteStoreError) {
        let covering = state.withLock { state -> UInt64? in
            state.synced >= commit ? nil : state.commits
        }
        guard let covering else { return }  // a sync that started after this commit already ran
        try syncLog()
        state.withLock { $0.synced = max($0.synced, covering) }
    }

    /// `fdatasync` of the log through a descriptor of our own: a sync flushes the
    /// file, whichever descriptor wrote it. No log file means nothing is waiting
    /// in one (a checkpoint that removed it synced the main file first).
    private func syncLog() throws(SQLiteStoreError) {
        let descriptor = open(logPath, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            if errno == ENOENT { return }
            throw SQLiteStoreError.syncFailed(logPath, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        #if canImport(Glibc)
        let result = fdatasync(descriptor)
        #else
        let result = fsync(descriptor)
        #endif
        if result != 0 {
            throw SQLiteStoreError.syncFailed(logPath, reason: String(cString: strerror(errno)))
        }
    }
}
