#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GRDB
import GRDBSQLite

/// Steps a prepared statement through SQLite's C API and reads its columns in
/// place, for the reads that walk many rows (a whole day of events for the
/// refresh, a month of hourly aggregates for a query): GRDB's `Row` checks and
/// converts each cell through its generic machinery, which cost more than
/// SQLite's own work did.
///
/// Cells decode as GRDB's would (NULL is `nil`, numbers are coerced by SQLite),
/// except that text keeps any bytes after a NUL, which GRDB cuts off.
struct SQLiteRawRows {
    private let statement: Statement
    private let db: Database
    private var sqlite: SQLiteStatement { statement.sqliteStatement }

    init(_ db: Database, sql: String, arguments: StatementArguments) throws {
        self.db = db
        statement = try db.makeStatement(sql: sql)
        try statement.setArguments(arguments)
    }

    /// Moves to the next row; `false` after the last one.
    func next() throws -> Bool {
        switch sqlite3_step(sqlite) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let code:
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: db.lastErrorMessage, sql: statement.sql)
        }
    }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(sqlite, column) }

    func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(sqlite, column)) }

    /// The cell as a double; `nil` for NULL.
    func double(_ column: Int32) -> Double? {
        sqlite3_column_type(sqlite, column) == SQLITE_NULL ? nil : sqlite3_column_double(sqlite, column)
    }

    /// Calls `body` with the cell's bytes (a BLOB's, or a text's UTF-8), valid
    /// only during the call; `nil` for NULL.
    func withBlob<T>(_ column: Int32, _ body: (UnsafeRawBufferPointer) -> T) -> T? {
        // The blob pointer first, then its length, as for text. An empty blob's
        // pointer is NULL too: the type tells it from a NULL cell.
        let start = sqlite3_column_blob(sqlite, column)
        let count = Int(sqlite3_column_bytes(sqlite, column))
        if start == nil, sqlite3_column_type(sqlite, column) == SQLITE_NULL { return nil }
        return body(UnsafeRawBufferPointer(start: start, count: count))
    }

    /// The cell's text as a new String.
    func text(_ column: Int32) -> String? {
        withText(column) { String(decoding: $0, as: UTF8.self) }
    }

    /// The cell's text through `interner`: a column with few distinct values
    /// (event types, services, routes) then shares one String per value.
    func text(_ column: Int32, _ interner: inout TextInterner) -> String? {
        withText(column) { interner.string(for: $0) }
    }

    /// Calls `body` with the cell's UTF-8 bytes, valid only during the call;
    /// `nil` for NULL.
    func withText<T>(_ column: Int32, _ body: (UnsafeBufferPointer<UInt8>) -> T) -> T? {
        // The text pointer first, then its length: the order SQLite documents.
        guard let start = sqlite3_column_text(sqlite, column) else { return nil }
        return body(UnsafeBufferPointer(start: start, count: Int(sqlite3_column_bytes(sqlite, column))))
    }
}

/// One String per distinct byte sequence seen, up to half its table (beyond
/// that, each read makes its own String): building a String from a cell costs an
/// allocation when it is longer than 15 bytes, and comparing or hashing it later
/// is cheaper when equal values are one object. An open-addressing table, since
/// a lookup runs for most cells of a million rows.
struct TextInterner {
    private var hashes: [UInt64]
    private var strings: [String?]
    private var stored = 0
    private let mask: Int

    /// - Parameter slots: a power of two.
    init(slots: Int = 4_096) {
        precondition(slots > 0 && slots & (slots - 1) == 0, "slots must be a power of two")
        hashes = Array(repeating: 0, count: slots)
        strings = Array(repeating: nil, count: slots)
        mask = slots - 1
    }

    mutating func string(for bytes: UnsafeBufferPointer<UInt8>) -> String {
        // FNV-1a: the values are short and few, so a simple hash does.
        let hash = Self.fnv1a(bytes)
        var slot = Int(truncatingIfNeeded: hash ^ (hash >> 32)) & mask
        while let candidate = strings[slot] {
            if hashes[slot] == hash, Self.equal(candidate, bytes) { return candidate }
            slot = (slot + 1) & mask
        }
        let string = String(decoding: bytes, as: UTF8.self)
        if stored < (mask + 1) / 2 {
            hashes[slot] = hash
            strings[slot] = string
            stored += 1
        }
        return string
    }

    /// The 64-bit FNV-1a hash of `bytes`: short texts, looked up once a row.
    static func fnv1a(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    private static func equal(_ string: String, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        string.utf8.withContiguousStorageIfAvailable { stored in
            stored.count == bytes.count && (bytes.isEmpty || memcmp(stored.baseAddress!, bytes.baseAddress!, bytes.count) == 0)
        } ?? string.utf8.elementsEqual(bytes)
    }
}
