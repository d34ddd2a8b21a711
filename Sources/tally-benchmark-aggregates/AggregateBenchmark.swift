import Foundation
import GRDB
import Tally
import TallySQLite
import TallyTesting

/// The aggregates on SQLite, in release (DESIGN.md §8):
///
/// - `--methods refresh`: one UTC day of `--events` demo events (default 1M) in a
///   fresh database, then that day's refresh: the generic path by phase, then
///   `refreshDay` and the whole refresher, next to a plain
///   `count(*) … GROUP BY event_type` over the same day's raw rows (the baseline).
/// - `--methods queries`: `--events` demo events (default 10M) over 30 days, every
///   day refreshed, then each aggregate query over the 30 days, next to the same
///   question asked of the raw events.
///
///     swift run -c release tally-benchmark-aggregates --methods refresh [--events 1000000] [--path /tmp/x.sqlite]
///     swift run -c release tally-benchmark-aggregates --methods queries [--events 10000000] [--path /tmp/x.sqlite]
///
/// `--keep yes` keeps the database file; with `--reuse yes` the queries run on a
/// kept file without writing it again. `--runs N` takes each query's median of N
/// runs (5 by default); `--raw no` leaves out the raw-event questions.
@main
struct AggregateBenchmark {
    struct Options {
        var method = "refresh"
        var events: Int?
        var path = "/tmp/tally-benchmark-aggregates.sqlite"
        var keep = false
        var reuse = false
        var batch = 10_000
        /// Each aggregate question's median is of this many runs.
        var runs = 5
        /// `false` leaves out the raw-event questions (seconds each), e.g. to profile.
        var raw = true

        init(arguments: [String]) throws {
            var iterator = arguments.dropFirst().makeIterator()
            while let argument = iterator.next() {
                guard let value = iterator.next() else { throw Failure("\(argument) needs a value") }
                switch argument {
                case "--methods": method = value
                case "--events": events = Int(value)
                case "--path": path = value
                case "--keep": keep = value == "yes"
                case "--reuse": reuse = value == "yes"
                case "--batch": batch = Int(value) ?? batch
                case "--runs":
                    guard let n = Int(value), n > 0 else { throw Failure("--runs needs a positive number, not \(value)") }
                    runs = n
                case "--raw": raw = value != "no"
                default: throw Failure("unknown option \(argument); options: --methods refresh|queries --events N --path FILE --keep yes --reuse yes --batch N --runs N --raw no")
                }
            }
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    static func main() async {
        do {
            let options = try Options(arguments: CommandLine.arguments)
            switch options.method {
            case "refresh": try await refresh(options)
            case "queries": try await queries(options)
            default: throw Failure("--methods is refresh or queries")
            }
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            exit(1)
        }
    }

    static let clock = ContinuousClock()

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = clock.now
        try body()
        return (clock.now - start).seconds
    }

    static func seconds(_ body: () async throws -> Void) async rethrows -> Double {
        let start = clock.now
        try await body()
        return (clock.now - start).seconds
    }

    /// A migrated, empty database at `path` (any old file removed).
    static func freshDatabase(_ path: String) async throws -> SQLiteDatabase {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        let database = try SQLiteDatabase(path: path)
        try await Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget(database: database)).migrate(phases: [.pre, .post])
        return database
    }

    static func write(_ events: [EnrichedEvent], to store: SQLiteEventStore, batch: Int) async throws {
        var offset = 0
        while offset < events.count {
            let end = min(offset + batch, events.count)
            _ = try await store.write(Array(events[offset..<end]))
            offset = end
        }
    }

    // MARK: refresh

    static func refresh(_ options: Options) async throws {
        let count = options.events ?? 1_000_000
        let end = Timestamp(iso8601: "2026-11-20T23:59:59Z")!
        var configuration = DemoTraffic.Configuration(end: end)
        configuration.days = 1
        configuration.lateFraction = 0
        configuration.users = max(10, count / 17)
        let events = Array(DemoTraffic(configuration: configuration).events(forDay: 0).prefix(count))
        let day = end.startOfDay
        print("SQLite refresh: \(events.count) events on \(day.dateString) (\(configuration.users) users), \(options.path).")

        let database: SQLiteDatabase
        if options.reuse {
            database = try SQLiteDatabase(path: options.path)
            print("  reusing the events of \(options.path)")
        } else {
            database = try await freshDatabase(options.path)
            let store = SQLiteEventStore(database: database)
            let writeSeconds = try await seconds { try await write(events, to: store, batch: options.batch) }
            try await database.checkpoint()
            print(String(format: "  write (batches of %d)                      %7.2f s", options.batch, writeSeconds))
        }

        let raw = try DatabaseQueue(path: options.path)
        let from = day.microsecondsSinceEpoch, to = day.adding(days: 1).microsecondsSinceEpoch
        let baseline = try seconds {
            _ = try raw.read { db in
                try Row.fetchAll(db, sql: "SELECT event_type, count(*) FROM analytics_events WHERE timestamp >= ? AND timestamp < ? GROUP BY 1",
                                 arguments: [from, to])
            }
        }
        print(String(format: "  baseline: count(*) GROUP BY event_type     %7.2f s", baseline))

        let aggregates = SQLiteAggregateStore(database: database)
        var facts: [EventFact] = []
        let genericCPU = processCPUSeconds()
        let factsSeconds = try await seconds { facts = try await aggregates.facts(onDay: day) }
        var computed: DayAggregates?
        let aggregateSeconds = seconds { computed = DayAggregates(day: day, facts: facts) }
        let replaceSeconds = try await seconds { try await aggregates.replace(computed!) }
        let genericCPUSeconds = processCPUSeconds() - genericCPU
        let activeSeconds = try await seconds { try await aggregates.recomputeActiveUsers(days: [day]) }
        print(String(format: "  facts query (%d rows)                %7.2f s", facts.count, factsSeconds))
        print(String(format: "  aggregation in Swift                       %7.2f s", aggregateSeconds))
        print(String(format: "  replace (one transaction)                  %7.2f s", replaceSeconds))
        print(String(format: "  generic path, total                        %7.2f s  (CPU of this process %.2f s)",
                     factsSeconds + aggregateSeconds + replaceSeconds, genericCPUSeconds))
        print(String(format: "  active users (SQL)                         %7.2f s", activeSeconds))
        facts = []
        let refreshCPU = processCPUSeconds()
        let refreshSeconds = try await seconds { _ = try await aggregates.refreshDay(day) }
        print(String(format: "  refreshDay (SQLiteAggregateStore)          %7.2f s  (CPU of this process %.2f s)",
                     refreshSeconds, processCPUSeconds() - refreshCPU))

        var report: AggregateRefresher.Report?
        let total = try await seconds {
            report = try await AggregateRefresher(store: aggregates).refresh(from: day, to: day.adding(days: 1), now: day)
        }
        print(String(format: "  AggregateRefresher, 1 day                  %7.2f s  (%d events, %.0f events/s, %.1f× the baseline)",
                     total, report!.events, Double(report!.events) / total, total / baseline))
        if !options.keep && !options.reuse {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: options.path + suffix) }
        }
    }

    // MARK: queries

    static func queries(_ options: Options) async throws {
        let target = options.events ?? 10_000_000
        let end = Timestamp(iso8601: "2026-11-20T23:59:59Z")!
        var configuration = DemoTraffic.Configuration(end: end)
        configuration.days = 30
        configuration.users = max(10, target / (30 * 16))
        let traffic = DemoTraffic(configuration: configuration)
        let from = traffic.startOfDay(0), to = end.startOfDay.adding(days: 1)

        let database: SQLiteDatabase
        if options.reuse {
            database = try SQLiteDatabase(path: options.path)
            print("SQLite queries over 30 days: reusing \(options.path).")
        } else {
            database = try await freshDatabase(options.path)
            let store = SQLiteEventStore(database: database)
            print("SQLite queries over 30 days: writing demo traffic (\(configuration.users) users, ~\(target) events) to \(options.path)…")
            var written = 0
            let writeSeconds = try await seconds {
                for day in 0..<configuration.days {
                    let events = traffic.events(forDay: day)
                    try await write(events, to: store, batch: options.batch)
                    written += events.count
                    print("  day \(day + 1)/\(configuration.days): \(written) events written")
                }
            }
            try await database.checkpoint()
            print(String(format: "  wrote %d events in %.1f s (%.0f events/s)", written, writeSeconds, Double(written) / writeSeconds))
            let aggregates = SQLiteAggregateStore(database: database)
            let refreshSeconds = try await seconds {
                _ = try await AggregateRefresher(store: aggregates).refresh(from: from, to: to, now: end) { done, total in
                    if done % 5 == 0 || done == total { print("  refreshed \(done)/\(total) days") }
                }
            }
            print(String(format: "  refreshed 30 days in %.1f s", refreshSeconds))
        }
        let aggregates = SQLiteAggregateStore(database: database)
        let raw = try DatabaseQueue(path: options.path)
        let total = try await raw.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM analytics_events") ?? 0 }
        print("  \(total) events in the database; times are the median of \(options.runs) runs (raw: 1 run)")

        let hour = "timestamp / 3600000000"
        let day = "timestamp / 86400000000"
        let range = "timestamp >= ?1 AND timestamp < ?2"
        let p = "data ->> '$.properties."
        let askRaw: (String) async throws -> Int = { sql in
            try await raw.read { db in
                try Row.fetchAll(db, sql: sql, arguments: [from.microsecondsSinceEpoch, to.microsecondsSinceEpoch]).count
            }
        }
        try await AggregateQueryTimings.printTable(aggregates, from: from, to: to, runs: options.runs, rawSQL: [
            "SELECT \(day), service, count(DISTINCT user_id) FROM analytics_events WHERE \(range) AND user_id IS NOT NULL GROUP BY 1, 2",
            "SELECT \(day), service, event_type, count(*) FROM analytics_events WHERE \(range) AND event_type IN ('task_created', 'task_started', 'task_completed', 'task_failed', 'task_cancelled') GROUP BY 1, 2, 3",
            "SELECT \(hour), service, \(p)method', \(p)route', count(*), max(\(p)duration_ms') FROM analytics_events WHERE \(range) AND event_type = 'api_request' GROUP BY 1, 2, 3, 4",
            "SELECT \(p)duration_ms' AS d FROM analytics_events WHERE \(range) AND event_type = 'api_request' ORDER BY d",
            "SELECT \(day), \(p)provider', event_type, count(*) FROM analytics_events WHERE \(range) AND event_type IN ('integration_connected', 'integration_disconnected', 'integration_used', 'integration_error', 'oauth_flow_started', 'oauth_flow_completed') GROUP BY 1, 2, 3",
            "SELECT \(day), service, event_type, count(*) FROM analytics_events WHERE \(range) AND event_type IN ('auth_login_attempt', 'auth_code_verified', 'auth_token_refresh', 'auth_session_validated', 'auth_logout') GROUP BY 1, 2, 3",
            "SELECT \(day), count(*), count(DISTINCT \(p)cocoon_id') FROM analytics_events WHERE \(range) AND event_type LIKE 'cocoon%' GROUP BY 1",
            "SELECT \(hour), service, event_type, count(*) FROM analytics_events WHERE \(range) AND event_type IN ('application_error', 'task_failed', 'integration_error', 'api_request') AND (event_type <> 'api_request' OR \(p)status_code' >= 500) GROUP BY 1, 2, 3",
        ], raw: options.raw ? askRaw : nil)
    }
}

/// CPU time used by this process so far (every thread), in seconds: SQLite runs
/// in the process, so it counts the refresh's work on a machine whose other
/// load moves wall-clock times.
func processCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

extension Duration {
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
