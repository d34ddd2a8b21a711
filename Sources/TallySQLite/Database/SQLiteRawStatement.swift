import GRDB
import GRDBSQLite

/// Runs one prepared statement many times through SQLite's C API, for the two
/// loops that write rows by the hundred thousand: the events of a batch and a
/// refreshed day's users. Each value is bound in place, and a parameter bound once
/// stays bound across rows, where GRDB would box every argument of every row
/// into its `StatementArguments` and bind them all again.
struct SQLiteRawStatement {
    private let statement: Statement
    private let db: Database
    private var sqlite: SQLiteStatement { statement.sqliteStatement }

    /// Prepares `sql` afresh rather than from GRDB's statement cache: bytes bound
    /// with ``bind(borrowing:at:)`` must not stay referenced by a statement that
    /// outlives them.
    init(_ db: Database, sql: String) throws {
        self.db = db
        statement = try db.makeStatement(sql: sql)
    }

    /// Binds `text` to the 1-based parameter `index` until it is bound again.
    func bind(_ text: String, at index: Int32) throws {
        var text = text
        let code = text.withUTF8 { bytes in
            // SQLite copies the bytes (SQLITE_TRANSIENT): they outlive this call.
            sqlite3_bind_text(sqlite, index, bytes.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) },
                              Int32(bytes.count), Self.transient)
        }
        guard code == SQLITE_OK else { throw error(code) }
    }

    /// Binds UTF-8 `bytes` without copying them (SQLITE_STATIC): the caller keeps
    /// them alive and unchanged until the statement has run with them and every
    /// parameter bound this way has been bound again or the statement is gone.
    func bind(borrowing bytes: UnsafeBufferPointer<UInt8>, at index: Int32) throws {
        // An empty text still needs a pointer: SQLite binds a NULL one as NULL.
        let empty: StaticString = ""
        let text = UnsafeRawPointer(bytes.baseAddress ?? empty.utf8Start).assumingMemoryBound(to: CChar.self)
        // A nil destructor is SQLITE_STATIC.
        let code = sqlite3_bind_text(sqlite, index, text, Int32(bytes.count), nil)
        guard code == SQLITE_OK else { throw error(code) }
    }

    func bind(_ value: Int64, at index: Int32) throws {
        let code = sqlite3_bind_int64(sqlite, index, value)
        guard code == SQLITE_OK else { throw error(code) }
    }

    func bindNull(at index: Int32) throws {
        let code = sqlite3_bind_null(sqlite, index)
        guard code == SQLITE_OK else { throw error(code) }
    }

    /// Runs the statement once with the current bindings.
    ///
    /// - Returns: how many rows it inserted, updated or deleted (0 for an insert
    ///   that `ON CONFLICT DO NOTHING` skipped).
    @discardableResult
    func execute() throws -> Int {
        let code = sqlite3_step(sqlite)
        sqlite3_reset(sqlite)
        guard code == SQLITE_DONE else { throw error(code) }
        return Int(sqlite3_changes(db.sqliteConnection))
    }

    private func error(_ code: Int32) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: db.lastErrorMessage, sql: statement.sql)
    }

    /// SQLite's `SQLITE_TRANSIENT`, a macro Swift does not import.
    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
}
