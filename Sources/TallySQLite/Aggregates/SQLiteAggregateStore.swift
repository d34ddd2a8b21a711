import Foundation
import GRDB
import Tally

/// The aggregates on SQLite: each event's fact is read with SQLite's C API (its
/// properties picked out of the stored `data` text by ``FactProperties``),
/// aggregated in Swift as it is read (``DayAggregates``, shared with every
/// backend), and the rows are written back one day per transaction.
public struct SQLiteAggregateStore: AggregateStore {
    public let database: SQLiteDatabase

    public init(database: SQLiteDatabase) {
        self.database = database
    }

    // MARK: refresh

    public func facts(onDay day: Timestamp) async throws -> [EventFact] {
        try await database.read { db in
            var facts: [EventFact] = []
            try Self.forEachFact(onDay: day, db) { facts.append($0) }
            return facts
        }
    }

    /// The day's events streamed into ``DayAggregates/Accumulator`` as they are
    /// read (in read transactions, not blocking writers), then written in one
    /// write transaction: the same rows as the default, without holding a
    /// million facts at once, and without making a fact of an event whose type
    /// no aggregate reads past its user.
    ///
    /// ``readers`` read the day at once, each its own hours on its own
    /// connection into its own accumulator, merged at the end; each reader has
    /// its own copies of the repeated strings, so the cores do not take turns
    /// on their reference counts. (A single reader handing its facts to a
    /// second thread made the refresh slower: 4.2–4.8 s against 2.9–3.0 s for
    /// 1M events, README.) The readers' snapshots may differ by a write that
    /// landed between them; that write marked the day dirty after the
    /// refresher read the marks, so the day is recomputed at the next tick, as
    /// for any write during a refresh.
    public func refreshDay(_ day: Timestamp) async throws -> Int {
        let start = day.startOfDay
        let (aggregates, events) = try await withThrowingTaskGroup(of: (DayAggregates.Accumulator, Int).self) { group in
            for reader in 0..<Self.readers {
                let hours = Array(stride(from: reader, to: 24, by: Self.readers))
                group.addTask { try await accumulate(day: start, hours: hours) }
            }
            var accumulator = DayAggregates.Accumulator(day: start)
            var events = 0
            for try await (part, partEvents) in group {
                accumulator.merge(part)
                events += partEvents
            }
            return (accumulator.aggregates(), events)
        }
        try await database.write { db in try Self.write(aggregates, to: db) }
        return events
    }

    /// How many connections read a day at once in ``refreshDay(_:)``: two, as
    /// PostgreSQL's refresh, for this 2-core machine (README's figures).
    /// Interleaved hours give each about half the day whatever its daily curve.
    static let readers = 2

    /// The facts of `hours` (0–23) of `day`, accumulated in one read transaction.
    private func accumulate(day: Timestamp, hours: [Int]) async throws -> (DayAggregates.Accumulator, Int) {
        try await database.read { db in
            var accumulator = DayAggregates.Accumulator(day: day)
            var users = DayUserSets()
            var events = 0
            for hour in hours {
                let from = Timestamp(microsecondsSinceEpoch: day.microsecondsSinceEpoch + Int64(hour) * Timestamp.microsecondsPerHour)
                let to = Timestamp(microsecondsSinceEpoch: from.microsecondsSinceEpoch + Timestamp.microsecondsPerHour)
                events += try Self.forEachAggregatedFact(from: from, to: to, db, users: &users) { accumulator.add($0) }
            }
            for (service, set) in users.sets() { accumulator.addUsers(set, service: service) }
            return (accumulator, events)
        }
    }

    /// Calls `body` with the fact of every event stored with a timestamp on `day`.
    ///
    /// Each property is set only for the event types whose aggregate uses it
    /// (``EventFact/propertyEventTypes``), as PostgreSQL's `factsSQL` does; most
    /// events are of types no aggregate reads past their user, and their `data`
    /// is not scanned. Elsewhere the field is `nil`.
    static func forEachFact(onDay day: Timestamp, _ db: Database, _ body: (EventFact) throws -> Void) throws {
        let start = day.startOfDay
        let rows = try SQLiteRawRows(db, sql: factsSQL, arguments: [start.microsecondsSinceEpoch, start.adding(days: 1).microsecondsSinceEpoch])
        // Types, services, methods, routes, providers and error types repeat;
        // user and cocoon ids are read as they come.
        var interner = TextInterner()
        while try rows.next() {
            let eventType = rows.text(1, &interner) ?? ""
            try body(fact(rows, eventType: eventType, service: rows.text(2, &interner) ?? "", userID: rows.text(3),
                          wanted: FactProperties.Fields.byEventType[eventType] ?? [], &interner))
        }
    }

    /// What the refresh reads of the events in [`from`, `to`): every user goes
    /// into `users`, and `body` gets a fact, without its user, of each event
    /// whose type is in ``DayAggregates/Accumulator/eventTypes`` (the others
    /// count only toward users).
    ///
    /// - Returns: how many events were read.
    static func forEachAggregatedFact(from: Timestamp, to: Timestamp, _ db: Database, users: inout DayUserSets,
                                      _ body: (EventFact) throws -> Void) throws -> Int {
        let rows = try SQLiteRawRows(db, sql: factsSQL, arguments: [from.microsecondsSinceEpoch, to.microsecondsSinceEpoch])
        var interner = TextInterner()
        var events = 0
        while try rows.next() {
            events += 1
            let eventType = rows.text(1, &interner) ?? ""
            let service = rows.text(2, &interner) ?? ""
            _ = rows.withText(3) { users.add($0, service: service) }
            if let wanted = FactProperties.Fields.byEventType[eventType] {
                try body(fact(rows, eventType: eventType, service: service, userID: nil, wanted: wanted, &interner))
            }
        }
        return events
    }

    /// The fact of the row `rows` is on, given its first columns, already read,
    /// with the `wanted` properties scanned out of its `data`.
    private static func fact(_ rows: SQLiteRawRows, eventType: String, service: String, userID: String?,
                             wanted: FactProperties.Fields, _ interner: inout TextInterner) -> EventFact {
        let p = wanted.isEmpty ? FactProperties()
            : rows.withText(4) { FactProperties(data: $0, wanted: wanted, interner: &interner) } ?? FactProperties()
        return EventFact(
            timestamp: Timestamp(microsecondsSinceEpoch: rows.int64(0)), eventType: eventType, service: service,
            userID: userID, durationMs: p.durationMs, statusCode: p.statusCode, method: p.method, route: p.route,
            provider: p.provider, errorType: p.errorType, cocoonID: p.cocoonID, success: p.success)
    }

    /// The day's events: time, type, service, user and the `data` text, as
    /// stored. `data` costs nothing until it is read (`FactProperties`): with
    /// `data ->> '$.properties.…'` for each property, the same 1M-row read
    /// took 0.95–1.24 s in the `sqlite3` shell, against 0.52–0.59 s (README).
    static let factsSQL = """
        SELECT timestamp, event_type, service, user_id, data
        FROM analytics_events
        WHERE timestamp >= ? AND timestamp < ?
        """

    public func replace(_ aggregates: DayAggregates) async throws {
        try await database.write { db in try Self.write(aggregates, to: db) }
    }

    /// Replaces the rows of `aggregates.day` inside the caller's transaction.
    static func write(_ aggregates: DayAggregates, to db: Database) throws {
        let day = aggregates.day.dateString
        let hourFrom = aggregates.day.iso8601
        let hourTo = aggregates.day.adding(days: 1).iso8601
        try db.execute(sql: "DELETE FROM analytics_daily_users WHERE day = ?", arguments: [day])
        // A day has ~100k of these rows for 1M events. They go in key order
        // (service, day, user), so each lands after the last instead of on a
        // random page of the table: 0.10–0.12 s against 0.23–0.55 s for the
        // same rows in the `sqlite3` shell.
        let user = try SQLiteRawStatement(db, sql: "INSERT INTO analytics_daily_users (day, service, user_id) VALUES (?, ?, ?)")
        try user.bind(day, at: 1)
        for (service, users) in aggregates.users.sorted(by: { $0.key < $1.key }) {
            try user.bind(service, at: 2)
            for id in users.sorted() {
                try user.bind(id, at: 3)
                try user.execute()
            }
        }

        try db.execute(sql: "DELETE FROM analytics_task_stats_daily WHERE day = ?", arguments: [day])
        for r in aggregates.taskStats {
            try db.execute(sql: """
                INSERT INTO analytics_task_stats_daily VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [day, r.service, r.created, r.started, r.completed, r.failed, r.cancelled,
                                 r.successRate, r.durationP50, r.durationP95, Data(r.durationSketch.serialized)])
        }

        try db.execute(sql: "DELETE FROM analytics_api_latency_hourly WHERE hour >= ? AND hour < ?", arguments: [hourFrom, hourTo])
        let api = try db.cachedStatement(sql: "INSERT INTO analytics_api_latency_hourly VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        for r in aggregates.apiLatency {
            try api.execute(arguments: [r.hour.iso8601, r.service, r.method, r.route, r.requests, r.errors4xx, r.errors5xx,
                                        r.latencyP50, r.latencyP95, r.latencyP99, r.latencyMax, Data(r.latencySketch.serialized)])
        }

        try db.execute(sql: "DELETE FROM analytics_integration_health_daily WHERE day = ?", arguments: [day])
        for r in aggregates.integrationHealth {
            try db.execute(sql: "INSERT INTO analytics_integration_health_daily VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           arguments: [day, r.provider, r.connected, r.disconnected, r.used, r.errors, r.oauthStarted, r.oauthCompleted, r.errorRate])
        }

        try db.execute(sql: "DELETE FROM analytics_auth_events_daily WHERE day = ?", arguments: [day])
        for r in aggregates.authEvents {
            try db.execute(sql: "INSERT INTO analytics_auth_events_daily VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           arguments: [day, r.service, r.loginAttempts, r.loginSuccesses, r.loginFailures, r.codesVerified,
                                       r.tokenRefreshes, r.sessionsValidated, r.logouts])
        }

        try db.execute(sql: "DELETE FROM analytics_cocoon_activity_daily WHERE day = ?", arguments: [day])
        if let r = aggregates.cocoonActivity {
            try db.execute(sql: "INSERT INTO analytics_cocoon_activity_daily VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           arguments: [day, r.registered, r.connected, r.disconnected, r.claimed, r.setupTokensCreated,
                                       r.setupTokensUsed, r.activeCocoons])
        }

        try db.execute(sql: "DELETE FROM analytics_errors_hourly WHERE hour >= ? AND hour < ?", arguments: [hourFrom, hourTo])
        for r in aggregates.errors {
            try db.execute(sql: "INSERT INTO analytics_errors_hourly VALUES (?, ?, ?, ?)",
                           arguments: [r.hour.iso8601, r.service, r.errorType, r.errors])
        }
    }

    public func recomputeActiveUsers(days: [Timestamp]) async throws {
        guard !days.isEmpty else { return }
        try await database.write { db in
            for day in days {
                let d = day.dateString
                let weekStart = day.adding(days: -6).dateString
                let monthStart = day.adding(days: -29).dateString
                try db.execute(sql: "DELETE FROM analytics_daily_active_users WHERE day = ?", arguments: [d])
                // Every service with a user in the 30 days ending `day`.
                try db.execute(sql: """
                    INSERT INTO analytics_daily_active_users (day, service, dau, wau, mau)
                    SELECT ?1, service,
                           count(DISTINCT CASE WHEN day = ?1 THEN user_id END),
                           count(DISTINCT CASE WHEN day >= ?2 THEN user_id END),
                           count(DISTINCT user_id)
                    FROM analytics_daily_users
                    WHERE day BETWEEN ?3 AND ?1
                    GROUP BY service
                    """, arguments: [d, weekStart, monthStart])
            }
        }
    }

    public func dirtyDays() async throws -> [(day: Timestamp, markedAt: Timestamp)] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT day, marked_at FROM analytics_dirty_days ORDER BY day").map { row in
                (Timestamp(microsecondsSinceEpoch: row[0]), Timestamp(microsecondsSinceEpoch: row[1]))
            }
        }
    }

    public func markDirty(days: [Timestamp]) async throws {
        let now = Timestamp.now().microsecondsSinceEpoch
        let marks = Set(days.map { $0.startOfDay.microsecondsSinceEpoch })
        try await database.write { db in
            for day in marks { try db.execute(sql: SQLiteEventStore.markDirtySQL, arguments: [day, now]) }
        }
    }

    public func clearDirty(_ marks: [(day: Timestamp, markedAt: Timestamp)]) async throws {
        let pairs = marks.map { ($0.day.microsecondsSinceEpoch, $0.markedAt.microsecondsSinceEpoch) }
        try await database.write { db in
            for (day, markedAt) in pairs {
                try db.execute(sql: "DELETE FROM analytics_dirty_days WHERE day = ? AND marked_at <= ?", arguments: [day, markedAt])
            }
        }
    }

    // MARK: queries (days in [from, to))

    public func activeUsers(from: Timestamp, to: Timestamp, service: String?) async throws -> [ActiveUsersRow] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT day, service, dau, wau, mau FROM analytics_daily_active_users
                WHERE day >= ? AND day < ? AND (?3 IS NULL OR service = ?3) ORDER BY day, service
                """, arguments: [from.dateString, to.dateString, service]).map { row in
                ActiveUsersRow(day: Self.day(row[0]), service: row[1], dau: row[2], wau: row[3], mau: row[4])
            }
        }
    }

    public func taskStats(from: Timestamp, to: Timestamp, service: String?) async throws -> [TaskStatsRow] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM analytics_task_stats_daily
                WHERE day >= ? AND day < ? AND (?3 IS NULL OR service = ?3) ORDER BY day, service
                """, arguments: [from.dateString, to.dateString, service]).map { row in
                var r = TaskStatsRow(day: Self.day(row["day"]), service: row["service"])
                r.created = row["created"]; r.started = row["started"]; r.completed = row["completed"]
                r.failed = row["failed"]; r.cancelled = row["cancelled"]; r.successRate = row["success_rate"]
                r.durationP50 = row["duration_p50"]; r.durationP95 = row["duration_p95"]
                r.durationSketch = Self.sketch(row["duration_sketch"])
                return r
            }
        }
    }

    public func apiLatency(from: Timestamp, to: Timestamp, service: String?) async throws -> [APILatencyRow] {
        try await database.read { db in
            // A month of hourly rows is thousands: stepped through SQLite's C API,
            // the repeating texts interned, each sketch read from SQLite's own bytes.
            let rows = try SQLiteRawRows(db, sql: """
                SELECT hour, service, method, route, requests, errors_4xx, errors_5xx,
                       latency_p50, latency_p95, latency_p99, latency_max, latency_sketch
                FROM analytics_api_latency_hourly
                WHERE hour >= ? AND hour < ? AND (?3 IS NULL OR service = ?3) ORDER BY hour, service, method, route
                """, arguments: [from.iso8601, to.iso8601, service])
            var result: [APILatencyRow] = []
            var texts = TextInterner()
            var hours = HourTexts()
            while try rows.next() {
                var r = APILatencyRow(hour: hours.timestamp(rows.text(0, &texts)), service: rows.text(1, &texts) ?? "",
                                      method: rows.text(2, &texts) ?? "", route: rows.text(3, &texts) ?? "")
                r.requests = rows.int(4); r.errors4xx = rows.int(5); r.errors5xx = rows.int(6)
                r.latencyP50 = rows.double(7); r.latencyP95 = rows.double(8); r.latencyP99 = rows.double(9)
                r.latencyMax = rows.double(10)
                r.latencySketch = rows.withBlob(11) { QuantileSketch(serialized: $0) ?? QuantileSketch() } ?? QuantileSketch()
                result.append(r)
            }
            return result
        }
    }

    /// Only the sketches of the matching buckets, filtered in SQL and merged at once.
    public func apiLatencyPercentiles(from: Timestamp, to: Timestamp, service: String?,
                                      method: String?, route: String?) async throws -> RangePercentiles {
        try await database.read { db in
            let rows = try SQLiteRawRows(db, sql: """
                SELECT latency_sketch FROM analytics_api_latency_hourly
                WHERE hour >= ? AND hour < ? AND (?3 IS NULL OR service = ?3)
                  AND (?4 IS NULL OR method = ?4) AND (?5 IS NULL OR route = ?5)
                """, arguments: [from.iso8601, to.iso8601, service, method, route])
            var merger = QuantileSketch.Merger()
            while try rows.next() {
                rows.withBlob(0) { merger.add(serialized: $0) }
            }
            return RangePercentiles(merger.merged)
        }
    }

    public func integrationHealth(from: Timestamp, to: Timestamp, provider: String?) async throws -> [IntegrationHealthRow] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM analytics_integration_health_daily
                WHERE day >= ? AND day < ? AND (?3 IS NULL OR provider = ?3) ORDER BY day, provider
                """, arguments: [from.dateString, to.dateString, provider]).map { row in
                var r = IntegrationHealthRow(day: Self.day(row["day"]), provider: row["provider"])
                r.connected = row["connected"]; r.disconnected = row["disconnected"]; r.used = row["used"]
                r.errors = row["errors"]; r.oauthStarted = row["oauth_started"]; r.oauthCompleted = row["oauth_completed"]
                r.errorRate = row["error_rate"]
                return r
            }
        }
    }

    public func authEvents(from: Timestamp, to: Timestamp, service: String?) async throws -> [AuthEventsRow] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM analytics_auth_events_daily
                WHERE day >= ? AND day < ? AND (?3 IS NULL OR service = ?3) ORDER BY day, service
                """, arguments: [from.dateString, to.dateString, service]).map { row in
                var r = AuthEventsRow(day: Self.day(row["day"]), service: row["service"])
                r.loginAttempts = row["login_attempts"]; r.loginSuccesses = row["login_successes"]
                r.loginFailures = row["login_failures"]; r.codesVerified = row["codes_verified"]
                r.tokenRefreshes = row["token_refreshes"]; r.sessionsValidated = row["sessions_validated"]; r.logouts = row["logouts"]
                return r
            }
        }
    }

    public func cocoonActivity(from: Timestamp, to: Timestamp) async throws -> [CocoonActivityRow] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM analytics_cocoon_activity_daily WHERE day >= ? AND day < ? ORDER BY day",
                             arguments: [from.dateString, to.dateString]).map { row in
                var r = CocoonActivityRow(day: Self.day(row["day"]))
                r.registered = row["registered"]; r.connected = row["connected"]; r.disconnected = row["disconnected"]
                r.claimed = row["claimed"]; r.setupTokensCreated = row["setup_tokens_created"]
                r.setupTokensUsed = row["setup_tokens_used"]; r.activeCocoons = row["active_cocoons"]
                return r
            }
        }
    }

    public func errors(from: Timestamp, to: Timestamp, service: String?) async throws -> [ErrorsRow] {
        try await database.read { db in
            // Thousands of rows a month, read as `apiLatency` reads its own.
            let rows = try SQLiteRawRows(db, sql: """
                SELECT hour, service, error_type, errors FROM analytics_errors_hourly
                WHERE hour >= ? AND hour < ? AND (?3 IS NULL OR service = ?3) ORDER BY hour, service, error_type
                """, arguments: [from.iso8601, to.iso8601, service])
            var result: [ErrorsRow] = []
            var texts = TextInterner()
            var hours = HourTexts()
            while try rows.next() {
                result.append(ErrorsRow(hour: hours.timestamp(rows.text(0, &texts)), service: rows.text(1, &texts) ?? "",
                                        errorType: rows.text(2, &texts) ?? "", errors: rows.int(3)))
            }
            return result
        }
    }

    private static func day(_ text: String) -> Timestamp {
        Timestamp(iso8601: text) ?? Timestamp(microsecondsSinceEpoch: 0)
    }

    /// Hourly rows come in hour order, a dozen or so an hour: each hour's text is parsed once.
    private struct HourTexts {
        private var text = "", hour = Timestamp(microsecondsSinceEpoch: 0)

        /// The hour of an `hour` cell (interned, so the same hour's text is the
        /// same String and compares at once); NULL reads as the epoch, as an
        /// unreadable text does.
        mutating func timestamp(_ text: String?) -> Timestamp {
            guard let text else { return Timestamp(microsecondsSinceEpoch: 0) }
            if text != self.text { (self.text, hour) = (text, SQLiteAggregateStore.day(text)) }
            return hour
        }
    }

    private static func sketch(_ data: Data?) -> QuantileSketch {
        data.flatMap { QuantileSketch(serialized: $0) } ?? QuantileSketch()
    }
}
