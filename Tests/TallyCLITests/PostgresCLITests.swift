import Foundation
import PostgresNIO
import Tally
import TallyPostgres
import TallyPostgresTesting
import TallyTesting
import Testing

/// `tally migrate` and `tally retention run` against the test server, as a user runs them.
@Suite("tally command line on PostgreSQL", .serialized)
struct PostgresCLITests {
    /// The database's URL with its password: the tests pass it as DATABASE_URL.
    static func url(_ configuration: PostgresPool.Configuration) -> String {
        "postgres://\(configuration.username)\(configuration.password.map { ":" + $0 } ?? "")@\(configuration.host):\(configuration.port)/\(configuration.database)?sslmode=disable"
    }

    static func tally(_ arguments: [String], _ configuration: PostgresPool.Configuration) throws -> TallyProcess.Result {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        return try TallyProcess.run(arguments, in: directory.path, environment: ["DATABASE_URL": url(configuration)])
    }

    static func relations(_ configuration: PostgresPool.Configuration) async throws -> [String] {
        try await PostgresPool.withRunning(configuration, logger: TestPostgres.logger) { database async throws in
            try await database.query("SELECT relname::text FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1") {
                row in try row.decode(String.self)
            }
        }
    }

    @Test("migrate status, dry-run, all, status")
    func migrateLifecycle() async throws {
        try await TestPostgres.withEmptyDatabase { configuration async throws in
            let before = try Self.tally(["migrate", "status"], configuration)
            #expect(before.status == 0, "\(before.stderr)")
            #expect(before.stdout.contains("Database: PostgreSQL postgres@127.0.0.1:\(configuration.port)/\(configuration.database) (partitioned)"))
            #expect(before.stdout.contains("PENDING  0001_create_analytics_events_partitioned"))
            #expect(before.stdout.contains("0 applied, 7 pending, 0 changed."))

            let dryRun = try Self.tally(["migrate", "dry-run"], configuration)
            #expect(dryRun.status == 0)
            #expect(dryRun.stdout.contains("SELECT pg_advisory_xact_lock("))
            #expect(dryRun.stdout.contains(") PARTITION BY RANGE (timestamp);"))
            #expect(dryRun.stdout.contains("CREATE INDEX analytics_events_user_id_timestamp"))
            #expect(try await Self.relations(configuration).isEmpty, "status and dry-run change nothing")
            #expect(!dryRun.stdout.contains(configuration.password ?? "\u{0}"))

            let all = try Self.tally(["migrate", "all"], configuration)
            #expect(all.status == 0, "\(all.stderr)")
            #expect(all.stdout.contains("applying pre 0001_create_analytics_events_partitioned…"))
            #expect(all.stdout.contains("applied 7 migrations (all)."))

            let after = try Self.tally(["migrate", "status"], configuration)
            #expect(after.stdout.contains("applied  0001_create_analytics_events_partitioned"))
            #expect(after.stdout.contains("7 applied, 0 pending, 0 changed."))
            let again = try Self.tally(["migrate", "all"], configuration)
            #expect(again.stdout.contains("up to date (all), nothing to apply."))
        }
    }

    @Test("two `tally migrate all` started at once both succeed and apply each migration once")
    func concurrentMigrate() async throws {
        try await TestPostgres.withEmptyDatabase { configuration async throws in
            let results = try await withThrowingTaskGroup(of: TallyProcess.Result.self) { group in
                for _ in 0..<2 { group.addTask { try Self.tally(["migrate", "all"], configuration) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for result in results { #expect(result.status == 0, "\(result.stderr)") }
            let applied = results.compactMap { $0.stdout.firstMatch(of: /applied (\d+) migration/)?.1 }.compactMap { Int($0) }.reduce(0, +)
            #expect(applied == 7, "\(results.map(\.stdout))")
            // Each tells the truth about its own work: a migration it announced but
            // found applied by the other once it had the lock is said to be skipped,
            // so its announcements less its skips are what its summary counts.
            for result in results {
                let announced = result.stdout.matches(of: /applying (pre|post) \d/).count
                let skipped = result.stdout.matches(of: /already applied by another migrator/).count
                let summarized = result.stdout.firstMatch(of: /applied (\d+) migration/).flatMap { Int($0.1) } ?? 0
                #expect(announced - skipped == summarized, "\(result.stdout)")
            }
            try await PostgresPool.withRunning(configuration, logger: TestPostgres.logger) { database async throws in
                let records = try await database.query("SELECT count(*)::int8 FROM tally_schema_migrations") { row in try row.decode(Int64.self) }
                #expect(records == [7])
            }
        }
    }

    @Test("--postgres-mode forces a mode, and cannot switch a migrated database")
    func forcedMode() async throws {
        try await TestPostgres.withEmptyDatabase { configuration async throws in
            #expect(try Self.tally(["migrate", "all", "--postgres-mode", "partitioned"], configuration).status == 0)
            let switched = try Self.tally(["migrate", "status", "--postgres-mode", "timescaledb"], configuration)
            #expect(switched.status != 0)
            #expect(switched.stderr.contains("was migrated in partitioned mode"))
        }
    }

    @Test("a missing database and a wrong password get one line each saying what to do")
    func connectionErrors() async throws {
        try await TestPostgres.withEmptyDatabase { configuration async throws in
            let missing = try Self.tally(["migrate", "status"], configuration.with(database: "tally_no_such_db"))
            #expect(missing.status != 0)
            #expect(missing.stderr.contains("has no database 'tally_no_such_db': create it"), "\(missing.stderr)")
            #expect(missing.stderr.split(separator: "\n").count == 1)

            var wrong = configuration
            wrong.password = "not-the-password"
            let refused = try Self.tally(["migrate", "status"], wrong)
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("refused user 'postgres'"), "\(refused.stderr)")
            #expect(refused.stderr.contains("check the user name and password"))
            #expect(!refused.stderr.contains("not-the-password"))
            #expect(refused.stderr.split(separator: "\n").count == 1)
        }
    }

    @Test("retention run: with 100 days of events, leaves exactly the last 90 and says what it dropped")
    func retentionRun() async throws {
        try await TestPostgres.withEmptyDatabase { configuration async throws in
            #expect(try Self.tally(["migrate", "all"], configuration).status == 0)
            let now = Timestamp(iso8601: "2026-11-23T15:00:00Z")!
            var events: [EnrichedEvent] = []
            for day in 0..<100 {
                for i in 0..<5 {
                    let example = CatalogueExamples.all[(day + i) % CatalogueExamples.all.count]
                    let time = now.startOfDay.adding(days: -day).adding(microseconds: Int64(i) * 60_000_000)
                    events.append(CatalogueExamples.event(example, at: time, seed: UInt64(day * 10 + i)))
                }
            }
            let batch = events
            try await PostgresPool.withRunning(configuration, logger: TestPostgres.logger) { database async throws in
                #expect(try await PostgresEventStore(database: database).write(batch) == 500)
            }
            let setUp = try Self.tally(["retention", "run", "--retention-days", "365", "--now", now.iso8601], configuration)
            #expect(setUp.status == 0, "\(setUp.stderr)")
            #expect(setUp.stdout.contains("Created 107 partitions: analytics_events_p20260816, analytics_events_p20260817 … analytics_events_p20261130; moved 500 events out of the default partition into them."), "\(setUp.stdout)")

            let run = try Self.tally(["retention", "run", "--now", now.iso8601], configuration)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.contains("keeping 90 days, from 2026-08-26 on."), "\(run.stdout)")
            #expect(run.stdout.contains("Dropped 10 partitions holding 50 events: analytics_events_p20260816, analytics_events_p20260817 … analytics_events_p20260825."), "\(run.stdout)")
            #expect(!run.stdout.contains("default partition"))
            try await PostgresPool.withRunning(configuration, logger: TestPostgres.logger) { database async throws in
                let store = PostgresEventStore(database: database)
                #expect(try await store.count() == 450)
                #expect(try await store.dailyCounts().first?.day == Timestamp(iso8601: "2026-08-26"))
            }
        }
    }

    @Test("demo fills a PostgreSQL database, and a re-run stores nothing new")
    func demo() async throws {
        try await TestPostgres.withEmptyDatabase { configuration async throws in
            let arguments = ["demo", "--users", "40", "--days", "3", "--end", "2026-11-20T12:00:00Z"]
            let first = try Self.tally(arguments, configuration)
            #expect(first.status == 0, "\(first.stderr)")
            let stored = try #require(first.stdout.firstMatch(of: /Stored ([0-9,]+) new events/)?.1)
            #expect(stored != "0")
            #expect(first.stdout.contains("\(configuration.database): \(stored) events (0 before)."), "\(first.stdout)")
            #expect(first.stdout.contains("Refreshed the aggregates of 3 days"), "\(first.stdout)")
            let second = try Self.tally(arguments, configuration)
            #expect(second.status == 0)
            #expect(second.stdout.contains("Stored 0 new events"))
        }
    }

    @Test("events exported from SQLite import into PostgreSQL and export from it unchanged, their days marked dirty")
    func importAndExport() async throws {
        try await TestPostgres.withEmptyDatabase { configuration async throws in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let demo = try TallyProcess.run(["demo", "--users", "30", "--days", "3", "--end", "2026-11-20T12:00:00Z"], in: directory.path)
            #expect(demo.status == 0, "\(demo.stderr)")
            let export = try TallyProcess.run(["export", "--output", "events.ndjson"], in: directory.path)
            #expect(export.status == 0, "\(export.stderr)")
            let exported = try String(contentsOfFile: directory.file("events.ndjson"), encoding: .utf8)
            let count = exported.split(separator: "\n").count

            let imported = try Self.tally(["import", directory.file("events.ndjson")], configuration)
            #expect(imported.status == 0, "\(imported.stderr)")
            #expect(imported.stdout.replacing(",", with: "").contains("\(count) stored 0 already stored 0 rejected."), "\(imported.stdout)")
            let fromPostgres = try Self.tally(["export"], configuration)
            #expect(fromPostgres.status == 0, "\(fromPostgres.stderr)")
            #expect(fromPostgres.stdout == exported)
            try await PostgresPool.withRunning(configuration, logger: TestPostgres.logger) { database async throws in
                let days = try await database.query("SELECT day::text FROM analytics_dirty_days ORDER BY day") { row in try row.decode(String.self) }
                #expect(days == ["2026-11-18", "2026-11-19", "2026-11-20"])
            }
            let again = try Self.tally(["import", directory.file("events.ndjson")], configuration)
            #expect(again.stdout.replacing(",", with: "").contains("0 stored \(count) already stored"), "\(again.stdout)")
        }
    }

    @Test("refresh recomputes the aggregates of a PostgreSQL database, and report prints them")
    func refreshAndReport() async throws {
        try await TestPostgres.withEmptyDatabase { configuration async throws in
            let demo = try Self.tally(["demo", "--users", "30", "--days", "3", "--end", "2026-11-20T12:00:00Z"], configuration)
            #expect(demo.status == 0, "\(demo.stderr)")
            let range = ["--from", "2026-11-18", "--to", "2026-11-21"]
            let (from, to) = (Timestamp(iso8601: "2026-11-18")!, Timestamp(iso8601: "2026-11-21")!)

            // Lose one aggregate: the report says so, and a refresh of the range brings it back.
            try await PostgresPool.withRunning(configuration, logger: TestPostgres.logger) { database async throws in
                try await database.execute("DELETE FROM analytics_cocoon_activity_daily")
            }
            let empty = try Self.tally(["report", "cocoons"] + range, configuration)
            #expect(empty.status == 0, "\(empty.stderr)")
            #expect(empty.stdout.contains("No rows between 2026-11-18 and 2026-11-21"), "\(empty.stdout)")

            let refresh = try Self.tally(["refresh"] + range, configuration)
            #expect(refresh.status == 0, "\(refresh.stderr)")
            #expect(refresh.stdout.contains("Refreshed the aggregates of 3 days ("), "\(refresh.stdout)")

            let rows = try await PostgresPool.withRunning(configuration, logger: TestPostgres.logger) { database async throws in
                try await PostgresAggregateStore(database: database).cocoonActivity(from: from, to: to)
            }
            #expect(rows.count == 3)
            let report = try Self.tally(["report", "cocoons"] + range, configuration)
            #expect(report.status == 0, "\(report.stderr)")
            let lines = report.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            for r in rows {
                let expected = [r.day.dateString] + [r.registered, r.connected, r.disconnected, r.claimed, r.setupTokensCreated,
                                                     r.setupTokensUsed, r.activeCocoons].map(String.init)
                #expect(lines.contains(expected), "\(report.stdout)")
            }

            let latency = try Self.tally(["report", "api-latency", "--service", "api"] + range, configuration)
            #expect(latency.status == 0, "\(latency.stderr)")
            #expect(latency.stdout.contains("Whole range (from sketches): "), "\(latency.stdout)")
            #expect(latency.stdout.contains("2026-11-20T"), "\(latency.stdout)")

            // Without a range: the scheduled refresh's days.
            let due = try Self.tally(["refresh"], configuration)
            #expect(due.status == 0, "\(due.stderr)")
            #expect(due.stdout.contains("Refreshed the aggregates of"), "\(due.stdout)")
        }
    }
}

