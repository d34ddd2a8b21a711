import Tally
import TallyPostgres
import TallyPostgresTesting
import TallySQLite
import TallyTesting
import Testing

/// SQLite and PostgreSQL store the same aggregate rows, sketches included, for
/// the same events: before and after a user is erased.
@Suite("Aggregates agree across backends")
struct AggregateAgreementTests {
    static let end = Timestamp(iso8601: "2026-11-20T18:00:00Z")!

    /// Every row of every aggregate over `[from, to)`, as one comparable value.
    struct Snapshot: Equatable, Sendable {
        var activeUsers: [ActiveUsersRow]
        var taskStats: [TaskStatsRow]
        var apiLatency: [APILatencyRow]
        var integrationHealth: [IntegrationHealthRow]
        var authEvents: [AuthEventsRow]
        var cocoonActivity: [CocoonActivityRow]
        var errors: [ErrorsRow]
        /// API latency over the whole range from merged sketches: every route, the
        /// busiest route's service, that one route, and a service without any.
        var rangePercentiles: [RangePercentiles]

        init(_ store: any AggregateStore, from: Timestamp, to: Timestamp) async throws {
            activeUsers = try await store.activeUsers(from: from, to: to, service: nil)
            taskStats = try await store.taskStats(from: from, to: to, service: nil)
            apiLatency = try await store.apiLatency(from: from, to: to, service: nil)
            integrationHealth = try await store.integrationHealth(from: from, to: to, provider: nil)
            authEvents = try await store.authEvents(from: from, to: to, service: nil)
            cocoonActivity = try await store.cocoonActivity(from: from, to: to)
            errors = try await store.errors(from: from, to: to, service: nil)
            let busiest = apiLatency.max { ($0.requests, $0.route) < ($1.requests, $1.route) }
            rangePercentiles = [
                try await store.apiLatencyPercentiles(from: from, to: to, service: nil, method: nil, route: nil),
                try await store.apiLatencyPercentiles(from: from, to: to, service: busiest?.service, method: nil, route: nil),
                try await store.apiLatencyPercentiles(from: from, to: to, service: busiest?.service, method: busiest?.method, route: busiest?.route),
                try await store.apiLatencyPercentiles(from: from, to: to, service: "no_such_service", method: nil, route: nil),
            ]
        }

        /// The same three, merged here from the hourly rows.
        var rangePercentilesFromRows: [RangePercentiles] {
            let busiest = apiLatency.max { ($0.requests, $0.route) < ($1.requests, $1.route) }
            return [
                RangePercentiles(merging: apiLatency.map(\.latencySketch)),
                RangePercentiles(merging: apiLatency.filter { $0.service == busiest?.service }.map(\.latencySketch)),
                RangePercentiles(merging: apiLatency.filter {
                    $0.service == busiest?.service && $0.method == busiest?.method && $0.route == busiest?.route
                }.map(\.latencySketch)),
                RangePercentiles(merging: []),
            ]
        }

        var rowCount: Int {
            activeUsers.count + taskStats.count + apiLatency.count + integrationHealth.count + authEvents.count
                + cocoonActivity.count + errors.count
        }
    }

    @Test("the same demo traffic gives identical rows on SQLite and PostgreSQL, and so does an erase")
    func identicalRows() async throws {
        var configuration = DemoTraffic.Configuration(end: Self.end)
        configuration.users = 40
        configuration.days = 10
        configuration.lateFraction = 0.05
        let traffic = DemoTraffic(configuration: configuration)
        let events = (0..<configuration.days).flatMap { traffic.events(forDay: $0) }
        let from = traffic.startOfDay(0), to = Self.end.startOfDay.adding(days: 1)
        let erased = try #require(events.first { $0.userID != nil && $0.service == "web" }?.userID)

        /// Writes, refreshes, snapshots; erases, refreshes the due days, snapshots.
        @Sendable func run(_ store: any EventStore & EventQueries, _ aggregates: any AggregateStore) async throws -> (Snapshot, Snapshot) {
            // Out of order and in two batches, as a real load would come.
            try await store.write(Array(events.reversed().prefix(events.count / 2)))
            try await store.write(Array(events.prefix(events.count - events.count / 2)))
            let refresher = AggregateRefresher(store: aggregates)
            try await refresher.refresh(from: from, to: Self.end, now: Self.end)
            let before = try await Snapshot(aggregates, from: from, to: to)
            _ = try await store.eraseUser(erased)
            try await refresher.refreshDue(now: Self.end)
            return (before, try await Snapshot(aggregates, from: from, to: to))
        }

        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let sqlite = try SQLiteDatabase(path: directory.file("tally.sqlite"))
        try await Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget(database: sqlite)).migrate(phases: [.pre, .post])
        let onSQLite = try await run(SQLiteEventStore(database: sqlite), SQLiteAggregateStore(database: sqlite))

        let onPostgres = try await TestPostgres.withMigratedDatabase { database async throws in
            try await run(PostgresEventStore(database: database), PostgresAggregateStore(database: database))
        }

        #expect(onSQLite.0.rowCount > 500)
        #expect(onSQLite.0.activeUsers != onSQLite.1.activeUsers, "the erase changed the active users")
        #expect(onPostgres.0 == onSQLite.0)
        #expect(onPostgres.1 == onSQLite.1)
        // Field by field too, so a failure says which aggregate differs.
        #expect(onPostgres.0.activeUsers == onSQLite.0.activeUsers)
        #expect(onPostgres.0.taskStats == onSQLite.0.taskStats)
        #expect(onPostgres.0.apiLatency == onSQLite.0.apiLatency)
        #expect(onPostgres.0.integrationHealth == onSQLite.0.integrationHealth)
        #expect(onPostgres.0.authEvents == onSQLite.0.authEvents)
        #expect(onPostgres.0.cocoonActivity == onSQLite.0.cocoonActivity)
        #expect(onPostgres.0.errors == onSQLite.0.errors)
        #expect(onPostgres.0.rangePercentiles == onSQLite.0.rangePercentiles)
        for snapshot in [onSQLite.0, onSQLite.1, onPostgres.0, onPostgres.1] {
            #expect(snapshot.rangePercentiles == snapshot.rangePercentilesFromRows)
            #expect(snapshot.rangePercentiles[0].count >= snapshot.rangePercentiles[1].count)
            #expect(snapshot.rangePercentiles[1].count > snapshot.rangePercentiles[2].count)
            #expect(snapshot.rangePercentiles[2].count > 0)
            #expect(snapshot.rangePercentiles[3].count == 0)
        }
    }
}
