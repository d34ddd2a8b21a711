import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Tally
import TallyPostgres
import TallySQLite

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Generate realistic traffic for every catalogue event and store it.",
        discussion: """
            Seeded, so the same options on the same day produce the same events; running it \
            twice stores nothing new (events are deduplicated by id).
            """
    )

    @OptionGroup var options: DatabaseOptions

    @Option(help: "Distinct users by the last day.")
    var users = 1_000

    @Option(help: "Days of history, ending today.")
    var days = 30

    @Option(help: "Random seed; the same seed gives the same events.")
    var seed: UInt64 = 42

    @Option(help: ArgumentHelp("The demo's present, ISO-8601; nothing happens after it.", discussion: "Defaults to now."))
    var end: String?

    @Option(help: "Events per write transaction (or per request with --server).")
    var batchSize = 1_000

    @Option(help: ArgumentHelp("Send the traffic to a running `tally serve` at this URL instead of writing to a database.",
                               discussion: "e.g. --server http://127.0.0.1:8080; needs --write-key. The server's dashboard shows it within a minute."))
    var server: String?

    @Option(help: "The write key for --server (tally serve prints one on first start; `tally keys create --scope write` makes more).")
    var writeKey: String?

    func validate() throws {
        guard users > 0 else { throw ValidationError("--users must be at least 1") }
        guard (1...3_650).contains(days) else { throw ValidationError("--days must be between 1 and 3650") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be at least 1") }
        if server != nil, writeKey == nil {
            throw ValidationError("--server needs --write-key: the write key tally serve printed, or one from `tally keys create --service demo --scope write`")
        }
        if let end, Timestamp(iso8601: end) == nil {
            throw ValidationError("--end must be an ISO-8601 date or date-time such as 2026-11-23T12:00:00Z")
        }
    }

    func run() async throws {
        if let server, let writeKey {
            return try await sendToServer(server, writeKey: writeKey)
        }
        switch try options.backend() {
        case .sqlite(let path):
            try await MigrateCommand.migrate(path: path, phases: [.pre, .post], quiet: true)
            let database = try SQLiteDatabase(path: path)
            let store = SQLiteEventStore(database: database)
            let traffic = try await fill(store, name: "SQLite \(path)")
            try await database.checkpoint()

            try await refresh(SQLiteAggregateStore(database: database), traffic: traffic)
            let total = try await store.count()
            print("""
                Database: \(path), \(Format.bytes(database.fileSize())), \
                \(total > 0 ? "\(database.fileSize() / Int64(total)) bytes/event" : "empty").
                """)
        case .postgres(let configuration):
            let demo = self
            try await PostgresPool.withCommandDatabase(configuration) { database in
                let mode = try await PostgresMigrationTarget.mode(of: database)
                try await Migrator(migrations: PostgresMigrations.all(mode: mode),
                                   target: PostgresMigrationTarget(database: database, mode: mode)).migrate(phases: [.pre, .post])
                let traffic = try await demo.fill(PostgresEventStore(database: database), name: database.displayName)
                try await demo.refresh(PostgresAggregateStore(database: database), traffic: traffic)
            }
        }
    }

    /// The dashboard reads aggregates: brings them up to date now rather than at
    /// the next hourly refresh.
    private func refresh(_ aggregates: some AggregateStore, traffic: DemoTraffic) async throws {
        FileHandle.standardError.write(Data("Refreshing aggregates…\n".utf8))
        let progress = LockedProgress(unit: "days")
        let clock = ContinuousClock()
        let start = clock.now
        let report = try await AggregateRefresher(store: aggregates)
            .refresh(from: traffic.startOfDay(0), to: traffic.configuration.end.adding(microseconds: 1), now: traffic.configuration.end) { done, total in
                progress.update(done, total)
            }
        progress.finish()
        print("""
            Refreshed the aggregates of \(report.days.count) days in \(String(format: "%.2f", (clock.now - start).seconds)) s; \
            try `tally report api-latency`.
            """)
    }

    /// Generates the traffic and sends it the way an app's events go — client →
    /// buffer → worker → `store` — with a progress bar, then prints a summary.
    private func fill(_ store: some EventStore, name: String) async throws -> DemoTraffic {
        let before = try await store.count()

        var trafficConfiguration = DemoTraffic.Configuration(end: end.flatMap { Timestamp(iso8601: $0) } ?? .now())
        trafficConfiguration.users = users
        trafficConfiguration.days = days
        trafficConfiguration.seed = seed
        let traffic = DemoTraffic(configuration: trafficConfiguration)

        let sent = try await send(traffic, to: store, name: name)
        let (generated, generating, elapsed, durable) = (sent.generated, sent.generating, sent.elapsed, sent.durable)

        try await printSummary(store: store)
        let total = try await store.count()
        let stored = total - before
        print("""

            Generated \(Format.count(generated)) events in \(String(format: "%.2f", generating.seconds)) s of CPU \
            (\(Format.count(Int(Double(generated) / max(generating.seconds, 1e-9)))) events/s).
            Stored \(Format.count(stored)) new events through client → worker → store in \(String(format: "%.2f", elapsed.seconds)) s \
            (\(Format.count(Int(Double(durable) / max(elapsed.seconds, 1e-9)))) events/s durable, batches of \(batchSize)).
            \(generated - stored == 0 ? "" : "\(Format.count(generated - stored)) were already stored (same seed, days and end as before): skipped by id.\n")\
            \(name): \(Format.count(total)) events (\(Format.count(before)) before).
            """)
        return traffic
    }
    /// What sending the demo traffic did.
    struct Sent {
        var generated: Int
        var generating: Duration
        var elapsed: Duration
        var durable: Int
    }

    /// Generates the traffic day by day and sends it the way an app's events go —
    /// client → buffer → worker → `sink` — with a progress bar of durable events.
    func send(_ traffic: DemoTraffic, to sink: some EventSink, name: String) async throws -> Sent {
        let durable = DurableCounter()
        var configuration = AnalyticsConfiguration(service: "demo", sink: sink)
        configuration.batchSize = batchSize
        configuration.bufferCapacity = max(10_000, batchSize * 10)
        configuration.flushInterval = .milliseconds(250)
        configuration.onDurable = { ids in durable.add(ids.count) }
        configuration.logger.logLevel = .error
        let pipeline = AnalyticsPipeline(configuration: configuration)
        var logger = Logger(label: "tally.demo")
        logger.logLevel = .error
        let services = ServiceGroup(configuration: .init(
            services: [pipeline.worker], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))

        FileHandle.standardError.write(Data("Generating \(days) days of traffic for \(Format.count(users)) users into \(name)…\n".utf8))
        let progress = ProgressBar(total: traffic.estimatedEventsPerDay * days, unit: "events")
        let clock = ContinuousClock()
        let started = clock.now
        var generated = 0
        var generating = Duration.zero
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await services.run() }
            for day in 0..<days {
                let start = clock.now
                let events = traffic.events(forDay: day)
                generating += clock.now - start
                generated += events.count
                var offset = 0
                while offset < events.count {
                    let chunk = events[offset..<min(offset + batchSize, events.count)]
                    let accepted = await pipeline.client.submit(chunk)
                    offset += chunk.count
                    progress.update(durable.value)
                    if accepted < chunk.count { break }
                }
            }
            await services.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let elapsed = clock.now - started
        progress.finish(durable.value)
        return Sent(generated: generated, generating: generating, elapsed: elapsed, durable: durable.value)
    }

    /// Events per day (rows) and family (columns), read back from the store.
    private func printSummary(store: some EventStore) async throws {
        let counts = try await store.dailyCounts()
        let families = EventFamily.allCases
        var perDay: [Timestamp: [EventFamily: Int]] = [:]
        for count in counts {
            guard let family = AnalyticsEvent.schema(named: count.eventType)?.family else { continue }
            perDay[count.day, default: [:]][family, default: 0] += count.count
        }
        var table = TextTable(["day"] + families.map(\.rawValue) + ["total"])
        var totals: [EventFamily: Int] = [:]
        for day in perDay.keys.sorted() {
            let row = perDay[day]!
            for (family, n) in row { totals[family, default: 0] += n }
            table.add([day.dateString] + families.map { Format.count(row[$0] ?? 0) } + [Format.count(row.values.reduce(0, +))])
        }
        table.add(["total"] + families.map { Format.count(totals[$0] ?? 0) } + [Format.count(totals.values.reduce(0, +))])
        print("")
        print("Events stored per day and family:")
        print(table.render())
    }
}

/// Counts events the worker reports durable, for the progress bar.
private final class DurableCounter: Sendable {
    private let count = Atomic<Int>(0)
    func add(_ n: Int) { count.add(n, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
