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
        let rows: [EventRow]
        let days: Set<Int64>
    }

    public func prepare(_ events: [EnrichedEvent]) -> PreparedBatch {
        PreparedBatch(rows: events.map(EventRow.init), days: Set(events.map { $0.timestamp.startOfDay.microsecondsSinceEpoch }))
    }

    public func write(prepared batches: [PreparedBatch]) async throws -> [Int] {
        guard batches.contains(where: { !$0.rows.isEmpty }) else { return batches.map { _ in 0 } }
        let now = Timestamp.now().microsecondsSinceEpoch
        return try await database.write { db in
            let statement = try db.cachedStatement(sql: Self.insertSQL)
            var inserted: [Int] = []
            for batch in batches {
                var count = 0
                for row in batch.rows {
                    statement.setUncheckedArguments(row.arguments)
                    try statement.execute()
                    count += db.changesCount
                }
                inserted.append(count)
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

/// One event as the columns of `analytics_events`.
struct EventRow: Sendable {
    let arguments: StatementArguments

    init(_ event: EnrichedEvent) {
        arguments = [
            event.eventID.uuidString,
            event.timestamp.microsecondsSinceEpoch,
            event.receivedAt.microsecondsSinceEpoch,
            event.name,
            event.service,
            event.userID,
            event.anonymousID,
            event.sessionID,
            Self.dataText(event),
        ]
    }

    static func dataText(_ event: EnrichedEvent) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512)
        event.serializeData(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

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
