import GRDB
import Tally

extension SQLiteEventStore: EventQueries {
    static let columns = "event_id, timestamp, received_at, event_type, service, user_id, anonymous_id, session_id, data"

    public func events(matching filter: EventFilter, after cursor: EventCursor?, limit: Int) async throws -> [EnrichedEvent] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let from = filter.from { conditions.append("timestamp >= ?"); arguments += [from.microsecondsSinceEpoch] }
        if let to = filter.to { conditions.append("timestamp < ?"); arguments += [to.microsecondsSinceEpoch] }
        if let user = filter.userID { conditions.append("(user_id = ? OR anonymous_id = ?)"); arguments += [user, user] }
        if let type = filter.eventType { conditions.append("event_type = ?"); arguments += [type] }
        if let service = filter.service { conditions.append("service = ?"); arguments += [service] }
        if let cursor {
            conditions.append("(timestamp, event_id) > (?, ?)")
            arguments += [cursor.timestamp.microsecondsSinceEpoch, cursor.eventID.uuidString]
        }
        arguments += [limit]
        let sql = """
            SELECT \(Self.columns) FROM analytics_events
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY timestamp, event_id LIMIT ?
            """
        let bound = arguments
        return try await database.read { db in
            try Row.fetchAll(db, sql: sql, arguments: bound).map(EventRow.decode)
        }
    }

    public func trend(_ query: TrendQuery) async throws -> [TrendPoint] {
        let day = Timestamp.microsecondsPerDay, hour = Timestamp.microsecondsPerHour
        let bucket = switch query.interval {
        case .hour: "timestamp / \(hour) * \(hour)"
        case .day: "timestamp / \(day) * \(day)"
        case .week: "((timestamp / \(day) + 3) / 7 * 7 - 3) * \(day)"
        }
        var arguments: StatementArguments = []
        let value: String
        if let property = query.breakdown {
            guard TrendQuery.isValidPropertyName(property) else { throw QueryError.invalidProperty(property) }
            // Strings as themselves, other JSON values as their text, null and missing as NULL.
            value = """
                CASE json_type(data, ?1) WHEN 'null' THEN NULL WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
                WHEN 'text' THEN json_extract(data, ?1) WHEN 'object' THEN json_extract(data, ?1)
                WHEN 'array' THEN json_extract(data, ?1) ELSE CAST(json_extract(data, ?1) AS TEXT) END
                """
            arguments += ["$.properties.\"\(property)\""]
        } else {
            value = "NULL"
        }
        var conditions = ["event_type = ?", "timestamp >= ?", "timestamp < ?"]
        arguments += [query.eventType, query.from.microsecondsSinceEpoch, query.to.microsecondsSinceEpoch]
        if let service = query.service { conditions.append("service = ?"); arguments += [service] }
        arguments += [query.limit]
        let measure = query.measure == .count ? "count(*)" : "count(DISTINCT person)"
        let sql = """
            WITH matched AS (
                SELECT \(bucket) AS bucket, \(value) AS value, coalesce(user_id, anonymous_id) AS person
                FROM analytics_events WHERE \(conditions.joined(separator: " AND "))
            ), kept AS (
                SELECT value FROM matched GROUP BY value ORDER BY count(*) DESC, value LIMIT ?
            )
            SELECT bucket, value, \(measure) AS n FROM matched
            WHERE EXISTS (SELECT 1 FROM kept WHERE kept.value IS matched.value)
            GROUP BY bucket, value ORDER BY bucket, value
            """
        let bound = arguments
        return try await database.read { db in
            try Row.fetchAll(db, sql: sql, arguments: bound).map { row in
                TrendPoint(bucket: Timestamp(microsecondsSinceEpoch: row["bucket"]), value: row["value"], count: row["n"])
            }
        }
    }

    public func eraseUser(_ userID: String) async throws -> UserErasure {
        let now = Timestamp.now().microsecondsSinceEpoch
        return try await database.write { db in
            let days = try Int64.fetchAll(db, sql: """
                SELECT DISTINCT timestamp / \(Timestamp.microsecondsPerDay) * \(Timestamp.microsecondsPerDay)
                FROM analytics_events WHERE user_id = ?1 OR anonymous_id = ?1
                """, arguments: [userID])
            try db.execute(sql: "DELETE FROM analytics_events WHERE user_id = ?1 OR anonymous_id = ?1", arguments: [userID])
            let deleted = db.changesCount
            // In the same transaction, so no refresh can see the deletion without the marks.
            let mark = try db.cachedStatement(sql: Self.markDirtySQL)
            for day in days { try mark.execute(arguments: [day, now]) }
            return UserErasure(deletedEvents: deleted, days: days.sorted().map(Timestamp.init(microsecondsSinceEpoch:)))
        }
    }
}
