import Foundation
import PostgresNIO
import Tally
import TallyPostgres

/// `--methods refresh`: one UTC day of `--events` demo events in a fresh database,
/// then the refresh of that day's aggregates, timed whole and by phase (DESIGN.md
/// §8: ≤ 2 s for 1M events).
enum RefreshBenchmark {
    static func run(events count: Int, batch: Int, keep: Bool, server: PostgresPool.Configuration, clock: ContinuousClock) async throws {
        let end = Timestamp(iso8601: "2026-11-20T23:59:59Z")!
        var configuration = DemoTraffic.Configuration(end: end)
        configuration.days = 1
        configuration.lateFraction = 0
        configuration.users = max(10, count / 17)
        let generated = DemoTraffic(configuration: configuration).events(forDay: 0)
        let events = Array(generated.prefix(count))
        let day = end.startOfDay
        print("Refresh: \(events.count) events on \(day.dateString) (\(configuration.users) users).")

        let name = "tally_bench_refresh"
        try await PostgresBenchmark.admin(server, "DROP DATABASE IF EXISTS \(name)")
        try await PostgresBenchmark.admin(server, "CREATE DATABASE \(name)")
        let measured = await Result(catching: { try await PostgresPool.withRunning(server.with(database: name), logger: PostgresBenchmark.logger) { database in
            try await Migrator(migrations: PostgresMigrations.all(mode: .partitioned),
                               target: PostgresMigrationTarget(database: database, mode: .partitioned)).migrate(phases: [.pre, .post])
            _ = try await PartitionLifecycle(database: database, mode: .partitioned).runOnce(now: day)
            let store = PostgresEventStore(database: database)
            let writeSeconds = try await PostgresBenchmark.write(events, to: store, batch: batch, writers: 1, clock: clock)
            try await database.execute("VACUUM ANALYZE analytics_events")
            print(String(format: "  write (unnest, batches of %d)   %7.2f s", batch, writeSeconds))

            let aggregates = PostgresAggregateStore(database: database)
            // The raw rows read once, as a baseline: a plain count by type over the day.
            var start = clock.now
            _ = try await database.query("""
                SELECT event_type, count(*) FROM analytics_events
                WHERE timestamp >= \(day.iso8601)::timestamptz AND timestamp < \(day.adding(days: 1).iso8601)::timestamptz GROUP BY 1
                """) { _ in () }
            let baselineSeconds = (clock.now - start).seconds
            print(String(format: "  baseline: count(*) GROUP BY event_type over the day  %7.2f s", baselineSeconds))

            // The generic path (facts to Swift, DayAggregates, replace), by phase.
            start = clock.now
            let facts = try await aggregates.facts(onDay: day)
            let factsSeconds = (clock.now - start).seconds
            start = clock.now
            let computed = DayAggregates(day: day, facts: facts)
            let aggregateSeconds = (clock.now - start).seconds
            start = clock.now
            try await aggregates.replace(computed)
            let replaceSeconds = (clock.now - start).seconds
            print("  generic path (AggregateStore's default refreshDay):")
            print(String(format: "    facts query (%d rows)     %7.2f s", facts.count, factsSeconds))
            print(String(format: "    aggregation in Swift        %7.2f s", aggregateSeconds))
            print(String(format: "    replace (one transaction)   %7.2f s", replaceSeconds))
            print(String(format: "    total                       %7.2f s", factsSeconds + aggregateSeconds + replaceSeconds))
            // PostgresAggregateStore.refreshDay: the same rows computed by the server.
            start = clock.now
            _ = try await aggregates.refreshDay(day)
            let sqlSeconds = (clock.now - start).seconds
            print(String(format: "  refreshDay in SQL (PostgresAggregateStore)  %7.2f s", sqlSeconds))
            start = clock.now
            try await aggregates.recomputeActiveUsers(days: [day])
            let activeSeconds = (clock.now - start).seconds
            print(String(format: "  active users (SQL)            %7.2f s", activeSeconds))

            start = clock.now
            let report = try await AggregateRefresher(store: aggregates).refresh(from: day, to: day.adding(days: 1), now: day)
            let total = (clock.now - start).seconds
            print(String(format: "  AggregateRefresher, 1 day     %7.2f s  (%d events, %.0f events/s)", total, report.events, Double(report.events) / total))
        } })
        if keep {
            print("  kept database \(name)")
        } else {
            try await PostgresBenchmark.admin(server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        }
        try measured.get()
    }
}
