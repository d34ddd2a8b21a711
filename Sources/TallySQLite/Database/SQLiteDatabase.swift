import Foundation
import GRDB
import Tally

/// One SQLite file opened for Tally: WAL mode, a busy timeout so concurrent
/// writers (a second migrator, another process) wait instead of failing, and
/// every write synced to disk before it returns, so an acknowledged batch
/// survives a crash or power loss (``WALSync`` does the sync outside the write
/// lock).
public final class SQLiteDatabase: Sendable {
    /// How to open the file.
    public struct Configuration: Sendable {
        /// How long a writer waits for another one before giving up. Defaults to 30 s.
        public var busyTimeout: Double = 30
        /// SQLite's `synchronous` pragma. `FULL` (and `EXTRA`): a write returns once
        /// it is on disk, so it survives power loss; `NORMAL` survives a crash of
        /// the process only. Defaults to `FULL`.
        public var synchronous: String = "FULL"
        /// Page cache per connection in KiB. Defaults to 65,536 (64 MiB).
        public var cacheSizeKiB: Int = 65_536

        /// Whether each write waits for the disk.
        var syncsEveryWrite: Bool { ["FULL", "EXTRA", "2", "3"].contains(synchronous.uppercased()) }

        public init() {}
    }

    public let path: String
    let pool: DatabasePool
    /// Syncs each write's commit to disk, when the configuration asks for that.
    let walSync: WALSync?
    /// Moves committed pages into the file off the writer (see ``WALCheckpointer``).
    private let checkpointer: WALCheckpointer

    /// Opens (creating if needed) the database at `path`.
    ///
    /// - Throws: ``SQLiteStoreError`` saying what is wrong with the path.
    public init(path: String, configuration: Configuration = Configuration()) throws {
        self.path = path
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw SQLiteStoreError.cannotOpen(path, reason: "its directory \(directory) does not exist; create it first")
        }
        var config = GRDB.Configuration()
        config.busyMode = .timeout(configuration.busyTimeout)
        let cacheSize = configuration.cacheSizeKiB
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA cache_size = -\(cacheSize)")
            // The writer checkpoints by itself only if `checkpointer` falls behind.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(WALCheckpointer.writerThresholdPages)")
            // Once reused, a log is cut back to its size at that threshold, not below:
            // cut to 4 MiB, a log that group commits grow past it every few
            // commits was shortened each time it restarted, and the file system
            // allocated its blocks again as it regrew (HTTP ingest: ~10% fewer
            // events a second, README "Performance").
            try db.execute(sql: "PRAGMA journal_size_limit = \(WALCheckpointer.writerThresholdBytes)")
        }
        // GRDB sets the writer's `synchronous` to NORMAL once the pool is open
        // (after `prepareDatabase`), so it is set here, after that. With FULL the
        // writer keeps NORMAL and `WALSync` syncs each commit off the lock.
        walSync = configuration.syncsEveryWrite ? WALSync(databasePath: path) : nil
        let writerSynchronous = configuration.syncsEveryWrite ? "NORMAL" : configuration.synchronous
        do {
            pool = try DatabasePool(path: path, configuration: config)
            if writerSynchronous.uppercased() != "NORMAL" {
                try Self.setSynchronous(writerSynchronous, on: pool, retryingFor: configuration.busyTimeout)
            }
            checkpointer = WALCheckpointer(databasePath: path, synchronous: writerSynchronous,
                                           busyTimeout: configuration.busyTimeout)
        } catch let error as DatabaseError {
            throw SQLiteStoreError.cannotOpen(path, reason: Self.explain(error))
        }
    }

    /// Sets the writer's `synchronous`. Run while another connection migrates the
    /// same new file, the statement can fail at once with "database is locked",
    /// without SQLite's busy wait (seen in the two-migrators test), so it is
    /// retried until the busy timeout, as any other statement waits.
    private static func setSynchronous(_ value: String, on pool: DatabasePool, retryingFor seconds: Double) throws {
        try retryingWhileBusy(for: seconds) {
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = \(value)") }
        }
    }

    /// The writer connection's `synchronous` setting (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA).
    func writerSynchronousSetting() async throws -> Int {
        try await pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// The checkpointing connection's `synchronous` setting, which governs the
    /// syncs of its checkpoints.
    func checkpointerSynchronousSetting() throws -> Int {
        try checkpointer.synchronousSetting()
    }

    /// Commits counted, and the last of them known to be on disk; nil when
    /// writes do not wait for the disk.
    var syncProgress: (commits: UInt64, synced: UInt64)? { walSync?.progress }

    /// Reads and writes in one exclusive transaction, and returns once it is
    /// on disk (with `synchronous = FULL`).
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let (result, onDisk) = try await writeThenSync(body)
        try await onDisk.wait()
        return result
    }

    /// Reads and writes in one exclusive transaction, and returns once it is
    /// committed, with the wait for that commit to reach disk: the write lock is
    /// free again meanwhile, so a caller can start its next write first.
    func writeThenSync<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> (T, DiskSync) {
        let result: T
        do {
            result = try await pool.write(body)
        } catch let error as DatabaseError {
            throw SQLiteStoreError.from(error, path: path)
        }
        checkpointer.commitLanded()
        return (result, onDisk(commit: walSync?.counted()))
    }

    /// Runs `body` with the writer outside a transaction (it opens its own), and
    /// returns once what it committed is on disk. Its errors are GRDB's own, so
    /// the caller (the migration target) can name the statement that failed.
    func writeWithoutTransaction<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let result = try await pool.writeWithoutTransaction(body)
        checkpointer.commitLanded()
        try await onDisk(commit: walSync?.counted()).wait()
        return result
    }

    private func onDisk(commit: UInt64?) -> DiskSync {
        guard let walSync, let commit else { return .done }
        return DiskSync { try await walSync.waitUntilOnDisk(commit) }
    }

    /// Reads from a consistent snapshot, concurrently with writes.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch let error as DatabaseError {
            throw SQLiteStoreError.from(error, path: path)
        }
    }

    /// The file's size in bytes, including its write-ahead log.
    public func fileSize() -> Int64 {
        [path, path + "-wal"].reduce(0) { total, file in
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value ?? 0
            return total + size
        }
    }

    /// Copies the write-ahead log into the main file, so the file alone holds everything.
    ///
    /// - Throws: ``SQLiteStoreError`` (`.busy` when a reader kept the log in use
    ///   past the busy timeout). Nothing is lost then: the log still holds it all.
    public func checkpoint() async throws {
        do {
            try await checkpointer.copyAll()
        } catch let error as DatabaseError {
            throw SQLiteStoreError.checkpointFailed(path, error)
        }
    }

    static func explain(_ error: DatabaseError) -> String {
        switch error.resultCode {
        case .SQLITE_NOTADB: "it is not a SQLite database; point Tally at a new path or at a file Tally created"
        case .SQLITE_CANTOPEN: "it cannot be opened (check that the path and its directory are writable)"
        case .SQLITE_READONLY: "it is read-only; check its permissions"
        case .SQLITE_CORRUPT: "it is corrupt; restore it from a backup"
        default: error.message ?? "\(error.resultCode)"
        }
    }
}
