import Logging
import PostgresNIO
import Tally

extension PostgresAggregateStore {
    /// One day's refresh done by the server: the counters and the distinct users
    /// are computed in SQL, each from only the event types it reads (the
    /// `(event_type, timestamp)` index); Swift receives a few hundred rows and each
    /// bucket's durations as one `float8[]`, and the rows derive their exact
    /// percentiles (as `percentile_cont`) and sketches with the same `summarize`
    /// calls as ``DayAggregates``. Ordered-set aggregates would make the
    /// server sort every bucket's rows a second time, and it already sends the
    /// durations. The JSON typing rules are those of ``factsSQL``.
    ///
    /// The reads run on two connections at once when the pool can spare them: one
    /// writes the day's user sets (a pass over every event of the day) and counts
    /// tasks and auth, the other reads the API, integration, cocoon and error
    /// buckets. Each statement runs on one core, so the day takes about the
    /// longer of the two halves instead of their sum.
    ///
    /// All the reads see one snapshot (`REPEATABLE READ`, exported by the writing
    /// transaction to the reading one), taken after the refresh lock is held, so a
    /// refresh that waited for another one still sees its rows.
    ///
    /// The writing transaction locks the events (every partition, `ACCESS SHARE`)
    /// before its snapshot is taken: otherwise the lifecycle job could move the
    /// day out of the default partition into a new one between the snapshot and a
    /// read, which would then be planned against the new partition, whose rows
    /// that snapshot does not see, and find the day empty.
    ///
    /// The reading transaction takes the same lock without waiting, or the day is
    /// read on the writer alone; and it ends as soon as its reads do. A reader
    /// that queued for it could deadlock out of the server's sight: the writer
    /// holds its lock and waits, in Swift, for the reader; an `ACCESS EXCLUSIVE`
    /// request (the lifecycle job) queues behind the writer; the reader's request
    /// queues behind that. `tally serve` hung so at start, with late events.
    public func refreshDay(_ day: Timestamp) async throws -> Int {
        let reads = DayReads(day: day.startOfDay, database: database.displayName, logger: database.logger)
        // Both connections are leased before the refresh lock is taken, so a
        // refresh waiting for the lock never holds one the holder still needs.
        return try await database.withConnectionPair { writer, reader in
            try await Self.refresh(reads, writer: writer, reader: reader)
        }
    }

    /// The hour of a timestamp, in UTC whatever the session's time zone.
    static let hourSQL = "date_bin('1 hour', timestamp, TIMESTAMPTZ '2000-01-01 00:00:00+00')"

    /// Holds the refresh lock on `writer` around one transaction that reads the
    /// day (half of it on `reader`, if given) and replaces its rows.
    private static func refresh(_ reads: DayReads, writer: PostgresConnection, reader: PostgresConnection?) async throws -> Int {
        let logger = reads.logger
        try await writer.exec("SELECT pg_advisory_lock(\(Self.refreshLockKey))", logger: logger)
        do {
            try await writer.exec("BEGIN ISOLATION LEVEL REPEATABLE READ", logger: logger)
            do {
                // The hash aggregates and the sorted user sets fit in memory (a few MB per 100k events).
                try await writer.exec("SET LOCAL work_mem = '64MB'", logger: logger)
                // Before the first statement that takes the snapshot (see above).
                try await writer.exec(PostgresQuery(unsafeSQL: Self.lockEventsSQL), logger: logger)
                let events = try await computeAndWrite(reads, writer: writer, reader: reader)
                try await writer.exec("COMMIT", logger: logger)
                try await writer.exec("SELECT pg_advisory_unlock(\(Self.refreshLockKey))", logger: logger)
                return events
            } catch {
                try? await writer.exec("ROLLBACK", logger: logger)
                throw error
            }
        } catch {
            try? await writer.exec("SELECT pg_advisory_unlock(\(Self.refreshLockKey))", logger: logger)
            throw error
        }
    }

    private static func computeAndWrite(_ reads: DayReads, writer: PostgresConnection, reader: PostgresConnection?) async throws -> Int {
        let logger = reads.logger
        var aggregates = DayAggregates(day: reads.day)
        let events: Int
        let serviceCounts: [DayReads.ServiceCounts]
        let requestSide: DayReads.RequestSide
        if let reader, try await beginReading(reads, on: reader, snapshotOf: writer) {
            async let otherHalf = reads.requestSideEndingTransaction(on: reader)
            var writerHalf: Result<(Int, [DayReads.ServiceCounts]), any Error>
            do {
                writerHalf = .success((
                    try await writeDailyUsers(day: reads.day, users: .fromEvents, on: writer, logger: logger),
                    try await reads.serviceCounts(on: writer)))
            } catch {
                writerHalf = .failure(error)
            }
            // Both halves are awaited before either error is thrown, so the reader
            // goes back to the pool idle, its read-only transaction ended.
            let readerHalf = await otherHalf
            (events, serviceCounts) = try writerHalf.get()
            requestSide = try readerHalf.get()
        } else {
            events = try await writeDailyUsers(day: reads.day, users: .fromEvents, on: writer, logger: logger)
            serviceCounts = try await reads.serviceCounts(on: writer)
            requestSide = try await reads.requestSide(on: writer)
        }

        aggregates.taskStats = serviceCounts.compactMap(\.tasks).sorted { $0.service < $1.service }
        aggregates.authEvents = serviceCounts.compactMap(\.auth).sorted { $0.service < $1.service }
        aggregates.apiLatency = requestSide.apiLatency
        aggregates.integrationHealth = requestSide.integrationHealth
        aggregates.cocoonActivity = requestSide.cocoonActivity
        // Errors: failed tasks, integration errors and application errors counted
        // in SQL; 5xx responses from the API rows, which counted them.
        var errors = requestSide.errors
        for r in aggregates.apiLatency where r.errors5xx > 0 {
            errors[DayReads.ErrorKey(hour: r.hour, service: r.service, type: "http_5xx"), default: 0] += r.errors5xx
        }
        aggregates.errors = errors.map { ErrorsRow(hour: $0.key.hour, service: $0.key.service, errorType: $0.key.type, errors: $0.value) }
            .sorted { ($0.hour, $0.service, $0.errorType) < ($1.hour, $1.service, $1.errorType) }

        try await writeCounters(aggregates, on: writer, logger: logger)
        return events
    }

    /// Every partition of the events, against a move or a drop while the day is read.
    private static let lockEventsSQL = "LOCK TABLE analytics_events IN ACCESS SHARE MODE"

    /// Opens the reading transaction on `writer`'s snapshot, holding the events'
    /// lock. `false` (the transaction ended) when the lock was not free at once:
    /// someone queued for an exclusive lock behind the writer's, and waiting
    /// behind them could deadlock (see ``refreshDay(_:)``).
    private static func beginReading(_ reads: DayReads, on reader: PostgresConnection, snapshotOf writer: PostgresConnection) async throws -> Bool {
        let logger = reads.logger
        try await reader.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
        do {
            try await reader.exec(try await exportedSnapshot(of: writer, database: reads.database, logger: logger), logger: logger)
            try await reader.exec("SET LOCAL work_mem = '64MB'", logger: logger)
            // Indexes are locked as the reads use them; should an operator's REINDEX
            // queue there, the reader fails after this rather than wait for ever.
            try await reader.exec("SET LOCAL lock_timeout = '30s'", logger: logger)
            try await reader.exec(PostgresQuery(unsafeSQL: lockEventsSQL + " NOWAIT"), logger: logger)
            return true
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "55P03" {
            try? await reader.exec("ROLLBACK", logger: logger)
            return false
        } catch {
            try? await reader.exec("ROLLBACK", logger: logger)
            throw error
        }
    }

    /// `SET TRANSACTION SNAPSHOT` with the snapshot of `connection`'s transaction,
    /// which must stay open until the importing transaction has run it.
    private static func exportedSnapshot(of connection: PostgresConnection, database: String, logger: Logger) async throws -> PostgresQuery {
        let id = try await connection.rows("SELECT pg_export_snapshot()", logger: logger) { try $0.decode(String.self) }.first ?? ""
        // An identifier like 00000003-0000001B-1; SET takes no bind parameters.
        guard !id.isEmpty, id.allSatisfy({ $0 == "-" || $0.isHexDigit }) else {
            throw PostgresStoreError(code: .failed, database: database,
                                     message: "the server exported a snapshot id Tally does not recognise (\(id)); run the refresh again")
        }
        return PostgresQuery(unsafeSQL: "SET TRANSACTION SNAPSHOT '\(id)'")
    }
}

/// The statements that read one day's events for a refresh, each on the
/// connection it is given: the days `[day, day + 1)` are its two bind parameters.
private struct DayReads: Sendable {
    let day: Timestamp
    /// The database's display name, for errors.
    let database: String
    let logger: Logger

    private var range: String { "timestamp >= $1 AND timestamp < $2" }
    private var hourSQL: String { PostgresAggregateStore.hourSQL }

    private func rows<Row>(on connection: PostgresConnection, _ sql: String, _ decoding: (PostgresRow) throws -> Row) async throws -> [Row] {
        var binds = PostgresBindings(capacity: 2)
        binds.append(PostgresTimestamp(day))
        binds.append(PostgresTimestamp(day.adding(days: 1)))
        return try await connection.rows(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger, decoding)
    }

    struct ServiceCounts { var tasks: TaskStatsRow?, auth: AuthEventsRow? }

    /// Tasks and auth in one pass: both count by service, and their events
    /// share the pages of the day (one bitmap heap scan instead of two).
    func serviceCounts(on connection: PostgresConnection) async throws -> [ServiceCounts] {
        try await rows(on: connection, """
            SELECT service::text,
                   count(*) FILTER (WHERE event_type = 'task_created'), count(*) FILTER (WHERE event_type = 'task_started'),
                   count(*) FILTER (WHERE event_type = 'task_completed'), count(*) FILTER (WHERE event_type = 'task_failed'),
                   count(*) FILTER (WHERE event_type = 'task_cancelled'),
                   coalesce(array_agg(d) FILTER (WHERE d IS NOT NULL), '{}'),
                   count(*) FILTER (WHERE event_type = 'auth_login_attempt'),
                   count(*) FILTER (WHERE success),
                   count(*) FILTER (WHERE event_type = 'auth_code_verified'), count(*) FILTER (WHERE event_type = 'auth_token_refresh'),
                   count(*) FILTER (WHERE event_type = 'auth_session_validated'), count(*) FILTER (WHERE event_type = 'auth_logout')
            FROM (SELECT service, event_type,
                         CASE WHEN event_type = 'task_completed' AND jsonb_typeof(data #> '{properties,duration_ms}') = 'number'
                              THEN (data #>> '{properties,duration_ms}')::float8 END AS d,
                         CASE WHEN event_type = 'auth_login_attempt' AND jsonb_typeof(data #> '{properties,success}') = 'boolean'
                              THEN (data #>> '{properties,success}')::bool END AS success
                  FROM analytics_events
                  WHERE \(range) AND event_type IN ('task_created', 'task_started', 'task_completed', 'task_failed', 'task_cancelled',
                                                    'auth_login_attempt', 'auth_code_verified', 'auth_token_refresh',
                                                    'auth_session_validated', 'auth_logout')
                  OFFSET 0) AS t
            GROUP BY service
            """) { row -> ServiceCounts in
            let (service, created, started, completed, failed, cancelled, durations,
                 attempts, successes, codes, refreshes, validated, logouts) = try row.decode(
                (String, Int, Int, Int, Int, Int, [Double], Int, Int, Int, Int, Int, Int).self)
            var counts = ServiceCounts()
            if created + started + completed + failed + cancelled > 0 {
                var r = TaskStatsRow(day: day, service: service)
                r.created = created; r.started = started; r.completed = completed; r.failed = failed; r.cancelled = cancelled
                r.summarize(durations: durations)
                counts.tasks = r
            }
            if attempts + codes + refreshes + validated + logouts > 0 {
                var r = AuthEventsRow(day: day, service: service)
                r.loginAttempts = attempts; r.loginSuccesses = successes; r.loginFailures = attempts - successes
                r.codesVerified = codes; r.tokenRefreshes = refreshes; r.sessionsValidated = validated; r.logouts = logouts
                counts.auth = r
            }
            return counts
        }
    }

    struct ErrorKey: Hashable { let hour: Timestamp, service: String, type: String }

    /// The buckets of the API, integration, cocoon and error aggregates (5xx
    /// responses not yet counted among the errors).
    struct RequestSide {
        var apiLatency: [APILatencyRow]
        var integrationHealth: [IntegrationHealthRow]
        var cocoonActivity: CocoonActivityRow?
        var errors: [ErrorKey: Int]
    }

    func requestSide(on connection: PostgresConnection) async throws -> RequestSide {
        RequestSide(apiLatency: try await apiLatency(on: connection), integrationHealth: try await integrationHealth(on: connection),
                    cocoonActivity: try await cocoonActivity(on: connection), errors: try await errorCounts(on: connection))
    }

    /// ``requestSide(on:)`` in the connection's open transaction, which it then
    /// ends (rolls back: it only read), whether the reads succeeded or not.
    func requestSideEndingTransaction(on connection: PostgresConnection) async -> Result<RequestSide, any Error> {
        let result: Result<RequestSide, any Error>
        do { result = .success(try await requestSide(on: connection)) } catch { result = .failure(error) }
        try? await connection.exec("ROLLBACK", logger: logger)
        return result
    }

    func apiLatency(on connection: PostgresConnection) async throws -> [APILatencyRow] {
        // A hash aggregate: with the JSON filters the planner expects thousands of
        // buckets, picks a sort of every request by four keys (or a parallel scan
        // of the whole day), and takes half as long again. The properties are
        // read once per event (`p`), each property's type checked on its value.
        try await connection.exec("SET LOCAL enable_sort = off", logger: logger)
        let buckets = try await rows(on: connection, """
            SELECT hour, service, method, route, count(*),
                   count(*) FILTER (WHERE status BETWEEN 400 AND 499), count(*) FILTER (WHERE status >= 500),
                   coalesce(array_agg(d) FILTER (WHERE d IS NOT NULL), '{}')
            FROM (SELECT \(hourSQL) AS hour, service::text AS service,
                         CASE WHEN jsonb_typeof(p->'method') = 'string' THEN p->>'method' END AS method,
                         CASE WHEN jsonb_typeof(p->'route') = 'string' THEN p->>'route' END AS route,
                         CASE WHEN jsonb_typeof(p->'status_code') = 'number'
                                   AND strpos(p->>'status_code', '.') = 0 AND length(p->>'status_code') <= 18
                              THEN (p->>'status_code')::int8 END AS status,
                         CASE WHEN jsonb_typeof(p->'duration_ms') = 'number' THEN (p->>'duration_ms')::float8 END AS d
                  FROM analytics_events, LATERAL (SELECT data->'properties' AS p) AS properties
                  WHERE \(range) AND event_type = 'api_request'
                  OFFSET 0) AS a
            WHERE method IS NOT NULL AND route IS NOT NULL
            GROUP BY 1, 2, 3, 4
            """) { row in
            let (hour, service, method, route, requests, e4, e5, durations) = try row.decode(
                (PostgresTimestamp, String, String, String, Int, Int, Int, [Double]).self)
            var r = APILatencyRow(hour: hour.timestamp, service: service, method: method, route: route)
            r.requests = requests; r.errors4xx = e4; r.errors5xx = e5
            r.summarize(latencies: durations)
            return r
        }.sorted { ($0.hour, $0.service, $0.method, $0.route) < ($1.hour, $1.service, $1.method, $1.route) }
        try await connection.exec("SET LOCAL enable_sort TO DEFAULT", logger: logger)
        return buckets
    }

    func integrationHealth(on connection: PostgresConnection) async throws -> [IntegrationHealthRow] {
        try await rows(on: connection, """
            SELECT provider,
                   count(*) FILTER (WHERE event_type = 'integration_connected'), count(*) FILTER (WHERE event_type = 'integration_disconnected'),
                   count(*) FILTER (WHERE event_type = 'integration_used'), count(*) FILTER (WHERE event_type = 'integration_error'),
                   count(*) FILTER (WHERE event_type = 'oauth_flow_started'), count(*) FILTER (WHERE event_type = 'oauth_flow_completed')
            FROM (SELECT event_type, data #>> '{properties,provider}' AS provider
                  FROM analytics_events
                  WHERE \(range) AND event_type IN ('integration_connected', 'integration_disconnected', 'integration_used',
                                                    'integration_error', 'oauth_flow_started', 'oauth_flow_completed')
                        AND jsonb_typeof(data #> '{properties,provider}') = 'string') AS i
            GROUP BY provider
            """) { row in
            let (provider, connected, disconnected, used, errors, started, completed) = try row.decode(
                (String, Int, Int, Int, Int, Int, Int).self)
            var r = IntegrationHealthRow(day: day, provider: provider)
            r.connected = connected; r.disconnected = disconnected; r.used = used; r.errors = errors
            r.oauthStarted = started; r.oauthCompleted = completed
            r.summarize()
            return r
        }.sorted { $0.provider < $1.provider }
    }

    func cocoonActivity(on connection: PostgresConnection) async throws -> CocoonActivityRow? {
        try await rows(on: connection, """
            SELECT count(*) FILTER (WHERE event_type = 'cocoon_registered'), count(*) FILTER (WHERE event_type = 'cocoon_connected'),
                   count(*) FILTER (WHERE event_type = 'cocoon_disconnected'), count(*) FILTER (WHERE event_type = 'cocoon_claimed'),
                   count(*) FILTER (WHERE event_type = 'cocoon_setup_token_created'),
                   count(*) FILTER (WHERE event_type = 'cocoon_setup_token_used'), count(DISTINCT cocoon)
            FROM (SELECT event_type,
                         CASE WHEN jsonb_typeof(data #> '{properties,cocoon_id}') = 'string' THEN data #>> '{properties,cocoon_id}' END AS cocoon
                  FROM analytics_events
                  WHERE \(range) AND event_type IN ('cocoon_registered', 'cocoon_connected', 'cocoon_disconnected', 'cocoon_claimed',
                                                    'cocoon_setup_token_created', 'cocoon_setup_token_used')) AS c
            HAVING count(*) > 0
            """) { row in
            let (registered, connected, disconnected, claimed, created, used, active) = try row.decode(
                (Int, Int, Int, Int, Int, Int, Int).self)
            var r = CocoonActivityRow(day: day)
            r.registered = registered; r.connected = connected; r.disconnected = disconnected; r.claimed = claimed
            r.setupTokensCreated = created; r.setupTokensUsed = used; r.activeCocoons = active
            return r
        }.first
    }

    /// Failed tasks, integration errors (with a provider, as the integration
    /// aggregate counts them) and application errors, by hour, service and type.
    func errorCounts(on connection: PostgresConnection) async throws -> [ErrorKey: Int] {
        var errors: [ErrorKey: Int] = [:]
        for (key, n) in try await rows(on: connection, """
            SELECT \(hourSQL), service::text,
                   CASE WHEN event_type = 'application_error'
                        THEN coalesce(CASE WHEN jsonb_typeof(data #> '{properties,error_type}') = 'string'
                                           THEN data #>> '{properties,error_type}' END, 'unknown')
                        ELSE event_type::text END,
                   count(*)
            FROM analytics_events
            WHERE \(range) AND event_type IN ('task_failed', 'integration_error', 'application_error')
                  AND (event_type <> 'integration_error' OR jsonb_typeof(data #> '{properties,provider}') = 'string')
            GROUP BY 1, 2, 3
            """, { row -> (ErrorKey, Int) in
                let (hour, service, type, n) = try row.decode((PostgresTimestamp, String, String, Int).self)
                return (ErrorKey(hour: hour.timestamp, service: service, type: type), n)
            }) {
            errors[key, default: 0] += n
        }
        return errors
    }
}
