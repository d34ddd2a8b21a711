import GRDB
import Tally

/// The embedded default store: `analytics_events` in a SQLite file.
///
/// Each batch is one transaction through one prepared statement; rows are encoded
/// before the write lock is taken so the lock is held only for SQLite's own work.
/// `ON CONFLICT DO NOTHING` on (timestamp, event_id) makes a re-sent batch a no-op.
///
/// ```swift
/// let database = try SQLiteDatabase(path: "tally.sqlite")
/// let store = SQLiteEventStore(database: database)
/// try await store.write(batch)
/// ```
public struct SQLiteEventStore: EventStore, PreparedWriteSink {
    public let database: SQLiteDatabase

    public init(database: SQLiteDatabase) {
        self.database = database
    }

    static let insertSQL = """
        INSERT INTO analytics_events
            (event_id, timestamp, received_at, event_type, service, user_id, anonymous_id, session_id, data)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (timestamp, event_id) DO NOTHING
        """

    static let markDirtySQL = """
        INSERT INTO analytics_dirty_days (day, marked_at) VALUES (?, ?)
        ON CONFLICT (day) DO UPDATE SET marked_at = max(marked_at, excluded.marked_at)
        """

    @discardableResult
    public func write(_ events: [EnrichedEvent]) async throws -> Int {
        guard !events.isEmpty else { return 0 }
        return try await write(prepared: [prepare(events)])[0]
    }

    /// Rows encoded, and the days they touch, ready for the write lock.
    public struct PreparedBatch: Sendable {
        let rows: EncodedEventRows
        let days: Set<Int64>
    }

    public func prepare(_ events: [EnrichedEvent]) -> PreparedBatch {
        PreparedBatch(rows: EncodedEventRows(events), days: Set(events.map { $0.timestamp.startOfDay.microsecondsSinceEpoch }))
    }

    public func write(prepared batches: [PreparedBatch]) async throws -> [Int] {
        let (counts, onDisk) = try await writeCommitted(prepared: batches)
        try await onDisk.wait()
        return counts
    }

    /// Returns once committed; the sync of the log (``WALSync``) is left to
    /// `onDisk`, so the next write can take the lock meanwhile.
    public func writeCommitted(prepared batches: [PreparedBatch]) async throws -> (counts: [Int], onDisk: DiskSync) {
        guard batches.contains(where: { $0.rows.count > 0 }) else { return (batches.map { _ in 0 }, .done) }
        let now = Timestamp.now().microsecondsSinceEpoch
        let checksProven = batches.allSatisfy(\.rows.meetsTableChecks)
        return try await database.writeThenSync { db in
            let inserted = try Self.skippingTableChecks(checksProven, in: db) {
                let insert = try SQLiteRawStatement(db, sql: Self.insertSQL)
                return try batches.map { try $0.rows.insert(with: insert) }
            }
            // In the same transaction: a refresh that starts after this commit sees
            // both the events and the mark.
            let mark = try db.cachedStatement(sql: Self.markDirtySQL)
            for day in batches.reduce(into: Set<Int64>(), { $0.formUnion($1.days) }) {
                try mark.execute(arguments: [day, now])
            }
            return inserted
        }
    }

    /// Runs `body` with SQLite's CHECK constraints off when `skip` is true, and
    /// on again after, whatever happens.
    ///
    /// The table's CHECKs re-prove what the encoder guarantees: `data` is JSON
    /// that `JSONValue` wrote, `event_id` a UUID's 36 characters, and the lengths
    /// of `event_type` and `service` are checked while encoding
    /// (``EncodedEventRows/meetsTableChecks``). `json_valid` parses every row's
    /// JSON again inside the write lock: 12–18% of an insert (`sqlite3 .import`
    /// of 300,000 ingested rows with and without CHECKs). A write with any row
    /// not provably within them (the whole group, when requests share one) runs
    /// with them on, so SQLite judges every row of it as it always did.
    ///
    /// The flag takes effect when a statement is compiled (SQLite sets it while
    /// preparing the PRAGMA, and recompiles statements prepared before), so the
    /// PRAGMAs are prepared afresh each time, never cached.
    static func skippingTableChecks<T>(_ skip: Bool, in db: Database, _ body: () throws -> T) throws -> T {
        guard skip else {
            // Off already, unless a write that skipped them failed to set them
            // back; cheap, and this path is rare (a row SQLite must judge).
            try db.execute(sql: "PRAGMA ignore_check_constraints = OFF")
            return try body()
        }
        let result: T
        do {
            // Inside the `do`: the flag changes when the PRAGMA is prepared, and
            // GRDB may still throw before running it (a cancelled task).
            try db.execute(sql: "PRAGMA ignore_check_constraints = ON")
            result = try body()
        } catch {
            try? db.execute(sql: "PRAGMA ignore_check_constraints = OFF")
            throw error
        }
        // Should this fail, the write fails (and rolls back) rather than leave
        // the connection writing unchecked rows.
        try db.execute(sql: "PRAGMA ignore_check_constraints = OFF")
        return result
    }

    public func count() async throws -> Int {
        try await database.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM analytics_events") ?? 0
        }
    }

    public func events(in range: Range<Timestamp>, limit: Int) async throws -> [EnrichedEvent] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT event_id, timestamp, received_at, event_type, service, user_id, anonymous_id, session_id, data
                FROM analytics_events
                WHERE timestamp >= ? AND timestamp < ?
                ORDER BY timestamp, event_id
                LIMIT ?
                """, arguments: [range.lowerBound.microsecondsSinceEpoch, range.upperBound.microsecondsSinceEpoch, limit])
            .map(EventRow.decode)
        }
    }

    public func dailyCounts() async throws -> [DailyEventCount] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT timestamp / 86400000000 AS day, event_type, count(*) AS n
                FROM analytics_events
                GROUP BY day, event_type
                ORDER BY day, event_type
                """).map { row in
                let day: Int64 = row["day"]
                return DailyEventCount(day: Timestamp(microsecondsSinceEpoch: day * Timestamp.microsecondsPerDay),
                                       eventType: row["event_type"], count: row["n"])
            }
        }
    }
}

/// Events as the columns of `analytics_events`, encoded before the write lock is
/// taken: every text column of every row back to back in one buffer, which the
/// writer binds in place (`SQLiteRawStatement.bind(borrowing:at:)`), so holding
/// the lock costs SQLite's own work and little else.
struct EncodedEventRows: Sendable {
    /// A text column's bytes in `text`, or NULL.
    private struct Span {
        var start: Int
        var count: Int
        static let null = Span(start: 0, count: -1)
    }

    /// The parameters of `SQLiteEventStore.insertSQL` that take text, in the
    /// order each row's spans are kept: event_id, event_type, service, user_id,
    /// anonymous_id, session_id, data.
    private static let textParameters: [Int32] = [1, 4, 5, 6, 7, 8, 9]

    private var text: [UInt8] = []
    private var spans: [Span] = []
    /// Each row's timestamp and received_at.
    private var times: [(timestamp: Int64, receivedAt: Int64)] = []

    var count: Int { times.count }

    /// Every row passes `analytics_events`' CHECK constraints by construction: the
    /// id and `data` are written by this type, and the lengths of `event_type` and
    /// `service` (in characters, as SQLite's `length` counts) are within 1…100.
    private(set) var meetsTableChecks = true

    init(_ events: [EnrichedEvent]) {
        text.reserveCapacity(events.count * 320)
        spans.reserveCapacity(events.count * Self.textParameters.count)
        times.reserveCapacity(events.count)
        for event in events {
            if meetsTableChecks {
                meetsTableChecks = Self.hasStorableLength(event.name) && Self.hasStorableLength(event.service)
            }
            times.append((event.timestamp.microsecondsSinceEpoch, event.receivedAt.microsecondsSinceEpoch))
            var start = text.count
            event.eventID.appendUUIDString(to: &text)
            endSpan(from: start)
            append(event.name)
            append(event.service)
            append(event.userID)
            append(event.anonymousID)
            append(event.sessionID)
            start = text.count
            event.serializeData(into: &text)
            endSpan(from: start)
        }
    }

    /// 1 to 100 characters, as `CHECK (length(…) BETWEEN 1 AND 100)` counts them
    /// (code points). Text with a NUL, where SQLite's `length` stops, is left to
    /// SQLite to judge.
    private static func hasStorableLength(_ text: String) -> Bool {
        var characters = 0
        for byte in text.utf8 {
            if byte == 0 { return false }
            if byte & 0xC0 != 0x80 { characters += 1 }  // not a UTF-8 continuation byte
        }
        return (1...100).contains(characters)
    }

    private mutating func append(_ column: String?) {
        guard let column else { return spans.append(.null) }
        let start = text.count
        text.append(contentsOf: column.utf8)
        endSpan(from: start)
    }

    private mutating func endSpan(from start: Int) {
        spans.append(Span(start: start, count: text.count - start))
    }

    /// Runs `statement` (`SQLiteEventStore.insertSQL`) once a row.
    ///
    /// - Returns: how many rows were new.
    func insert(with statement: SQLiteRawStatement) throws -> Int {
        try text.withUnsafeBufferPointer { text in
            var inserted = 0
            for (row, time) in times.enumerated() {
                try statement.bind(time.timestamp, at: 2)
                try statement.bind(time.receivedAt, at: 3)
                for (column, parameter) in Self.textParameters.enumerated() {
                    let span = spans[row * Self.textParameters.count + column]
                    if span.count < 0 {
                        try statement.bindNull(at: parameter)
                    } else {
                        try statement.bind(borrowing: UnsafeBufferPointer(rebasing: text[span.start..<span.start + span.count]), at: parameter)
                    }
                }
                inserted += try statement.execute()
            }
            return inserted
        }
    }
}

/// Reads `analytics_events` rows back into events.
enum EventRow {
    /// Rebuilds a stored event. Stored rows passed validation on the way in, so
    /// personal-data checks are not repeated; the schema still is.
    static func decode(_ row: Row) throws -> EnrichedEvent {
        let dataText: String = row["data"]
        let data = try JSONValue(parsing: dataText).objectValue ?? [:]
        return try event(from: row, properties: data["properties"]?.objectValue ?? [:], context: data["context"]?.objectValue ?? [:])
    }

    /// Rebuilds an event from the columns `analytics_events` and `analytics_queue`
    /// share, given its properties and context.
    static func event(from row: Row, properties: JSONObject, context: JSONObject) throws -> EnrichedEvent {
        let idText: String = row["event_id"]
        guard let eventID = EventID(idText) else {
            throw StoredRowError(reason: "event_id is not a UUID")
        }
        return EnrichedEvent(
            eventID: eventID,
            payload: try EventPayload(name: row["event_type"], properties: properties, policy: .disabled),
            timestamp: Timestamp(microsecondsSinceEpoch: row["timestamp"]),
            receivedAt: Timestamp(microsecondsSinceEpoch: row["received_at"]),
            service: row["service"],
            userID: row["user_id"],
            anonymousID: row["anonymous_id"],
            sessionID: row["session_id"],
            context: EventContext(json: context)
        )
    }
}

/// A stored row that no longer decodes (edited by hand, or written by a newer build).
struct StoredRowError: Error, CustomStringConvertible {
    let reason: String
    var description: String { "a stored event could not be read back: \(reason)" }
}
