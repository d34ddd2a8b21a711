import Logging
import PostgresNIO
import Tally

/// `analytics_events` on PostgreSQL (daily partitions) or TimescaleDB (a hypertable).
///
/// A batch (or a group of batches) is by default one `COPY` and one statement
/// marking its days dirty for the ``AggregateRefresher``, in one transaction.
/// When the COPY meets an event already stored (a re-sent batch) it is rolled
/// back whole and sent again as one `INSERT … SELECT FROM unnest(…) ON CONFLICT
/// DO NOTHING`, each column travelling as one binary array, which marks the days
/// of the rows it inserted in the same statement; so a re-sent batch, whole or in
/// part, stores nothing twice (see ``WriteMethod``). Each batch's rows are sent in
/// (timestamp, event_id) order, so writers of overlapping batches mostly lock in
/// the same order (a deadlock between grouped writes is rolled back and retried,
/// ``retriedStates``).
///
/// The marks are written by the store, not by a trigger on the table: a trigger
/// that reads the inserted rows (a transition table) makes PostgreSQL insert a
/// COPY into a partitioned table one row at a time, which cost 15–20% of the
/// write rate (migration 0007 removed the one 0006 added; README, Performance).
///
/// ```swift
/// try await PostgresPool.withRunning(configuration) { database in
///     let store = PostgresEventStore(database: database)
///     let inserted = try await store.write(batch)
/// }
/// ```
public struct PostgresEventStore: EventStore, PreparedWriteSink {
    public let database: PostgresPool
    /// How batches are written. Defaults to ``WriteMethod/optimisticCopy``.
    public var writeMethod: WriteMethod

    public init(database: PostgresPool, writeMethod: WriteMethod = .optimisticCopy) {
        self.database = database
        self.writeMethod = writeMethod
    }

    /// Inserts the batch skipping stored events, and marks the days of the rows it
    /// inserted (none for a re-sent batch) in the same statement.
    static let insertSQL = """
        WITH inserted AS (
            INSERT INTO analytics_events
                (event_id, timestamp, received_at, event_type, service, user_id, anonymous_id, session_id, data)
            SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::text[], $5::text[],
                                 $6::text[], $7::text[], $8::text[], $9::jsonb[])
            ON CONFLICT (timestamp, event_id) DO NOTHING
            RETURNING timestamp
        ), marked AS (
            \(markDirtySQL("SELECT timestamp FROM inserted"))
        )
        SELECT count(*)::int8 FROM inserted
        """

    /// Marks the UTC days of the times `timesSQL` selects dirty. PostgreSQL runs a
    /// data-modifying `WITH` part to completion even when nothing reads it, so as a
    /// part of an insert or delete statement it commits with it or not at all: a
    /// refresh that starts after the statement sees both.
    ///
    /// A new mark always moves `marked_at` forward (by at least 1 µs), even when the
    /// clock of this transaction is behind the stored mark: a refresh clears only
    /// the marks it read (`marked_at <= …`), so events committed after that read
    /// keep their day dirty. Days are locked in order, so writers never deadlock here.
    static func markDirtySQL(_ timesSQL: String) -> String {
        """
        INSERT INTO analytics_dirty_days AS d (day, marked_at)
            SELECT DISTINCT (t AT TIME ZONE 'UTC')::date, now() FROM (\(timesSQL)) AS times(t) ORDER BY 1
            ON CONFLICT (day) DO UPDATE SET marked_at = greatest(d.marked_at + interval '1 microsecond', excluded.marked_at)
        """
    }

    @discardableResult
    public func write(_ events: [EnrichedEvent]) async throws -> Int {
        guard !events.isEmpty else { return 0 }
        return try await write(prepared: [prepare(events)])[0]
    }

    /// A batch encoded for its write method, ready to send.
    public struct PreparedBatch: Sendable {
        let events: [EnrichedEvent]
        /// `.unnest`: the insert with its nine array parameters.
        let statement: PostgresQuery?
        /// `.optimisticCopy`: the rows as COPY text, in (timestamp, event_id) order.
        let copyText: ByteBuffer?
    }

    /// Encodes the batch (the CPU half of a write) without touching the server,
    /// so a caller can encode the next batch while this one is being written.
    public func prepare(_ events: [EnrichedEvent]) -> PreparedBatch {
        switch writeMethod {
        case .unnest: PreparedBatch(events: events, statement: Self.insertQuery(events), copyText: nil)
        case .optimisticCopy: PreparedBatch(events: events, statement: nil, copyText: Self.copyText(events))
        case .copyStaging: PreparedBatch(events: events, statement: nil, copyText: nil)
        }
    }

    /// Two: while one group's commit waits for the WAL flush, the next group's
    /// rows are sent and inserted (on a pool with room for both and more); its
    /// marks then wait for that commit, as both update today's. Two groups that
    /// share an event also meet at its unique key: the later waits for the
    /// earlier to commit, then stores the rest with `ON CONFLICT`.
    public var concurrentWriteLimit: Int { database.configuration.maximumConnections >= 4 ? 2 : 1 }

    /// Writes the batches in one transaction (a single `.unnest` batch: one statement).
    public func write(prepared batches: [PreparedBatch]) async throws -> [Int] {
        var attempt = 0
        while true {
            do {
                switch writeMethod {
                case .unnest:
                    return try await insert(batches)
                case .optimisticCopy:
                    do {
                        return try await copy(batches)
                    } catch let error as PostgresStoreError where error.sqlState == "23505" {
                        // An event of the group is stored already (a re-sent batch): the
                        // COPY was rolled back whole; the statement that skips duplicates
                        // stores the rest (``insert(_:)`` encodes the statements).
                        return try await insert(batches)
                    }
                case .copyStaging:
                    var counts: [Int] = []
                    for batch in batches { counts.append(try await writeViaCopy(batch.events)) }
                    return counts
                }
            } catch let error as PostgresStoreError where Self.retriedStates.contains(error.sqlState ?? "") && attempt < 3 {
                // The server rolled the transaction back, so sending it again is safe.
                attempt += 1
            }
        }
    }

    /// The `unnest` statements: each returns how many of its rows were new.
    private func insert(_ batches: [PreparedBatch]) async throws -> [Int] {
        let statements = batches.map { $0.events.isEmpty ? nil : $0.statement ?? Self.insertQuery($0.events) }
        if statements.count == 1 {
            guard let statement = statements[0] else { return [0] }
            return [try await database.query(statement) { row in Int(try row.decode(Int64.self)) }.first ?? 0]
        }
        let logger = database.logger
        return try await database.withTransaction { connection in
            var counts: [Int] = []
            for statement in statements {
                guard let statement else { counts.append(0); continue }
                counts.append(try await connection.rows(statement, logger: logger) { row in Int(try row.decode(Int64.self)) }.first ?? 0)
            }
            return counts
        }
    }

    /// One COPY straight into `analytics_events` for the whole group, then the
    /// marks of its days, in one transaction: it commits whole or not at all. Any
    /// duplicate fails it whole (unique violation, 23505), so a COPY that succeeds
    /// inserted every row and the marks are exactly its days.
    ///
    /// The marks come after the COPY so that the lock on a day's mark (today's,
    /// for every live batch) is held only until the commit that follows.
    private func copy(_ batches: [PreparedBatch]) async throws -> [Int] {
        guard batches.contains(where: { !$0.events.isEmpty }) else { return batches.map { _ in 0 } }
        let logger = database.logger
        let days = Self.markQuery(days: Set(batches.lazy.flatMap(\.events).map(\.timestamp.startOfDay)))
        return try await database.withTransaction { connection in
            try await connection.copyFrom(table: "analytics_events", columns: Self.columns, logger: logger) { writer in
                for batch in batches where !batch.events.isEmpty {
                    try await writer.write(batch.copyText ?? Self.copyText(batch.events))
                }
            }
            try await connection.exec(days, logger: logger)
            return batches.map(\.events.count)
        }
    }

    /// Marks the given UTC days dirty.
    static func markQuery(days: some Collection<Timestamp>) -> PostgresQuery {
        var column = ArrayColumn<TimestampElement>(capacity: days.count * 12)
        for day in days { column.append(day) }
        var binds = PostgresBindings(capacity: 1)
        binds.append(column)
        return PostgresQuery(unsafeSQL: markDirtySQL("SELECT unnest($1::timestamptz[])"), binds: binds)
    }

    /// 40P01: a deadlock with a writer whose batch was not in time order.
    /// 23514 on the default partition: the lifecycle job attached that day's
    /// partition while this statement waited; sent again, the rows route to it.
    static let retriedStates: Set<String> = ["40P01", "23514"]

    /// The batch as nine array parameters, in (timestamp, event_id) order.
    static func insertQuery(_ events: [EnrichedEvent]) -> PostgresQuery {
        // Positions sorted rather than the events: no copies of the (large) events.
        let order = events.indices.sorted { (events[$0].timestamp, events[$0].eventID) < (events[$1].timestamp, events[$1].eventID) }
        let n = events.count
        var ids = ArrayColumn<UUIDElement>(capacity: n * 20)
        var timestamps = ArrayColumn<TimestampElement>(capacity: n * 12)
        var receivedAts = ArrayColumn<TimestampElement>(capacity: n * 12)
        var types = ArrayColumn<TextElement>(capacity: n * 24)
        var services = ArrayColumn<TextElement>(capacity: n * 12)
        var users = ArrayColumn<TextElement>(capacity: n * 28)
        var anonymous = ArrayColumn<TextElement>(capacity: n * 8)
        var sessions = ArrayColumn<TextElement>(capacity: n * 16)
        var data = ArrayColumn<JSONBElement>(capacity: n * 400)
        var json: [UInt8] = []
        json.reserveCapacity(1_024)
        for index in order {
            let event = events[index]
            ids.append(event.eventID)
            timestamps.append(event.timestamp)
            receivedAts.append(event.receivedAt)
            types.append(event.name)
            services.append(event.service)
            users.append(event.userID)
            anonymous.append(event.anonymousID)
            sessions.append(event.sessionID)
            json.removeAll(keepingCapacity: true)
            // jsonb keeps its own key order: no need to sort.
            event.serializeData(into: &json, sortedKeys: false)
            data.append(json: json)
        }
        var binds = PostgresBindings(capacity: 9)
        binds.append(ids)
        binds.append(timestamps)
        binds.append(receivedAts)
        binds.append(types)
        binds.append(services)
        binds.append(users)
        binds.append(anonymous)
        binds.append(sessions)
        binds.append(data)
        return PostgresQuery(unsafeSQL: insertSQL, binds: binds)
    }

    public func count() async throws -> Int {
        try await database.query("SELECT count(*)::int8 FROM analytics_events") { row in
            Int(try row.decode(Int64.self))
        }.first ?? 0
    }

    public func events(in range: Range<Timestamp>, limit: Int) async throws -> [EnrichedEvent] {
        let query: PostgresQuery = """
            SELECT event_id, timestamp, received_at, event_type::text, service::text,
                   user_id, anonymous_id, session_id, data::text
            FROM analytics_events
            WHERE timestamp >= \(PostgresTimestamp(range.lowerBound)) AND timestamp < \(PostgresTimestamp(range.upperBound))
            ORDER BY timestamp, event_id
            LIMIT \(Int64(limit))
            """
        return try await database.query(query) { row in
            let (id, timestamp, receivedAt, type, service, user, anonymous, session, data) = try row.decode(
                (PostgresEventID, PostgresTimestamp, PostgresTimestamp, String, String, String?, String?, String?, String).self)
            return try Self.decode(id: id.id, timestamp: timestamp.timestamp, receivedAt: receivedAt.timestamp, type: type,
                                   service: service, user: user, anonymous: anonymous, session: session, data: data)
        }
    }

    public func dailyCounts() async throws -> [DailyEventCount] {
        try await database.query("""
            SELECT floor(extract(epoch FROM timestamp) / 86400)::int8 AS day, event_type::text, count(*)::int8
            FROM analytics_events
            GROUP BY 1, 2
            ORDER BY 1, event_type::text COLLATE "C"
            """) { row in
            let (day, type, count) = try row.decode((Int64, String, Int64).self)
            return DailyEventCount(day: Timestamp(microsecondsSinceEpoch: day * Timestamp.microsecondsPerDay),
                                   eventType: type, count: Int(count))
        }
    }

    /// Rebuilds a stored event, as every store does: stored rows passed
    /// validation on the way in, so personal-data checks are not repeated.
    static func decode(
        id: EventID, timestamp: Timestamp, receivedAt: Timestamp, type: String, service: String,
        user: String?, anonymous: String?, session: String?, data text: String
    ) throws -> EnrichedEvent {
        let data = try JSONValue(parsing: text).objectValue ?? [:]
        let payload = try EventPayload(name: type, properties: data["properties"]?.objectValue ?? [:], policy: .disabled)
        return EnrichedEvent(
            eventID: id, payload: payload, timestamp: timestamp, receivedAt: receivedAt, service: service,
            userID: user, anonymousID: anonymous, sessionID: session,
            context: EventContext(json: data["context"]?.objectValue ?? [:]))
    }
}
