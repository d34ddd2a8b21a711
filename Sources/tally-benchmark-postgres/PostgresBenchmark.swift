import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Tally
import TallyPostgres

/// Loads the same realistic rows into `analytics_events` three ways, each into a
/// fresh database with the schema, daily partitions and indexes of DESIGN.md §3,
/// and prints rows/s and the ratio to the baseline:
///
/// - `psql \copy` of the rows as a file (the baseline of DESIGN.md §8; no dedupe),
/// - `PostgresEventStore.write`, `optimistic-copy` method (the default: COPY, and
///   `unnest` for a batch that meets a duplicate),
/// - `PostgresEventStore.write`, `unnest` method,
/// - `PostgresEventStore.write`, COPY into a staging table then `INSERT … ON CONFLICT`,
/// - `pipeline`: the whole client path, `AnalyticsClient.submit` → `AnalyticsWorker`
///   (batches of `--batch`) → `PostgresEventStore`, timed until the worker has
///   drained and returned (everything committed).
///
/// With `--methods refresh`, instead: the refresh of one day's aggregates (see ``RefreshBenchmark``);
/// with `--methods queries`, the aggregate queries over 30 days (see ``QueryBenchmark``).
///
///     swift run -c release tally-benchmark-postgres --database postgres://… [--events 200000] [--batch 1000] [--writers 1]
///     swift run -c release tally-benchmark-postgres --database postgres://… --methods refresh --events 1000000 [--keep-database yes]
///     swift run -c release tally-benchmark-postgres --database postgres://… --methods queries --events 10000000 [--keep-database yes] [--reuse yes]
@main
struct PostgresBenchmark {
    struct Options {
        var url = ProcessInfo.processInfo.environment["TALLY_BENCH_DATABASE_URL"]
            ?? ProcessInfo.processInfo.environment["TALLY_TEST_DATABASE_URL"]
        var events = 200_000
        var batch = 1_000
        var writers = 1
        var methods: [String] = ["copy-baseline", "optimistic-copy", "unnest", "copy", "pipeline"]
        var keep = false
        var reuse = false
        /// For `queries`: how often each aggregate question is asked, and whether
        /// the raw questions (seconds each) are asked too.
        var runs = 5
        var raw = true
        var catchUp = AnalyticsConfiguration(service: "api", sink: MemoryEventStore()).catchUpBatches

        init(arguments: [String]) throws {
            var iterator = arguments.dropFirst().makeIterator()
            while let argument = iterator.next() {
                guard let value = iterator.next() else { throw Failure("\(argument) needs a value") }
                switch argument {
                case "--database": url = value
                case "--events": events = Int(value) ?? events
                case "--batch": batch = Int(value) ?? batch
                case "--writers": writers = Int(value) ?? writers
                case "--methods": methods = value.split(separator: ",").map(String.init)
                case "--keep-database": keep = value == "yes"
                case "--reuse": reuse = value == "yes"
                case "--catch-up": catchUp = Int(value) ?? catchUp
                case "--runs": runs = Int(value) ?? runs
                case "--raw": raw = value != "no"
                default: throw Failure("unknown option \(argument); options: --database URL --events N --batch N --writers N --methods copy-baseline,optimistic-copy,unnest,copy,pipeline,pipeline-unnest (or refresh, or queries [--reuse yes] [--runs N] [--raw no]) --keep-database yes --catch-up N")
                }
            }
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    static let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })

    static func main() async {
        do {
            try await run(try Options(arguments: CommandLine.arguments))
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            exit(1)
        }
    }

    static func run(_ options: Options) async throws {
        guard let url = options.url else {
            throw Failure("give a server with --database postgres://… (or TALLY_BENCH_DATABASE_URL); the benchmark creates and drops databases on it")
        }
        let server = try PostgresPool.Configuration(url: url)
        let clock = ContinuousClock()
        if options.methods == ["refresh"] {
            return try await RefreshBenchmark.run(events: options.events, batch: options.batch, keep: options.keep, server: server, clock: clock)
        }
        if options.methods == ["queries"] {
            return try await QueryBenchmark.run(events: options.events, batch: options.batch, reuse: options.reuse, keep: options.keep,
                                                runs: options.runs, raw: options.raw, server: server, clock: clock)
        }

        // Realistic rows: seeded demo traffic for every catalogue event, in time order.
        let generationStart = clock.now
        let end = Timestamp(iso8601: "2026-11-20T12:00:00Z")!
        var configuration = DemoTraffic.Configuration(end: end)
        configuration.days = 7
        configuration.users = max(10, options.events / (configuration.days * 18))
        let traffic = DemoTraffic(configuration: configuration)
        var events: [EnrichedEvent] = []
        for day in 0..<configuration.days { events += traffic.events(forDay: day) }
        while events.count < options.events {
            events += traffic.events(forDay: configuration.days - 1).map { event in
                var copy = event
                copy.eventID = .generate(at: event.timestamp)
                return copy
            }
        }
        let rows = Array(events.prefix(options.events))
        let firstDay = rows.map(\.timestamp).min()!.startOfDay
        let lastDay = rows.map(\.timestamp).max()!.startOfDay
        var json: [UInt8] = []
        var jsonBytes = 0
        for event in rows.prefix(10_000) {
            json.removeAll(keepingCapacity: true)
            JSONValue.object(event.data).serialize(into: &json)
            jsonBytes += json.count
        }
        print("Rows: \(rows.count) events, \(configuration.days) days of demo traffic, "
            + "\(jsonBytes / min(rows.count, 10_000)) bytes of JSON data on average, "
            + "generated in \(String(format: "%.1f", (clock.now - generationStart).seconds)) s.")
        print("Server: \(server.displayName). Batches of \(options.batch), \(options.writers) writer(s).")

        var baseline: Double?
        for method in options.methods {
            let name = "tally_bench_" + method.replacingOccurrences(of: "-", with: "_")
            try await admin(server, "DROP DATABASE IF EXISTS \(name)")
            try await admin(server, "CREATE DATABASE \(name)")
            let target = server.with(database: name)
            let measured = await Result(catching: { try await PostgresPool.withRunning(target, logger: logger) { database -> Double in
                try await Migrator(migrations: PostgresMigrations.all(mode: .partitioned),
                                   target: PostgresMigrationTarget(database: database, mode: .partitioned)).migrate(phases: [.pre, .post])
                var lifecycle = PartitionLifecycle.Configuration()
                lifecycle.daysAhead = Int((lastDay.microsecondsSinceEpoch - firstDay.microsecondsSinceEpoch) / Timestamp.microsecondsPerDay) + 1
                lifecycle.retentionDays = 3_650
                _ = try await PartitionLifecycle(database: database, mode: .partitioned, configuration: lifecycle).runOnce(now: firstDay)
                try await database.execute("CHECKPOINT")

                let seconds: Double
                switch method {
                case "copy-baseline":
                    seconds = try copyBaseline(rows, url: target, clock: clock)
                case "unnest", "copy", "optimistic-copy":
                    let writeMethod: PostgresEventStore.WriteMethod = switch method {
                    case "copy": .copyStaging
                    case "unnest": .unnest
                    default: .optimisticCopy
                    }
                    let store = PostgresEventStore(database: database, writeMethod: writeMethod)
                    seconds = try await write(rows, to: store, batch: options.batch, writers: options.writers, clock: clock)
                case "pipeline", "pipeline-unnest":
                    let store = PostgresEventStore(database: database, writeMethod: method == "pipeline" ? .optimisticCopy : .unnest)
                    seconds = try await pipeline(rows, to: store, batch: options.batch, catchUp: options.catchUp, clock: clock)
                default:
                    throw Failure("unknown method \(method): use copy-baseline, optimistic-copy, unnest, copy, pipeline or pipeline-unnest")
                }
                let stored = try await PostgresEventStore(database: database).count()
                guard stored == rows.count else { throw Failure("\(method) stored \(stored) of \(rows.count) events") }
                if method != "copy-baseline" {
                    // Idempotence on the same rows: a second write of a batch stores nothing.
                    let again = try await PostgresEventStore(database: database).write(Array(rows.prefix(options.batch)))
                    guard again == 0 else { throw Failure("\(method) stored \(again) duplicates") }
                }
                return seconds
            } })
            try await admin(server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            let seconds = try measured.get()
            let rate = Double(rows.count) / seconds
            if method == "copy-baseline" { baseline = rate }
            let ratio = baseline.map { String(format: "  %.0f%% of psql \\copy", rate / $0 * 100) } ?? ""
            let label = switch method {
            case "copy-baseline": "psql \\copy (baseline)"
            case "unnest": "PostgresEventStore unnest"
            case "optimistic-copy": "PostgresEventStore COPY (default)"
            case "pipeline": "client → worker → PostgreSQL"
            case "pipeline-unnest": "client → worker → PG (unnest)"
            default: "PostgresEventStore COPY+staging"
            }
            print(label.padding(toLength: 34, withPad: " ", startingAt: 0)
                + String(format: "%8.2f s  %9.0f rows/s", seconds, rate) + ratio)
        }
    }

    /// `psql \copy` of the rows as a COPY text file (the same bytes the COPY method sends).
    static func copyBaseline(_ events: [EnrichedEvent], url: PostgresPool.Configuration, clock: ContinuousClock) throws -> Double {
        var buffer = ByteBufferAllocator().buffer(capacity: events.count * 600)
        for event in events { PostgresEventStore.appendCopyText(event, to: &buffer) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tally-bench-\(getpid()).tsv")
        try Data(buffer.readableBytesView).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", url.host, "-p", String(url.port), "-U", url.username,
                             "-d", url.database, "-c", "\\copy analytics_events FROM '\(file.path)'"]
        var environment = ProcessInfo.processInfo.environment
        if let password = url.password { environment["PGPASSWORD"] = password }
        process.environment = environment
        let start = clock.now
        try process.run()
        process.waitUntilExit()
        let seconds = (clock.now - start).seconds
        guard process.terminationStatus == 0 else { throw Failure("psql \\copy failed (exit \(process.terminationStatus))") }
        return seconds
    }

    static func write(_ events: [EnrichedEvent], to store: PostgresEventStore, batch: Int, writers: Int, clock: ContinuousClock) async throws -> Double {
        let batches = stride(from: 0, to: events.count, by: batch).map { Array(events[$0..<min($0 + batch, events.count)]) }
        let start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for index in stride(from: writer, to: batches.count, by: writers) {
                        try await store.write(batches[index])
                    }
                }
            }
            try await group.waitForAll()
        }
        return (clock.now - start).seconds
    }

    /// Pre-stamped events through `submit` (ids and times kept, backpressure when
    /// the buffer is full) and the worker in a ServiceGroup; the clock stops when
    /// the worker's graceful drain returns, every event committed.
    static func pipeline(_ events: [EnrichedEvent], to store: PostgresEventStore, batch: Int, catchUp: Int, clock: ContinuousClock) async throws -> Double {
        var configuration = AnalyticsConfiguration(service: "api", sink: store)
        configuration.batchSize = batch
        configuration.catchUpBatches = catchUp
        configuration.logger = logger
        let pipeline = AnalyticsPipeline(configuration: configuration)
        let group = ServiceGroup(configuration: .init(services: [pipeline.worker], gracefulShutdownSignals: [], logger: logger))
        let start = clock.now
        let running = Task { try await group.run() }
        let accepted = await pipeline.client.submit(events)
        await group.triggerGracefulShutdown()
        try await running.value
        let seconds = (clock.now - start).seconds
        guard accepted == events.count else { throw Failure("the client accepted \(accepted) of \(events.count) events") }
        return seconds
    }

    static func admin(_ server: PostgresPool.Configuration, _ sql: String) async throws {
        try await PostgresPool.withRunning(server, logger: logger, check: false) { database in
            try await database.execute(PostgresQuery(unsafeSQL: sql))
        }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
