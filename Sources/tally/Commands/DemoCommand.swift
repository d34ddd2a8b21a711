import ArgumentParser
import Foundation
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

    @Option(help: "Events per write transaction.")
    var batchSize = 1_000

    func validate() throws {
        guard users > 0 else { throw ValidationError("--users must be at least 1") }
        guard (1...3_650).contains(days) else { throw ValidationError("--days must be between 1 and 3650") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be at least 1") }
        if let end, Timestamp(iso8601: end) == nil {
            throw ValidationError("--end must be an ISO-8601 date or date-time such as 2026-11-23T12:00:00Z")
        }
    }

    func run() async throws {
        switch try options.backend() {
        case .sqlite(let path):
            try await MigrateCommand.migrate(path: path, phases: [.pre, .post], quiet: true)
            let database = try SQLiteDatabase(path: path)
            let store = SQLiteEventStore(database: database)
            try await fill(store, name: "SQLite \(path)")
            try await database.checkpoint()
            let total = try await store.count()
            print("Database: \(path), \(Format.bytes(database.fileSize())), \(total > 0 ? "\(database.fileSize() / Int64(total)) bytes/event" : "empty").")
        case .postgres(let configuration):
            let demo = self
            try await PostgresPool.withCommandDatabase(configuration) { database in
                let mode = try await PostgresMigrationTarget.mode(of: database)
                try await Migrator(migrations: PostgresMigrations.all(mode: mode),
                                   target: PostgresMigrationTarget(database: database, mode: mode)).migrate(phases: [.pre, .post])
                try await demo.fill(PostgresEventStore(database: database), name: database.displayName)
            }
        }
    }

    /// Generates the traffic into `store`, with a progress bar, then prints a summary.
    private func fill(_ store: some EventStore, name: String) async throws {
        let before = try await store.count()

        var configuration = DemoTraffic.Configuration(end: end.flatMap { Timestamp(iso8601: $0) } ?? .now())
        configuration.users = users
        configuration.days = days
        configuration.seed = seed
        let traffic = DemoTraffic(configuration: configuration)

        FileHandle.standardError.write(Data("Generating \(days) days of traffic for \(Format.count(users)) users into \(name)…\n".utf8))
        let progress = ProgressBar(total: traffic.estimatedEventsPerDay * days, unit: "events")
        let clock = ContinuousClock()
        var generated = 0
        var stored = 0
        var generating = Duration.zero
        var writing = Duration.zero
        for day in 0..<days {
            let start = clock.now
            let events = traffic.events(forDay: day)
            generating += clock.now - start
            var offset = 0
            while offset < events.count {
                let batch = Array(events[offset..<min(offset + batchSize, events.count)])
                let writeStart = clock.now
                stored += try await store.write(batch)
                writing += clock.now - writeStart
                offset += batch.count
                progress.update(generated + offset)
            }
            generated += events.count
        }
        progress.finish(generated)

        try await printSummary(store: store)
        let total = try await store.count()
        print("""

            Generated \(Format.count(generated)) events in \(String(format: "%.2f", generating.seconds)) s \
            (\(Format.count(Int(Double(generated) / max(generating.seconds, 1e-9)))) events/s).
            Stored \(Format.count(stored)) new events in \(String(format: "%.2f", writing.seconds)) s \
            (\(Format.count(Int(Double(generated) / max(writing.seconds, 1e-9)))) events/s, batches of \(batchSize), durable).
            \(generated - stored == 0 ? "" : "\(Format.count(generated - stored)) were already stored (same seed and days as before): skipped by id.\n")\
            \(name): \(Format.count(total)) events (\(Format.count(before)) before).
            """)
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
