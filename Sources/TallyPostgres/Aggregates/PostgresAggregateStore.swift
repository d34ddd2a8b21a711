import Logging
import PostgresNIO
import Tally

/// The aggregates on PostgreSQL: a refresh (``refreshDay(_:)``) has the server
/// compute each day's counters and distinct users from the raw events, and reads
/// back only a few hundred rows plus, per bucket, the durations its exact
/// percentiles and quantile sketch are computed from in Swift; everything is
/// written in one transaction per day. WAU and MAU are counted by the server from
/// `analytics_daily_users`, one array of user ids per day and service. ``facts(onDay:)`` and ``replace(_:)`` remain for the
/// generic path (the same rows via ``DayAggregates``).
///
/// ```swift
/// let refresher = AggregateRefresher(store: PostgresAggregateStore(database: database))
/// try await refresher.refreshDue()
/// ```
public struct PostgresAggregateStore: AggregateStore {
    public let database: PostgresPool

    public init(database: PostgresPool) {
        self.database = database
    }

    // MARK: refresh

    /// The fields of a fact, typed as ``EventFact/init(_:)`` reads them from an
    /// event: a property of another JSON type is `nil`, as it is there. A number
    /// is an integer when its text has no fraction (jsonb never writes exponents).
    ///
    /// Each property is read only for the event types whose aggregate uses it
    /// (``DayAggregates``): the JSON lookups are most of the query's cost, and half
    /// the events are of types no aggregate reads past their user. Elsewhere the
    /// field is `nil`. The types come from ``EventFact/propertyEventTypes``, as
    /// SQLite's read's do, and the cross-backend test compares every aggregate
    /// with SQLite's.
    static let factsSQL = """
        SELECT timestamp, event_type::text, service::text, user_id,
               CASE WHEN \(readsProperty("duration_ms")) AND jsonb_typeof(p->'duration_ms') = 'number'
                    THEN (p->>'duration_ms')::float8 END,
               CASE WHEN \(readsProperty("status_code")) AND jsonb_typeof(p->'status_code') = 'number'
                         AND strpos(p->>'status_code', '.') = 0 AND length(p->>'status_code') <= 18
                    THEN (p->>'status_code')::int8 END,
               CASE WHEN \(readsProperty("method")) AND jsonb_typeof(p->'method') = 'string' THEN p->>'method' END,
               CASE WHEN \(readsProperty("route")) AND jsonb_typeof(p->'route') = 'string' THEN p->>'route' END,
               CASE WHEN \(readsProperty("provider")) AND jsonb_typeof(p->'provider') = 'string' THEN p->>'provider' END,
               CASE WHEN \(readsProperty("error_type")) AND jsonb_typeof(p->'error_type') = 'string' THEN p->>'error_type' END,
               CASE WHEN \(readsProperty("cocoon_id")) AND jsonb_typeof(p->'cocoon_id') = 'string' THEN p->>'cocoon_id' END,
               CASE WHEN \(readsProperty("success")) AND jsonb_typeof(p->'success') = 'boolean' THEN (p->>'success')::bool END
        FROM analytics_events, LATERAL (SELECT data->'properties' AS p) AS properties
        WHERE timestamp >= $1 AND timestamp < $2
        """

    /// `event_type IN (…)`: the types whose aggregate reads property `key`
    /// (``EventFact/propertyEventTypes``, which SQLite's read follows too).
    private static func readsProperty(_ key: String) -> String {
        "event_type IN (" + EventFact.eventTypes(readingProperty: key).map { "'\($0)'" }.joined(separator: ", ") + ")"
    }

    public func facts(onDay day: Timestamp) async throws -> [EventFact] {
        let start = day.startOfDay
        var binds = PostgresBindings(capacity: 2)
        binds.append(PostgresTimestamp(start))
        binds.append(PostgresTimestamp(start.adding(days: 1)))
        return try await database.query(PostgresQuery(unsafeSQL: Self.factsSQL, binds: binds)) { row in
            let (time, type, service, user, duration, status, method, route, provider, errorType, cocoon, success) = try row.decode(
                (PostgresTimestamp, String, String, String?, Double?, Int64?, String?, String?, String?, String?, String?, Bool?).self)
            return EventFact(timestamp: time.timestamp, eventType: type, service: service, userID: user, durationMs: duration,
                             statusCode: status.map(Int.init), method: method, route: route, provider: provider,
                             errorType: errorType, cocoonID: cocoon, success: success)
        }
    }

    public func replace(_ aggregates: DayAggregates) async throws {
        let logger = database.logger
        try await database.withTransaction { connection in
            try await connection.exec(Self.serializeRefreshes, logger: logger)
            try await Self.write(aggregates, users: .given(aggregates.users), on: connection, logger: logger)
        }
    }

    /// Where ``write(_:users:on:logger:)`` takes the day's distinct users from.
    enum DailyUsers {
        /// Sets computed in Swift.
        case given([String: Set<String>])
        /// The day's raw events, by the server.
        case fromEvents
    }

    /// Replaces the rows of `aggregates.day` on `connection`, inside the caller's
    /// transaction, which holds the refresh lock.
    /// Returns how many events the day has when the users come from events, else 0.
    @discardableResult
    static func write(_ aggregates: DayAggregates, users: DailyUsers, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        let events = try await writeDailyUsers(day: aggregates.day, users: users, on: connection, logger: logger)
        try await writeCounters(aggregates, on: connection, logger: logger)
        return events
    }

    /// Replaces the day's user sets (`analytics_daily_users`), as ``write(_:users:on:logger:)`` does.
    static func writeDailyUsers(day: Timestamp, users: DailyUsers, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        let hourFrom = PostgresTimestamp(day), hourTo = PostgresTimestamp(day.adding(days: 1))
        let day = PostgresDate(day)
        var events = 0
        try await connection.exec("DELETE FROM analytics_daily_users WHERE day = \(day)", logger: logger)
        switch users {
        case .given(let sets):
            // One row a service, its users in byte order (as `COLLATE "C"` sorts them).
            for (service, users) in sets.sorted(by: { $0.key < $1.key }) where !users.isEmpty {
                var ids = ArrayColumn<TextElement>(capacity: users.count * 32)
                for user in users.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) { ids.append(user) }
                try await connection.exec("""
                    INSERT INTO analytics_daily_users (day, service, user_ids) VALUES (\(day), \(service), \(ids))
                    """, logger: logger)
            }
        case .fromEvents:
            // One pass over the day: its distinct (service, user) pairs with their
            // event counts; each service's users go in as one array, every
            // service's together under "*" (a service named "*" only there, as
            // ``DayAggregates`` merges it), and the counts add up to the day's events.
            events = try await connection.rows("""
                WITH pairs AS MATERIALIZED (
                    SELECT service::text AS service, user_id, count(*) AS n FROM analytics_events
                    WHERE timestamp >= \(hourFrom) AND timestamp < \(hourTo) GROUP BY 1, 2),
                inserted AS (
                    INSERT INTO analytics_daily_users (day, service, user_ids)
                    SELECT \(day), service, array_agg(user_id ORDER BY user_id COLLATE "C")
                    FROM pairs WHERE user_id IS NOT NULL AND service <> \(ActiveUsersRow.allServices) GROUP BY service
                    UNION ALL
                    SELECT \(day), \(ActiveUsersRow.allServices), array_agg(DISTINCT user_id COLLATE "C")
                    FROM pairs WHERE user_id IS NOT NULL HAVING count(*) > 0)
                SELECT coalesce(sum(n), 0)::int8 FROM pairs
                """, logger: logger) { try $0.decode(Int.self) }.first ?? 0
        }
        return events
    }

    /// Replaces the day's rows of the six counting aggregates, as ``write(_:users:on:logger:)`` does.
    static func writeCounters(_ aggregates: DayAggregates, on connection: PostgresConnection, logger: Logger) async throws {
        let day = PostgresDate(aggregates.day)
        let hourFrom = PostgresTimestamp(aggregates.day), hourTo = PostgresTimestamp(aggregates.day.adding(days: 1))

        let api = aggregates.apiLatency
        var apiHours = ArrayColumn<TimestampElement>(capacity: api.count * 12)
        var apiServices = ArrayColumn<TextElement>(capacity: api.count * 16)
        var apiMethods = ArrayColumn<TextElement>(capacity: api.count * 10)
        var apiRoutes = ArrayColumn<TextElement>(capacity: api.count * 32)
        var apiCounts = (ArrayColumn<Int8Element>(capacity: api.count * 12), ArrayColumn<Int8Element>(capacity: api.count * 12),
                         ArrayColumn<Int8Element>(capacity: api.count * 12))
        var apiLatencies = (ArrayColumn<Float8Element>(capacity: api.count * 12), ArrayColumn<Float8Element>(capacity: api.count * 12),
                            ArrayColumn<Float8Element>(capacity: api.count * 12), ArrayColumn<Float8Element>(capacity: api.count * 12))
        var apiSketches = ArrayColumn<ByteaElement>(capacity: api.count * 256)
        for r in api {
            apiHours.append(r.hour); apiServices.append(r.service); apiMethods.append(r.method); apiRoutes.append(r.route)
            apiCounts.0.append(r.requests); apiCounts.1.append(r.errors4xx); apiCounts.2.append(r.errors5xx)
            apiLatencies.0.append(r.latencyP50); apiLatencies.1.append(r.latencyP95)
            apiLatencies.2.append(r.latencyP99); apiLatencies.3.append(r.latencyMax)
            apiSketches.append(r.latencySketch.serialized)
        }

        let errors = aggregates.errors
        var errorHours = ArrayColumn<TimestampElement>(capacity: errors.count * 12)
        var errorServices = ArrayColumn<TextElement>(capacity: errors.count * 16)
        var errorTypes = ArrayColumn<TextElement>(capacity: errors.count * 24)
        var errorCounts = ArrayColumn<Int8Element>(capacity: errors.count * 12)
        for r in errors {
            errorHours.append(r.hour); errorServices.append(r.service); errorTypes.append(r.errorType); errorCounts.append(r.errors)
        }

        try await connection.exec("DELETE FROM analytics_task_stats_daily WHERE day = \(day)", logger: logger)
        for r in aggregates.taskStats {
            try await connection.exec("""
                INSERT INTO analytics_task_stats_daily VALUES (\(day), \(r.service), \(r.created), \(r.started), \(r.completed),
                    \(r.failed), \(r.cancelled), \(r.successRate), \(r.durationP50), \(r.durationP95), \(Self.bytes(r.durationSketch)))
                """, logger: logger)
        }

        try await connection.exec("DELETE FROM analytics_api_latency_hourly WHERE hour >= \(hourFrom) AND hour < \(hourTo)", logger: logger)
        try await connection.exec("""
            INSERT INTO analytics_api_latency_hourly
            SELECT * FROM unnest(\(apiHours), \(apiServices), \(apiMethods), \(apiRoutes), \(apiCounts.0), \(apiCounts.1), \(apiCounts.2),
                                 \(apiLatencies.0), \(apiLatencies.1), \(apiLatencies.2), \(apiLatencies.3), \(apiSketches))
            """, logger: logger)

        try await connection.exec("DELETE FROM analytics_integration_health_daily WHERE day = \(day)", logger: logger)
        for r in aggregates.integrationHealth {
            try await connection.exec("""
                INSERT INTO analytics_integration_health_daily VALUES (\(day), \(r.provider), \(r.connected), \(r.disconnected),
                    \(r.used), \(r.errors), \(r.oauthStarted), \(r.oauthCompleted), \(r.errorRate))
                """, logger: logger)
        }

        try await connection.exec("DELETE FROM analytics_auth_events_daily WHERE day = \(day)", logger: logger)
        for r in aggregates.authEvents {
            try await connection.exec("""
                INSERT INTO analytics_auth_events_daily VALUES (\(day), \(r.service), \(r.loginAttempts), \(r.loginSuccesses),
                    \(r.loginFailures), \(r.codesVerified), \(r.tokenRefreshes), \(r.sessionsValidated), \(r.logouts))
                """, logger: logger)
        }

        try await connection.exec("DELETE FROM analytics_cocoon_activity_daily WHERE day = \(day)", logger: logger)
        if let r = aggregates.cocoonActivity {
            try await connection.exec("""
                INSERT INTO analytics_cocoon_activity_daily VALUES (\(day), \(r.registered), \(r.connected), \(r.disconnected),
                    \(r.claimed), \(r.setupTokensCreated), \(r.setupTokensUsed), \(r.activeCocoons))
                """, logger: logger)
        }

        try await connection.exec("DELETE FROM analytics_errors_hourly WHERE hour >= \(hourFrom) AND hour < \(hourTo)", logger: logger)
        try await connection.exec("""
            INSERT INTO analytics_errors_hourly SELECT * FROM unnest(\(errorHours), \(errorServices), \(errorTypes), \(errorCounts))
            """, logger: logger)
    }

    /// Refreshes delete and re-insert whole buckets: two at once (the server's
    /// refresher and `tally refresh`, or an erase waking the refresher mid-run)
    /// would collide on the unique keys. One transaction-scoped advisory lock
    /// makes them take turns; the second then replaces the first's rows.
    static let serializeRefreshes: PostgresQuery = "SELECT pg_advisory_xact_lock(\(Self.refreshLockKey))"
    static let refreshLockKey: Int64 = 0x7461_6C6C_7941_6767  // "tallyAgg"

    public func recomputeActiveUsers(days: [Timestamp]) async throws {
        guard !days.isEmpty else { return }
        var column = ArrayColumn<DateElement>(capacity: days.count * 8)
        for day in Set(days.map(\.startOfDay)).sorted() { column.append(day) }
        let dayList = column
        let logger = database.logger
        try await database.withTransaction { connection in
            try await connection.exec(Self.serializeRefreshes, logger: logger)
            try await connection.exec("DELETE FROM analytics_daily_active_users WHERE day = ANY(\(dayList))", logger: logger)
            // Every service with a user in the 30 days ending each day. Each user's
            // latest day in the window, once (one hash aggregate), then counted:
            // rather than three count(DISTINCT …), each a sort of every id.
            try await connection.exec("""
                INSERT INTO analytics_daily_active_users (day, service, dau, wau, mau)
                SELECT day, service, count(*) FILTER (WHERE last = day), count(*) FILTER (WHERE last >= day - 6), count(*)
                FROM (SELECT d.day, u.service, id, max(u.day) AS last
                      FROM unnest(\(dayList)) AS d(day)
                      JOIN analytics_daily_users u ON u.day BETWEEN d.day - 29 AND d.day
                      CROSS JOIN LATERAL unnest(u.user_ids) AS id
                      GROUP BY d.day, u.service, id) AS latest
                GROUP BY day, service
                """, logger: logger)
        }
    }

    public func dirtyDays() async throws -> [(day: Timestamp, markedAt: Timestamp)] {
        try await database.query("SELECT day, marked_at FROM analytics_dirty_days ORDER BY day") { row in
            let (day, markedAt) = try row.decode((PostgresDate, PostgresTimestamp).self)
            return (day.day, markedAt.timestamp)
        }
    }

    public func markDirty(days: [Timestamp]) async throws {
        guard !days.isEmpty else { return }
        try await database.execute(PostgresEventStore.markQuery(days: days))
    }

    public func clearDirty(_ marks: [(day: Timestamp, markedAt: Timestamp)]) async throws {
        guard !marks.isEmpty else { return }
        var days = ArrayColumn<DateElement>(capacity: marks.count * 8)
        var times = ArrayColumn<TimestampElement>(capacity: marks.count * 12)
        for mark in marks {
            days.append(mark.day)
            times.append(mark.markedAt)
        }
        try await database.execute("""
            DELETE FROM analytics_dirty_days d USING unnest(\(days), \(times)) AS seen(day, marked_at)
            WHERE d.day = seen.day AND d.marked_at <= seen.marked_at
            """)
    }

    // MARK: queries (days in [from, to))

    public func activeUsers(from: Timestamp, to: Timestamp, service: String?) async throws -> [ActiveUsersRow] {
        try await database.query("""
            SELECT day, service, dau, wau, mau FROM analytics_daily_active_users
            WHERE day >= \(PostgresDate(from)) AND day < \(PostgresDate(to)) AND (\(service)::text IS NULL OR service = \(service))
            ORDER BY day, service COLLATE "C"
            """) { row in
            let (day, service, dau, wau, mau) = try row.decode((PostgresDate, String, Int, Int, Int).self)
            return ActiveUsersRow(day: day.day, service: service, dau: dau, wau: wau, mau: mau)
        }
    }

    public func taskStats(from: Timestamp, to: Timestamp, service: String?) async throws -> [TaskStatsRow] {
        try await database.query("""
            SELECT day, service, created, started, completed, failed, cancelled, success_rate, duration_p50, duration_p95, duration_sketch
            FROM analytics_task_stats_daily
            WHERE day >= \(PostgresDate(from)) AND day < \(PostgresDate(to)) AND (\(service)::text IS NULL OR service = \(service))
            ORDER BY day, service COLLATE "C"
            """) { row in
            let (day, service, created, started, completed, failed, cancelled, rate, p50, p95, sketch) = try row.decode(
                (PostgresDate, String, Int, Int, Int, Int, Int, Double?, Double?, Double?, ByteBuffer).self)
            var r = TaskStatsRow(day: day.day, service: service)
            r.created = created; r.started = started; r.completed = completed; r.failed = failed; r.cancelled = cancelled
            r.successRate = rate; r.durationP50 = p50; r.durationP95 = p95
            r.durationSketch = Self.sketch(sketch)
            return r
        }
    }

    /// One row per (service, method, route) comes back, its hours' columns as
    /// arrays (in the same order: every aggregate of a group is fed its rows in
    /// one order). A month is ~9k hourly rows but a dozen routes, and reading a
    /// cell costs the client about what parsing a sketch does (postgres-nio
    /// builds a `PostgresCell` for each), while ``PostgresArray`` reads elements
    /// in a loop. The rows are sorted here, not by the server: its sort by
    /// `COLLATE "C"` keys, which no index gives in order, was most of its time.
    public func apiLatency(from: Timestamp, to: Timestamp, service: String?) async throws -> [APILatencyRow] {
        let routes = try await database.query("""
            SELECT service, method, route, array_agg(hour), array_agg(requests), array_agg(errors_4xx), array_agg(errors_5xx),
                   array_agg(latency_p50), array_agg(latency_p95), array_agg(latency_p99), array_agg(latency_max),
                   array_agg(latency_sketch)
            FROM analytics_api_latency_hourly
            WHERE hour >= \(PostgresTimestamp(from)) AND hour < \(PostgresTimestamp(to)) AND (\(service)::text IS NULL OR service = \(service))
            GROUP BY service, method, route
            """) { row in
            var cells = PostgresCells(row)
            let (service, method, route) = (try cells.next(String.self), try cells.next(String.self), try cells.next(String.self))
            let hours = try cells.next(PostgresArray<PostgresTimestamp>.self).elements
            let requests = try cells.next(PostgresArray<Int64>.self).elements
            let errors4xx = try cells.next(PostgresArray<Int64>.self).elements
            let errors5xx = try cells.next(PostgresArray<Int64>.self).elements
            let p50 = try cells.next(PostgresArray<Double?>.self).elements
            let p95 = try cells.next(PostgresArray<Double?>.self).elements
            let p99 = try cells.next(PostgresArray<Double?>.self).elements
            let max = try cells.next(PostgresArray<Double?>.self).elements
            let sketches = try cells.next(PostgresArray<ByteBuffer>.self).elements
            try checkAligned([requests.count, errors4xx.count, errors5xx.count, p50.count, p95.count, p99.count,
                              max.count, sketches.count], hours: hours.count, table: "analytics_api_latency_hourly")
            return hours.indices.map { i in
                var r = APILatencyRow(hour: hours[i].timestamp, service: service, method: method, route: route)
                r.requests = Int(requests[i]); r.errors4xx = Int(errors4xx[i]); r.errors5xx = Int(errors5xx[i])
                r.latencyP50 = p50[i]; r.latencyP95 = p95[i]; r.latencyP99 = p99[i]; r.latencyMax = max[i]
                r.latencySketch = Self.sketch(sketches[i])
                return r
            }
        }
        return Self.mergedByHour(routes) { a, b in
            ByteOrder.precedes(a.service, b.service) ?? ByteOrder.precedes(a.method, b.method)
                ?? ByteOrder.precedes(a.route, b.route) ?? false
        }
    }

    /// Only the sketches of the matching hours, unordered: a month of hourly rows
    /// is ~9k sketches, and sorting and decoding the other columns cost as much
    /// as merging them. Each is merged from its bytes (`QuantileSketch.Merger`).
    public func apiLatencyPercentiles(from: Timestamp, to: Timestamp, service: String?,
                                      method: String?, route: String?) async throws -> RangePercentiles {
        let sketches = try await database.query("""
            SELECT latency_sketch FROM analytics_api_latency_hourly
            WHERE hour >= \(PostgresTimestamp(from)) AND hour < \(PostgresTimestamp(to))
              AND (\(service)::text IS NULL OR service = \(service))
              AND (\(method)::text IS NULL OR method = \(method))
              AND (\(route)::text IS NULL OR route = \(route))
            """) { row in try row.decode(ByteBuffer.self) }
        var merger = QuantileSketch.Merger()
        for bytes in sketches { bytes.withUnsafeReadableBytes { merger.add(serialized: $0) } }
        return RangePercentiles(merger.merged)
    }

    public func integrationHealth(from: Timestamp, to: Timestamp, provider: String?) async throws -> [IntegrationHealthRow] {
        try await database.query("""
            SELECT day, provider, connected, disconnected, used, errors, oauth_started, oauth_completed, error_rate
            FROM analytics_integration_health_daily
            WHERE day >= \(PostgresDate(from)) AND day < \(PostgresDate(to)) AND (\(provider)::text IS NULL OR provider = \(provider))
            ORDER BY day, provider COLLATE "C"
            """) { row in
            let (day, provider, connected, disconnected, used, errors, started, completed, rate) = try row.decode(
                (PostgresDate, String, Int, Int, Int, Int, Int, Int, Double?).self)
            var r = IntegrationHealthRow(day: day.day, provider: provider)
            r.connected = connected; r.disconnected = disconnected; r.used = used; r.errors = errors
            r.oauthStarted = started; r.oauthCompleted = completed; r.errorRate = rate
            return r
        }
    }

    public func authEvents(from: Timestamp, to: Timestamp, service: String?) async throws -> [AuthEventsRow] {
        try await database.query("""
            SELECT day, service, login_attempts, login_successes, login_failures, codes_verified, token_refreshes,
                   sessions_validated, logouts
            FROM analytics_auth_events_daily
            WHERE day >= \(PostgresDate(from)) AND day < \(PostgresDate(to)) AND (\(service)::text IS NULL OR service = \(service))
            ORDER BY day, service COLLATE "C"
            """) { row in
            let (day, service, attempts, successes, failures, codes, refreshes, validated, logouts) = try row.decode(
                (PostgresDate, String, Int, Int, Int, Int, Int, Int, Int).self)
            var r = AuthEventsRow(day: day.day, service: service)
            r.loginAttempts = attempts; r.loginSuccesses = successes; r.loginFailures = failures; r.codesVerified = codes
            r.tokenRefreshes = refreshes; r.sessionsValidated = validated; r.logouts = logouts
            return r
        }
    }

    public func cocoonActivity(from: Timestamp, to: Timestamp) async throws -> [CocoonActivityRow] {
        try await database.query("""
            SELECT day, registered, connected, disconnected, claimed, setup_tokens_created, setup_tokens_used, active_cocoons
            FROM analytics_cocoon_activity_daily
            WHERE day >= \(PostgresDate(from)) AND day < \(PostgresDate(to))
            ORDER BY day
            """) { row in
            let (day, registered, connected, disconnected, claimed, created, used, active) = try row.decode(
                (PostgresDate, Int, Int, Int, Int, Int, Int, Int).self)
            var r = CocoonActivityRow(day: day.day)
            r.registered = registered; r.connected = connected; r.disconnected = disconnected; r.claimed = claimed
            r.setupTokensCreated = created; r.setupTokensUsed = used; r.activeCocoons = active
            return r
        }
    }

    /// One row per (service, error type) with its hours as arrays, and sorted
    /// here, as ``apiLatency(from:to:service:)``.
    public func errors(from: Timestamp, to: Timestamp, service: String?) async throws -> [ErrorsRow] {
        let series = try await database.query("""
            SELECT service, error_type, array_agg(hour), array_agg(errors) FROM analytics_errors_hourly
            WHERE hour >= \(PostgresTimestamp(from)) AND hour < \(PostgresTimestamp(to)) AND (\(service)::text IS NULL OR service = \(service))
            GROUP BY service, error_type
            """) { row in
            var cells = PostgresCells(row)
            let (service, errorType) = (try cells.next(String.self), try cells.next(String.self))
            let hours = try cells.next(PostgresArray<PostgresTimestamp>.self).elements
            let errors = try cells.next(PostgresArray<Int64>.self).elements
            try checkAligned([errors.count], hours: hours.count, table: "analytics_errors_hourly")
            return zip(hours, errors).map { ErrorsRow(hour: $0.timestamp, service: service, errorType: errorType, errors: Int($1)) }
        }
        return Self.mergedByHour(series) { a, b in
            ByteOrder.precedes(a.service, b.service) ?? ByteOrder.precedes(a.errorType, b.errorType) ?? false
        }
    }

    /// Checks that a group's `array_agg` columns line up with its hours.
    /// PostgreSQL feeds every aggregate of a group the same rows, so a mismatch
    /// means a server that does not behave as expected: reported as an error
    /// naming the table, never a trap in the server process.
    private func checkAligned(_ counts: [Int], hours: Int, table: String) throws {
        guard counts.allSatisfy({ $0 == hours }) else {
            throw PostgresStoreError(code: .failed, database: database.displayName,
                                     message: "\(table): a series came back with \(hours) hours but columns of \(counts) values; "
                                         + "the server's array_agg did not keep the group's rows aligned — report this with the PostgreSQL version")
        }
    }

    /// Rows in the order of `ORDER BY hour, <key> COLLATE "C"`, from series that
    /// each hold one key's hours: the series sorted by key, then the rows by hour,
    /// the series' order breaking ties. Sorting the month's ~9k rows by their
    /// strings measured as long as decoding them.
    private static func mergedByHour<Row: HourlyRow>(_ series: [[Row]], keyPrecedes: (Row, Row) -> Bool) -> [Row] {
        var rows: [Row] = []
        rows.reserveCapacity(series.reduce(0) { $0 + $1.count })
        for rowsOfKey in series.sorted(by: { a, b in
            guard let first = a.first, let second = b.first else { return false }
            return keyPrecedes(first, second)
        }) {
            rows.append(contentsOf: rowsOfKey)
        }
        // The hours apart: a comparison that read `rows[i].hour` copied the row.
        let hours = rows.map(\.hour)
        return hours.indices.sorted { a, b in
            hours[a] != hours[b] ? hours[a] < hours[b] : a < b
        }.map { rows[$0] }
    }

    private static func bytes(_ sketch: QuantileSketch) -> ByteBuffer {
        ByteBuffer(bytes: sketch.serialized)
    }

    private static func sketch(_ buffer: ByteBuffer) -> QuantileSketch {
        QuantileSketch(serialized: buffer.readableBytesView) ?? QuantileSketch()
    }
}

/// A row of an hourly aggregate, for ``PostgresAggregateStore``'s merge by hour.
protocol HourlyRow {
    var hour: Timestamp { get }
}

extension APILatencyRow: HourlyRow {}
extension ErrorsRow: HourlyRow {}
