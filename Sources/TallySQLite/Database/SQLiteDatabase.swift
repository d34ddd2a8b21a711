import Foundation
import GRDB
import Tally

/// One SQLite file opened for Tally: WAL mode, a busy timeout so concurrent
/// writers (a second migrator, another process) wait instead of failing, and full
/// fsync on commit so an acknowledged batch survives a crash or power loss.
public final class SQLiteDatabase: Sendable {
    /// How to open the file.
    public struct Configuration: Sendable {
        /// How long a writer waits for another one before giving up. Defaults to 30 s.
        public var busyTimeout: Double = 30
        /// SQLite's `synchronous` pragma. `FULL` survives power loss; `NORMAL` only
        /// process crashes. Defaults to `FULL`.
        public var synchronous: String = "FULL"
        /// Page cache per connection in KiB. Defaults to 65,536 (64 MiB).
        public var cacheSizeKiB: Int = 65_536

        public init() {}
    }

    public let path: String
    let pool: DatabasePool

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
        let synchronous = configuration.synchronous
        let cacheSize = configuration.cacheSizeKiB
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous); PRAGMA cache_size = -\(cacheSize)")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
        } catch let error as DatabaseError {
            throw SQLiteStoreError.cannotOpen(path, reason: Self.explain(error))
        }
    }

    /// Reads and writes in one exclusive transaction.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.write(body)
        } catch let error as DatabaseError {
            throw SQLiteStoreError.from(error, path: path)
        }
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
    public func checkpoint() async throws {
        try await pool.writeWithoutTransaction { db in
            _ = try db.checkpoint(.truncate)
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
