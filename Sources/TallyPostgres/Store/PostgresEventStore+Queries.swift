import PostgresNIO
import Tally

extension PostgresEventStore: EventQueries {
    public func events(matching filter: EventFilter, after cursor: EventCursor?, limit: Int) async throws -> [EnrichedEvent] {
        // Only the conditions asked for, so the planner prunes partitions and picks
        // the matching (…, timestamp) index. Values are bound, never spliced.
        var sql = PostgresQuery.StringInterpolation(literalCapacity: 512, interpolationCount: 8)
        sql.appendLiteral("""
            SELECT event_id, timestamp, received_at, event_type::text, service::text,
                   user_id, anonymous_id, session_id, data::text
            FROM analytics_events WHERE true
            """)
        if let from = filter.from { sql.appendLiteral(" AND timestamp >= "); sql.appendInterpolation(PostgresTimestamp(from)) }
        if let to = filter.to { sql.appendLiteral(" AND timestamp < "); sql.appendInterpolation(PostgresTimestamp(to)) }
        if let user = filter.userID {
            sql.appendLiteral(" AND (user_id = "); sql.appendInterpolation(user)
            sql.appendLiteral(" OR anonymous_id = "); sql.appendInterpolation(user); sql.appendLiteral(")")
        }
        if let type = filter.eventType { sql.appendLiteral(" AND event_type = "); sql.appendInterpolation(type) }
        if let service = filter.service { sql.appendLiteral(" AND service = "); sql.appendInterpolation(service) }
        if let cursor {
            sql.appendLiteral(" AND (timestamp, event_id) > (")
            sql.appendInterpolation(PostgresTimestamp(cursor.timestamp)); sql.appendLiteral(", ")
            sql.appendInterpolation(PostgresEventID(cursor.eventID)); sql.appendLiteral(")")
        }
        sql.appendLiteral(" ORDER BY timestamp, event_id LIMIT ")
        sql.appendInterpolation(Int64(clamping: max(limit, 0)))
        return try await database.query(PostgresQuery(stringInterpolation: sql)) { row in
            let (id, timestamp, receivedAt, type, service, user, anonymous, session, data) = try row.decode(
                (PostgresEventID, PostgresTimestamp, PostgresTimestamp, String, String, String?, String?, String?, String).self)
            return try Self.decode(id: id.id, timestamp: timestamp.timestamp, receivedAt: receivedAt.timestamp, type: type,
                                   service: service, user: user, anonymous: anonymous, session: session, data: data)
        }
    }

    public func trend(_ query: TrendQuery) async throws -> [TrendPoint] {
        // Weeks are ISO weeks: date_trunc('week') starts them on Monday, here in UTC.
        let bucket = switch query.interval {
        case .hour: "date_trunc('hour', timestamp, 'UTC')"
        case .day: "date_trunc('day', timestamp, 'UTC')"
        case .week: "date_trunc('week', timestamp, 'UTC')"
        }
        var sql = PostgresQuery.StringInterpolation(literalCapacity: 1_024, interpolationCount: 8)
        sql.appendLiteral("WITH matched AS (SELECT \(bucket) AS bucket, ")
        if let property = query.breakdown {
            guard TrendQuery.isValidPropertyName(property) else { throw QueryError.invalidProperty(property) }
            // `->>` gives a string as itself, a number or a Boolean as its JSON
            // text, and JSON null as NULL: TrendQuery.breakdownValue's text.
            sql.appendLiteral("data->'properties'->>"); sql.appendInterpolation(property)
        } else {
            sql.appendLiteral("NULL::text")
        }
        sql.appendLiteral(" AS value, coalesce(user_id, anonymous_id) AS person FROM analytics_events WHERE event_type = ")
        sql.appendInterpolation(query.eventType)
        sql.appendLiteral(" AND timestamp >= "); sql.appendInterpolation(PostgresTimestamp(query.from))
        sql.appendLiteral(" AND timestamp < "); sql.appendInterpolation(PostgresTimestamp(query.to))
        if let service = query.service { sql.appendLiteral(" AND service = "); sql.appendInterpolation(service) }
        // The top values by events, ties in byte order with NULL first.
        sql.appendLiteral("""
            ), kept AS (
                SELECT value FROM matched GROUP BY value ORDER BY count(*) DESC, value COLLATE "C" NULLS FIRST
            """)
        sql.appendLiteral(" LIMIT ")
        sql.appendInterpolation(Int64(query.breakdown == nil ? Int.max : max(query.limit, 0)))
        sql.appendLiteral("""
            )
            SELECT bucket, value, \(query.measure == .count ? "count(*)" : "count(DISTINCT person)")::int8 FROM matched
            WHERE EXISTS (SELECT 1 FROM kept WHERE kept.value IS NOT DISTINCT FROM matched.value)
            GROUP BY bucket, value ORDER BY bucket, value COLLATE "C" NULLS FIRST
            """)
        return try await database.query(PostgresQuery(stringInterpolation: sql)) { row in
            let (bucket, value, count) = try row.decode((PostgresTimestamp, String?, Int64).self)
            return TrendPoint(bucket: bucket.timestamp, value: value, count: Int(count))
        }
    }

    public func eraseUser(_ userID: String) async throws -> UserErasure {
        // One statement: the deletion and the marks of its days commit together,
        // so no refresh can see one without the other.
        var binds = PostgresBindings(capacity: 1)
        binds.append(userID)
        let query = PostgresQuery(unsafeSQL: """
            WITH deleted AS (
                DELETE FROM analytics_events WHERE user_id = $1 OR anonymous_id = $1 RETURNING timestamp
            ), marked AS (
                \(Self.markDirtySQL("SELECT timestamp FROM deleted"))
            )
            SELECT count(*)::int8,
                   coalesce(array_agg(DISTINCT ((timestamp AT TIME ZONE 'UTC')::date - DATE '1970-01-01')), '{}')
            FROM deleted
            """, binds: binds)
        let result = try await database.query(query) { row in try row.decode((Int64, [Int32]).self) }
        let (deleted, days) = result.first ?? (0, [])
        return UserErasure(deletedEvents: Int(deleted), days: days.sorted().map {
            Timestamp(microsecondsSinceEpoch: Int64($0) * Timestamp.microsecondsPerDay)
        })
    }
}
