import GRDB

/// Why a SQLite operation failed, with what to do about it. The description never
/// includes bound values (event data).
public struct SQLiteStoreError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable { case cannotOpen, notMigrated, busy, diskFull, failed }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        public static let cannotOpen = Code(.cannotOpen)
        /// The schema is missing: the file was never migrated.
        public static let notMigrated = Code(.notMigrated)
        /// Another connection held the lock longer than the busy timeout.
        public static let busy = Code(.busy)
        public static let diskFull = Code(.diskFull)
        public static let failed = Code(.failed)
        public var description: String { base.rawValue }
    }

    public var code: Code
    public var path: String
    public var message: String

    public var description: String { message }

    static func cannotOpen(_ path: String, reason: String) -> SQLiteStoreError {
        SQLiteStoreError(code: .cannotOpen, path: path, message: "cannot open the SQLite database \(path): \(reason)")
    }

    /// The write committed but its write-ahead log could not be synced to disk:
    /// it may not survive a power loss, so it is not acknowledged.
    static func syncFailed(_ logPath: String, reason: String) -> SQLiteStoreError {
        SQLiteStoreError(code: .failed, path: logPath, message: """
            could not sync \(logPath) to disk (\(reason)); the write is not acknowledged — check the disk, then retry \
            (a retry of the same events is stored once)
            """)
    }

    /// The write-ahead log could not be copied into the file (`checkpoint()`):
    /// everything is still safe in the log.
    static func checkpointFailed(_ path: String, _ error: DatabaseError) -> SQLiteStoreError {
        let cause = from(error, path: path)
        let busy = cause.code == .busy
        return SQLiteStoreError(code: cause.code, path: path, message: """
            the write-ahead log of \(path) could not be copied into the file: \
            \(busy ? "a reader (a running `tally serve`, a sqlite3 shell) kept it in use past the busy timeout" : cause.message). \
            Nothing is lost: the log holds every change, and SQLite reads it on every open\
            \(busy ? "; run the command again once that reader is done, or leave it to be copied later" : "").
            """)
    }

    static func from(_ error: DatabaseError, path: String) -> SQLiteStoreError {
        let message = error.message ?? "\(error.resultCode)"
        if message.hasPrefix("no such table") {
            return SQLiteStoreError(code: .notMigrated, path: path, message: """
                the database \(path) has no Tally schema (\(message)): run `tally migrate all --database \(path)` first
                """)
        }
        switch error.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return SQLiteStoreError(code: .busy, path: path, message: """
                the database \(path) stayed locked by another connection past the busy timeout; \
                retry, or stop the other writer
                """)
        case .SQLITE_FULL:
            return SQLiteStoreError(code: .diskFull, path: path, message: "the disk holding \(path) is full; free space and retry (nothing was written)")
        default:
            return SQLiteStoreError(code: .failed, path: path, message: "SQLite error on \(path): \(message) (\(error.resultCode))")
        }
    }
}
