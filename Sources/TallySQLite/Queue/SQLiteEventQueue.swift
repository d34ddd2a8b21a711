import GRDB
import Tally

/// The durable queue on SQLite's `analytics_queue`: the device's offline queue and
/// the worker's spill. Each call is one transaction; `INSERT OR IGNORE` on the
/// unique `event_id` keeps an event queued once.
public struct SQLiteEventQueue: DurableQueue {
    public let database: SQLiteDatabase

    public init(database: SQLiteDatabase) {
        self.database = database
    }

    static let insertSQL = """
        INSERT OR IGNORE INTO analytics_queue
            (event_id, event_type, properties, user_id, anonymous_id, session_id, service, context, timestamp, received_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    public func enqueue(_ events: [EnrichedEvent]) async throws {
        guard !events.isEmpty else { return }
        let rows: [StatementArguments] = events.map { event in
            [event.eventID.uuidString, event.name, JSONValue.object(event.properties).serialized(),
             event.userID, event.anonymousID, event.sessionID, event.service,
             JSONValue.object(event.context.json).serialized(),
             event.timestamp.microsecondsSinceEpoch, event.receivedAt.microsecondsSinceEpoch]
        }
        try await database.write { db in
            let statement = try db.cachedStatement(sql: Self.insertSQL)
            for row in rows {
                statement.setUncheckedArguments(row)
                try statement.execute()
            }
        }
    }

    public func peek(limit: Int) async throws -> [QueuedEvent] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, event_id, event_type, properties, user_id, anonymous_id, session_id, service, context,
                       timestamp, received_at, attempts
                FROM analytics_queue ORDER BY id LIMIT ?
                """, arguments: [limit]).map(Self.decode)
        }
    }

    public func remove(_ ids: [Int64]) async throws {
        guard !ids.isEmpty else { return }
        try await database.write { db in
            // Bounded statements: SQLite limits bound parameters per statement.
            for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
                try db.execute(sql: "DELETE FROM analytics_queue WHERE id IN (\(databaseQuestionMarks(count: chunk.count)))",
                               arguments: StatementArguments(chunk))
            }
        }
    }

    public func recordFailedAttempt(_ ids: [Int64], error: String) async throws {
        guard !ids.isEmpty else { return }
        let now = Timestamp.now().iso8601
        let message = String(error.prefix(500))
        try await database.write { db in
            for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
                try db.execute(sql: """
                    UPDATE analytics_queue SET attempts = attempts + 1, last_attempt_at = ?, last_error = ?
                    WHERE id IN (\(databaseQuestionMarks(count: chunk.count)))
                    """, arguments: StatementArguments([now, message] as [any DatabaseValueConvertible]) + StatementArguments(chunk))
            }
        }
    }

    public func removeEvents(ofUser userID: String) async throws -> Int {
        try await database.write { db in
            try db.execute(sql: "DELETE FROM analytics_queue WHERE user_id = ? OR anonymous_id = ?", arguments: [userID, userID])
            return db.changesCount
        }
    }

    public func count() async throws -> Int {
        try await database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM analytics_queue") ?? 0 }
    }

    /// Removes the oldest entries beyond `maxCount` and entries created before
    /// `olderThan`. Returns how many were removed.
    public func trim(maxCount: Int, olderThan cutoff: Timestamp?) async throws -> Int {
        try await database.write { db in
            var removed = 0
            if let cutoff {
                // Formatted by SQLite like the column's default, so the text comparison is exact.
                try db.execute(sql: "DELETE FROM analytics_queue WHERE created_at < strftime('%Y-%m-%dT%H:%M:%fZ', ? / 1e6, 'unixepoch')",
                               arguments: [cutoff.microsecondsSinceEpoch])
                removed += db.changesCount
            }
            try db.execute(sql: """
                DELETE FROM analytics_queue WHERE id IN (
                    SELECT id FROM analytics_queue ORDER BY id DESC LIMIT -1 OFFSET ?)
                """, arguments: [maxCount])
            removed += db.changesCount
            return removed
        }
    }

    static func decode(_ row: Row) throws -> QueuedEvent {
        let propertiesText: String = row["properties"]
        let contextText: String = row["context"]
        let event = try EventRow.event(from: row,
                                       properties: try JSONValue(parsing: propertiesText).objectValue ?? [:],
                                       context: try JSONValue(parsing: contextText).objectValue ?? [:])
        return QueuedEvent(id: row["id"], event: event, attempts: row["attempts"])
    }
}
