import PostgresNIO
import Synchronization
import Tally
import TallyPostgres
import TallyPostgresTesting
import TallyTesting
import Testing

/// The aggregates on PostgreSQL, checked against the same quantities computed by
/// the server itself from the raw events, in plain SQL (count(DISTINCT),
/// percentile_cont, …): an oracle that shares no code with the refresher.
@Suite("Aggregates on PostgreSQL")
struct PostgresAggregateTests {
    static let end = Timestamp(iso8601: "2026-11-20T18:00:00Z")!
    /// More than 30 days, so the WAU and MAU windows both have data beyond their edges.
    static let days = 35

    static var from: Timestamp { end.startOfDay.adding(days: -(days - 1)) }
    static var to: Timestamp { end.startOfDay.adding(days: 1) }

    /// Demo traffic (5% of it late) written to `database`, then refreshed.
    @discardableResult
    static func load(_ database: PostgresPool) async throws -> (store: PostgresEventStore, refresher: AggregateRefresher, raw: [EnrichedEvent]) {
        var configuration = DemoTraffic.Configuration(end: end)
        configuration.users = 30
        configuration.days = days
        configuration.lateFraction = 0.05
        let traffic = DemoTraffic(configuration: configuration)
        var raw: [EnrichedEvent] = []
        for day in 0..<days { raw += traffic.events(forDay: day) }
        let store = PostgresEventStore(database: database)
        #expect(try await store.write(raw) == raw.count)
        let refresher = AggregateRefresher(store: PostgresAggregateStore(database: database))
        try await refresher.refresh(from: traffic.startOfDay(0), to: end, now: end)
        return (store, refresher, raw)
    }

    // MARK: the oracle, in SQL

    /// Epoch microseconds of a date or of a timestamptz, exactly.
    static func micros(day: String) -> String { "((\(day) - DATE '1970-01-01')::int8 * 86400000000)" }
    static func micros(time: String) -> String { "(extract(epoch FROM \(time)) * 1000000)::int8" }
    static let utcDay = "(timestamp AT TIME ZONE 'UTC')::date"
    static let utcHour = "date_trunc('hour', timestamp, 'UTC')"
    static let properties = "FROM analytics_events, LATERAL (SELECT data->'properties') AS props(p)"

    static func rows<Row: Sendable>(_ database: PostgresPool, _ sql: String,
                                    _ decode: @escaping @Sendable (PostgresRow) throws -> Row) async throws -> [Row] {
        try await database.query(PostgresQuery(unsafeSQL: sql), decoding: decode)
    }

    static func time(_ micros: Int64) -> Timestamp { Timestamp(microsecondsSinceEpoch: micros) }

    @Test("every row of every aggregate equals the server's own SQL over the raw events, exactly")
    func oracle() async throws {
        try await TestPostgres.withMigratedDatabase { database async throws in
            let raw = try await Self.load(database).raw
            #expect(raw.contains { $0.receivedAt.microsecondsSinceEpoch - $0.timestamp.microsecondsSinceEpoch > Timestamp.microsecondsPerDay },
                    "the fixture includes late events")
            let aggregates = PostgresAggregateStore(database: database)
            let (from, to) = (Self.from, Self.to)

            // Active users: distinct user_id per day and service (and all services),
            // over the day, the 7 days and the 30 days ending it.
            let expectedActive = try await Self.rows(database, """
                WITH e AS (
                    SELECT \(Self.utcDay) AS day, service::text AS service, user_id FROM analytics_events WHERE user_id IS NOT NULL
                    UNION ALL
                    SELECT \(Self.utcDay), '*', user_id FROM analytics_events WHERE user_id IS NOT NULL
                ), d AS (
                    SELECT generate_series(DATE '\(from.dateString)', DATE '\(to.dateString)' - 1, interval '1 day')::date AS day
                )
                SELECT \(Self.micros(day: "d.day")), e.service,
                       count(DISTINCT e.user_id) FILTER (WHERE e.day = d.day)::int8,
                       count(DISTINCT e.user_id) FILTER (WHERE e.day > d.day - 7)::int8,
                       count(DISTINCT e.user_id)::int8
                FROM d JOIN e ON e.day > d.day - 30 AND e.day <= d.day
                GROUP BY d.day, e.service ORDER BY d.day, e.service COLLATE "C"
                """) { row in
                let (day, service, dau, wau, mau) = try row.decode((Int64, String, Int, Int, Int).self)
                return ActiveUsersRow(day: Self.time(day), service: service, dau: dau, wau: wau, mau: mau)
            }
            #expect(expectedActive.count >= Self.days * 2)
            #expect(try await aggregates.activeUsers(from: from, to: to, service: nil) == expectedActive)

            // Task stats per day and service; percentiles by percentile_cont.
            let expectedTasks = try await Self.rows(database, """
                SELECT \(Self.micros(day: Self.utcDay)), service::text,
                       count(*) FILTER (WHERE event_type = 'task_created'), count(*) FILTER (WHERE event_type = 'task_started'),
                       count(*) FILTER (WHERE event_type = 'task_completed'), count(*) FILTER (WHERE event_type = 'task_failed'),
                       count(*) FILTER (WHERE event_type = 'task_cancelled'),
                       count(*) FILTER (WHERE event_type = 'task_completed')::float8
                           / nullif(count(*) FILTER (WHERE event_type IN ('task_completed', 'task_failed')), 0),
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY (p->>'duration_ms')::float8) FILTER (WHERE event_type = 'task_completed'),
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY (p->>'duration_ms')::float8) FILTER (WHERE event_type = 'task_completed'),
                       count(p->'duration_ms') FILTER (WHERE event_type = 'task_completed')
                \(Self.properties)
                WHERE event_type IN ('task_created', 'task_started', 'task_completed', 'task_failed', 'task_cancelled')
                GROUP BY 1, 2 ORDER BY 1, service::text COLLATE "C"
                """) { row in
                let (day, service, created, started, completed, failed, cancelled, rate, p50, p95, durations) = try row.decode(
                    (Int64, String, Int, Int, Int, Int, Int, Double?, Double?, Double?, Int).self)
                var r = TaskStatsRow(day: Self.time(day), service: service)
                r.created = created; r.started = started; r.completed = completed; r.failed = failed; r.cancelled = cancelled
                r.successRate = rate; r.durationP50 = p50; r.durationP95 = p95
                return (r, durations)
            }
            let tasks = try await aggregates.taskStats(from: from, to: to, service: nil)
            #expect(!tasks.isEmpty)
            #expect(tasks.map(\.durationSketch.count) == expectedTasks.map { UInt64($0.1) })
            #expect(tasks.map(Self.withoutSketch) == expectedTasks.map(\.0))

            // API latency per hour, service, method and route.
            let expectedAPI = try await Self.rows(database, """
                SELECT \(Self.micros(time: Self.utcHour)), service::text, p->>'method', p->>'route', count(*),
                       count(*) FILTER (WHERE (p->>'status_code')::int BETWEEN 400 AND 499),
                       count(*) FILTER (WHERE (p->>'status_code')::int >= 500),
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY (p->>'duration_ms')::float8),
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY (p->>'duration_ms')::float8),
                       percentile_cont(0.99) WITHIN GROUP (ORDER BY (p->>'duration_ms')::float8),
                       max((p->>'duration_ms')::float8), count(p->'duration_ms')
                \(Self.properties)
                WHERE event_type = 'api_request'
                GROUP BY 1, 2, 3, 4 ORDER BY 1, service::text COLLATE "C", (p->>'method') COLLATE "C", (p->>'route') COLLATE "C"
                """) { row in
                let (hour, service, method, route, requests, e4, e5, p50, p95, p99, max, latencies) = try row.decode(
                    (Int64, String, String, String, Int, Int, Int, Double?, Double?, Double?, Double?, Int).self)
                var r = APILatencyRow(hour: Self.time(hour), service: service, method: method, route: route)
                r.requests = requests; r.errors4xx = e4; r.errors5xx = e5
                r.latencyP50 = p50; r.latencyP95 = p95; r.latencyP99 = p99; r.latencyMax = max
                return (r, latencies)
            }
            let api = try await aggregates.apiLatency(from: from, to: to, service: nil)
            #expect(api.count > 100)
            #expect(api.map(\.latencySketch.count) == expectedAPI.map { UInt64($0.1) })
            #expect(api.map(\.latencySketch.max) == expectedAPI.map { $0.0.latencyMax ?? 0 })
            #expect(api.map(Self.withoutSketch) == expectedAPI.map(\.0))

            // Integration health per day and provider.
            let expectedIntegrations = try await Self.rows(database, """
                SELECT \(Self.micros(day: Self.utcDay)), p->>'provider',
                       count(*) FILTER (WHERE event_type = 'integration_connected'),
                       count(*) FILTER (WHERE event_type = 'integration_disconnected'),
                       count(*) FILTER (WHERE event_type = 'integration_used'),
                       count(*) FILTER (WHERE event_type = 'integration_error'),
                       count(*) FILTER (WHERE event_type = 'oauth_flow_started'),
                       count(*) FILTER (WHERE event_type = 'oauth_flow_completed'),
                       count(*) FILTER (WHERE event_type = 'integration_error')::float8
                           / nullif(count(*) FILTER (WHERE event_type IN ('integration_used', 'integration_error')), 0)
                \(Self.properties)
                WHERE event_type IN ('integration_connected', 'integration_disconnected', 'integration_used', 'integration_error',
                                     'oauth_flow_started', 'oauth_flow_completed')
                GROUP BY 1, 2 ORDER BY 1, (p->>'provider') COLLATE "C"
                """) { row in
                let (day, provider, connected, disconnected, used, errors, started, completed, rate) = try row.decode(
                    (Int64, String, Int, Int, Int, Int, Int, Int, Double?).self)
                var r = IntegrationHealthRow(day: Self.time(day), provider: provider)
                r.connected = connected; r.disconnected = disconnected; r.used = used; r.errors = errors
                r.oauthStarted = started; r.oauthCompleted = completed; r.errorRate = rate
                return r
            }
            #expect(!expectedIntegrations.isEmpty)
            #expect(try await aggregates.integrationHealth(from: from, to: to, provider: nil) == expectedIntegrations)

            // Auth per day and service.
            let expectedAuth = try await Self.rows(database, """
                SELECT \(Self.micros(day: Self.utcDay)), service::text,
                       count(*) FILTER (WHERE event_type = 'auth_login_attempt'),
                       count(*) FILTER (WHERE event_type = 'auth_login_attempt' AND (p->>'success')::bool),
                       count(*) FILTER (WHERE event_type = 'auth_login_attempt' AND (p->>'success')::bool IS NOT TRUE),
                       count(*) FILTER (WHERE event_type = 'auth_code_verified'),
                       count(*) FILTER (WHERE event_type = 'auth_token_refresh'),
                       count(*) FILTER (WHERE event_type = 'auth_session_validated'),
                       count(*) FILTER (WHERE event_type = 'auth_logout')
                \(Self.properties)
                WHERE event_type IN ('auth_login_attempt', 'auth_code_verified', 'auth_token_refresh', 'auth_session_validated', 'auth_logout')
                GROUP BY 1, 2 ORDER BY 1, service::text COLLATE "C"
                """) { row in
                let (day, service, attempts, successes, failures, codes, refreshes, validated, logouts) = try row.decode(
                    (Int64, String, Int, Int, Int, Int, Int, Int, Int).self)
                var r = AuthEventsRow(day: Self.time(day), service: service)
                r.loginAttempts = attempts; r.loginSuccesses = successes; r.loginFailures = failures; r.codesVerified = codes
                r.tokenRefreshes = refreshes; r.sessionsValidated = validated; r.logouts = logouts
                return r
            }
            #expect(!expectedAuth.isEmpty)
            #expect(try await aggregates.authEvents(from: from, to: to, service: nil) == expectedAuth)

            // Cocoon activity per day.
            let expectedCocoons = try await Self.rows(database, """
                SELECT \(Self.micros(day: Self.utcDay)),
                       count(*) FILTER (WHERE event_type = 'cocoon_registered'), count(*) FILTER (WHERE event_type = 'cocoon_connected'),
                       count(*) FILTER (WHERE event_type = 'cocoon_disconnected'), count(*) FILTER (WHERE event_type = 'cocoon_claimed'),
                       count(*) FILTER (WHERE event_type = 'cocoon_setup_token_created'),
                       count(*) FILTER (WHERE event_type = 'cocoon_setup_token_used'),
                       count(DISTINCT p->>'cocoon_id')
                \(Self.properties)
                WHERE event_type IN ('cocoon_registered', 'cocoon_connected', 'cocoon_disconnected', 'cocoon_claimed',
                                     'cocoon_setup_token_created', 'cocoon_setup_token_used')
                GROUP BY 1 ORDER BY 1
                """) { row in
                let (day, registered, connected, disconnected, claimed, created, used, active) = try row.decode(
                    (Int64, Int, Int, Int, Int, Int, Int, Int).self)
                var r = CocoonActivityRow(day: Self.time(day))
                r.registered = registered; r.connected = connected; r.disconnected = disconnected; r.claimed = claimed
                r.setupTokensCreated = created; r.setupTokensUsed = used; r.activeCocoons = active
                return r
            }
            #expect(expectedCocoons.count > Self.days / 2)
            #expect(try await aggregates.cocoonActivity(from: from, to: to) == expectedCocoons)

            // Errors per hour, service and type.
            let expectedErrors = try await Self.rows(database, """
                SELECT \(Self.micros(time: "hour")), service, error_type, count(*) FROM (
                    SELECT \(Self.utcHour) AS hour, service::text AS service,
                           CASE event_type
                               WHEN 'application_error' THEN coalesce(p->>'error_type', 'unknown')
                               WHEN 'api_request' THEN CASE WHEN (p->>'status_code')::int >= 500 THEN 'http_5xx' END
                               WHEN 'task_failed' THEN 'task_failed'
                               WHEN 'integration_error' THEN 'integration_error'
                           END AS error_type
                    \(Self.properties)
                ) AS typed
                WHERE error_type IS NOT NULL
                GROUP BY hour, service, error_type ORDER BY hour, service COLLATE "C", error_type COLLATE "C"
                """) { row in
                let (hour, service, type, errors) = try row.decode((Int64, String, String, Int).self)
                return ErrorsRow(hour: Self.time(hour), service: service, errorType: type, errors: errors)
            }
            #expect(!expectedErrors.isEmpty)
            #expect(try await aggregates.errors(from: from, to: to, service: nil) == expectedErrors)
        }
    }

    static func withoutSketch(_ row: TaskStatsRow) -> TaskStatsRow {
        var row = row
        row.durationSketch = QuantileSketch()
        return row
    }

    static func withoutSketch(_ row: APILatencyRow) -> APILatencyRow {
        var row = row
        row.latencySketch = QuantileSketch()
        return row
    }

    @Test("a refresh on a pool of one connection (the reads in turn) writes the same rows as on two (the reads at once)")
    func refreshOnOneConnection() async throws {
        try await TestPostgres.withMigratedDatabase { database async throws in
            try await Self.load(database)
            let (from, to) = (Self.from, Self.to)
            @Sendable func rows(_ store: PostgresAggregateStore) async throws -> ([TaskStatsRow], [APILatencyRow], [IntegrationHealthRow],
                                                                        [AuthEventsRow], [CocoonActivityRow], [ErrorsRow], [ActiveUsersRow]) {
                (try await store.taskStats(from: from, to: to, service: nil), try await store.apiLatency(from: from, to: to, service: nil),
                 try await store.integrationHealth(from: from, to: to, provider: nil), try await store.authEvents(from: from, to: to, service: nil),
                 try await store.cocoonActivity(from: from, to: to), try await store.errors(from: from, to: to, service: nil),
                 try await store.activeUsers(from: from, to: to, service: nil))
            }
            let onTwo = try await rows(PostgresAggregateStore(database: database))
            #expect(!onTwo.0.isEmpty && !onTwo.1.isEmpty && !onTwo.5.isEmpty && !onTwo.6.isEmpty)

            // Emptied first, so rows the second refresh failed to write would show.
            try await database.execute("""
                TRUNCATE analytics_daily_users, analytics_daily_active_users, analytics_task_stats_daily, analytics_api_latency_hourly,
                         analytics_integration_health_daily, analytics_auth_events_daily, analytics_cocoon_activity_daily,
                         analytics_errors_hourly
                """)
            var single = database.configuration
            single.maximumConnections = 1
            let onOne = try await PostgresPool.withRunning(single, logger: TestPostgres.logger) { pool in
                let store = PostgresAggregateStore(database: pool)
                try await AggregateRefresher(store: store).refresh(from: from, to: Self.end, now: Self.end)
                return try await rows(store)
            }
            #expect(onOne.0 == onTwo.0)
            #expect(onOne.1 == onTwo.1)
            #expect(onOne.2 == onTwo.2)
            #expect(onOne.3 == onTwo.3)
            #expect(onOne.4 == onTwo.4)
            #expect(onOne.5 == onTwo.5)
            #expect(onOne.6 == onTwo.6)
        }
    }

    /// What the lifecycle job does when it creates a day's partition: an `ACCESS
    /// EXCLUSIVE` lock on the default partition, where a past day's events wait.
    /// Locked again and again while a refresh reads that day on two connections:
    /// a lock request queued between the two connections' own requests used to
    /// leave all three waiting for each other, out of the server's sight.
    @Test("a refresh on two connections and the lifecycle job locking the default partition never wait for each other",
          .timeLimit(.minutes(10)))
    func refreshBesideExclusiveLocks() async throws {
        try await TestPostgres.withMigratedDatabase { database async throws in
            var configuration = DemoTraffic.Configuration(end: Self.end)
            configuration.users = 30
            configuration.days = 1
            let events = DemoTraffic(configuration: configuration).events(forDay: 0)
            #expect(try await PostgresEventStore(database: database).write(events) == events.count)
            let day = Self.end.startOfDay
            let ofTheDay = events.filter { $0.timestamp.startOfDay == day }.count
            // No partition for a day in the past: its events wait in the default one.
            let waiting = try await database.query("SELECT count(*)::int8 FROM analytics_events_default") { try $0.decode(Int.self) }
            #expect(waiting == [events.count])
            let store = PostgresAggregateStore(database: database)
            for round in 1...20 {
                let refreshed = Flag()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        defer { refreshed.value.store(true, ordering: .relaxed) }
                        let refreshedEvents = try await store.refreshDay(day)
                        #expect(refreshedEvents == ofTheDay)
                    }
                    group.addTask {
                        while !refreshed.value.load(ordering: .relaxed) {
                            do {
                                // The timeout breaks the wait if it is a deadlock, so
                                // the test fails instead of hanging.
                                try await database.execute("""
                                    DO $$ BEGIN
                                        PERFORM set_config('lock_timeout', '15s', true);
                                        LOCK TABLE analytics_events_default IN ACCESS EXCLUSIVE MODE;
                                    END $$
                                    """)
                            } catch let error as PostgresStoreError where error.sqlState == "55P03" {
                                Issue.record("round \(round): a lock on the default partition waited 15 s for a refresh of a few hundred events")
                                return
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }

            // The lifecycle job itself moving the day into a partition of its own
            // beside a refresh: the refresh reads the whole day, before or after.
            async let moved = PartitionLifecycle(database: database, mode: .partitioned).runOnce(now: Self.end)
            let refreshedEvents = try await store.refreshDay(day)
            #expect(try await moved.movedFromDefault == events.count)
            #expect(refreshedEvents == ofTheDay)
            let rows = try await store.apiLatency(from: day, to: day.adding(days: 1), service: nil)
            #expect(rows.reduce(0) { $0 + $1.requests } == events.filter { $0.name == "api_request" && $0.timestamp.startOfDay == day }.count)
        }
    }

    @Test("a late event for a bucket 10 days old marks its day dirty, and the next refresh counts it")
    func lateEventMarksItsDayDirty() async throws {
        try await TestPostgres.withMigratedDatabase { database async throws in
            let (store, refresher, _) = try await Self.load(database)
            let aggregates = PostgresAggregateStore(database: database)
            let now = Self.end
            let oldDay = now.startOfDay.adding(days: -10)
            #expect(try await aggregates.taskStats(from: oldDay, to: oldDay.adding(days: 1), service: "late-service").isEmpty)
            _ = try await refresher.refreshDue(now: now)  // clears the marks of the initial load
            #expect(try await aggregates.dirtyDays().isEmpty)

            let late = CatalogueExamples.event(.taskCreated(taskID: "t_late", command: "build"), at: oldDay.adding(microseconds: 3_600_000_000),
                                               receivedAt: now, service: "late-service")
            try await store.write([late])
            #expect(try await aggregates.dirtyDays().map(\.day) == [oldDay])

            let report = try await refresher.refreshDue(now: now)
            #expect(report.days.contains(oldDay))
            let after = try await aggregates.taskStats(from: oldDay, to: oldDay.adding(days: 1), service: "late-service")
            #expect(after.map(\.created) == [1])
            #expect(try await aggregates.dirtyDays().isEmpty)
        }
    }

    @Test("a mark made after a refresh read the marks survives that refresh's clearing")
    func newerMarkSurvivesClearing() async throws {
        try await TestPostgres.withMigratedDatabase { database async throws in
            let aggregates = PostgresAggregateStore(database: database)
            let day = Self.end.startOfDay
            try await aggregates.markDirty(days: [day, day.adding(days: -1)])
            let seen = try await aggregates.dirtyDays()
            #expect(seen.map(\.day) == [day.adding(days: -1), day])
            // Another write marks `day` again between the refresh's read and its clearing.
            try await aggregates.markDirty(days: [day])
            try await aggregates.clearDirty(seen)
            #expect(try await aggregates.dirtyDays().map(\.day) == [day])
        }
    }

    @Test("erasing a user marks their days dirty, and the next refresh removes them from the aggregates")
    func eraseRecomputes() async throws {
        try await TestPostgres.withMigratedDatabase { database async throws in
            let (store, refresher, raw) = try await Self.load(database)
            let aggregates = PostgresAggregateStore(database: database)
            _ = try await refresher.refreshDue(now: Self.end)
            let user = try #require(raw.first { $0.userID != nil && $0.service == "api" }?.userID)
            let theirDays = Set(raw.filter { $0.userID == user || $0.anonymousID == user }.map(\.timestamp.startOfDay))
            let activeDays = Set(raw.filter { $0.userID == user }.map(\.timestamp.startOfDay))
            let before = try await aggregates.activeUsers(from: Self.from, to: Self.to, service: ActiveUsersRow.allServices)

            let erasure = try await store.eraseUser(user)
            #expect(erasure.days == theirDays.sorted())
            #expect(try await aggregates.dirtyDays().map(\.day) == theirDays.sorted())
            try await refresher.refreshDue(now: Self.end)

            let after = try await aggregates.activeUsers(from: Self.from, to: Self.to, service: ActiveUsersRow.allServices)
            #expect(after.map(\.day) == before.map(\.day))
            for (old, new) in zip(before, after) {
                #expect(new.dau == old.dau - (activeDays.contains(old.day) ? 1 : 0), "\(old.day.dateString)")
            }
            #expect(try await aggregates.dirtyDays().isEmpty)
        }
    }
}

private final class Flag: Sendable {
    let value = Atomic<Bool>(false)
}
