import Foundation
import PostgresNIO
import Tally
import TallyPostgres
import TallyTesting

/// `--methods queries`: `--events` demo events (10M by default) over 30 days, every
/// day refreshed, then each aggregate's query over the 30 days (median of `--runs`, 5 by default)
/// next to the same question asked of the raw events (DESIGN.md §8: ≤ 50 ms).
/// `--keep-database yes` keeps `tally_bench_queries`; `--reuse yes` then queries
/// it again without writing.
enum QueryBenchmark {
    static let name = "tally_bench_queries"

    static func run(events target: Int, batch: Int, reuse: Bool, keep: Bool, runs: Int, raw askRaw: Bool, server: PostgresPool.Configuration, clock: ContinuousClock) async throws {
        let end = Timestamp(iso8601: "2026-11-20T23:59:59Z")!
        var configuration = DemoTraffic.Configuration(end: end)
        configuration.days = 30
        configuration.users = max(10, target / (30 * 16))
        let (days, users) = (configuration.days, configuration.users)
        let traffic = DemoTraffic(configuration: configuration)
        let from = traffic.startOfDay(0), to = end.startOfDay.adding(days: 1)

        if !reuse {
            try await PostgresBenchmark.admin(server, "DROP DATABASE IF EXISTS \(name)")
            try await PostgresBenchmark.admin(server, "CREATE DATABASE \(name)")
        }
        try await PostgresPool.withRunning(server.with(database: name), logger: PostgresBenchmark.logger) { database in
            let aggregates = PostgresAggregateStore(database: database)
            if reuse {
                print("PostgreSQL queries over 30 days: reusing \(name).")
            } else {
                try await Migrator(migrations: PostgresMigrations.all(mode: .partitioned),
                                   target: PostgresMigrationTarget(database: database, mode: .partitioned)).migrate(phases: [.pre, .post])
                var lifecycle = PartitionLifecycle.Configuration()
                lifecycle.daysAhead = days + 1
                lifecycle.retentionDays = 3_650
                _ = try await PartitionLifecycle(database: database, mode: .partitioned, configuration: lifecycle).runOnce(now: from)
                print("PostgreSQL queries over 30 days: writing demo traffic (\(users) users, ~\(target) events) to \(name)…")
                let store = PostgresEventStore(database: database)
                var written = 0
                var writeSeconds = 0.0
                for day in 0..<days {
                    let events = traffic.events(forDay: day)
                    writeSeconds += try await PostgresBenchmark.write(events, to: store, batch: batch, writers: 1, clock: clock)
                    written += events.count
                    print("  day \(day + 1)/\(days): \(written) events written")
                }
                print(String(format: "  wrote %d events in %.1f s (%.0f events/s)", written, writeSeconds, Double(written) / writeSeconds))
                try await database.execute("VACUUM ANALYZE")
                let start = clock.now
                _ = try await AggregateRefresher(store: aggregates).refresh(from: from, to: to, now: end) { done, total in
                    if done % 5 == 0 || done == total { print("  refreshed \(done)/\(total) days") }
                }
                print(String(format: "  refreshed 30 days in %.1f s", (clock.now - start).seconds))
                try await database.execute("VACUUM ANALYZE")
            }
            let total = try await database.query("SELECT count(*)::int8 FROM analytics_events") { row in try row.decode(Int64.self) }.first ?? 0
            print("  \(total) events in the database; times are the median of \(runs) runs (raw: 1 run)")

            let range = "timestamp >= '\(from.iso8601)' AND timestamp < '\(to.iso8601)'"
            let day = "date_trunc('day', timestamp AT TIME ZONE 'UTC')"
            let hour = "date_trunc('hour', timestamp AT TIME ZONE 'UTC')"
            let p = "data->'properties'->>"
            try await AggregateQueryTimings.printTable(aggregates, from: from, to: to, runs: runs, rawSQL: [
                "SELECT \(day), service, count(DISTINCT user_id) FROM analytics_events WHERE \(range) AND user_id IS NOT NULL GROUP BY 1, 2",
                "SELECT \(day), service, event_type, count(*) FROM analytics_events WHERE \(range) AND event_type IN ('task_created', 'task_started', 'task_completed', 'task_failed', 'task_cancelled') GROUP BY 1, 2, 3",
                "SELECT \(hour), service, \(p)'method', \(p)'route', count(*), percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY (\(p)'duration_ms')::float8) FROM analytics_events WHERE \(range) AND event_type = 'api_request' GROUP BY 1, 2, 3, 4",
                "SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY (\(p)'duration_ms')::float8) FROM analytics_events WHERE \(range) AND event_type = 'api_request'",
                "SELECT \(day), \(p)'provider', event_type, count(*) FROM analytics_events WHERE \(range) AND event_type IN ('integration_connected', 'integration_disconnected', 'integration_used', 'integration_error', 'oauth_flow_started', 'oauth_flow_completed') GROUP BY 1, 2, 3",
                "SELECT \(day), service, event_type, count(*) FROM analytics_events WHERE \(range) AND event_type IN ('auth_login_attempt', 'auth_code_verified', 'auth_token_refresh', 'auth_session_validated', 'auth_logout') GROUP BY 1, 2, 3",
                "SELECT \(day), count(*), count(DISTINCT \(p)'cocoon_id') FROM analytics_events WHERE \(range) AND event_type LIKE 'cocoon%' GROUP BY 1",
                "SELECT \(hour), service, event_type, count(*) FROM analytics_events WHERE \(range) AND event_type IN ('application_error', 'task_failed', 'integration_error', 'api_request') AND (event_type <> 'api_request' OR (\(p)'status_code')::int >= 500) GROUP BY 1, 2, 3",
            ], raw: askRaw ? { sql in try await database.query(PostgresQuery(unsafeSQL: sql)) { _ in () }.count } : nil)
        }
        if !keep && !reuse { try await PostgresBenchmark.admin(server, "DROP DATABASE IF EXISTS \(name)") }
    }
}
