import ArgumentParser
import Tally
import TallyPostgres

struct RetentionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Run the storage lifecycle: partitions ahead, retention, compression.",
        subcommands: [Run.self]
    )

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the lifecycle job once and print what it did.",
            discussion: """
                PostgreSQL: creates the daily partitions of today and the days ahead (moving \
                any of their events out of the default partition), then drops every partition \
                older than the retention. TimescaleDB: drops chunks older than the retention \
                (drop_chunks) and compresses chunks older than --compress-after-days \
                (compress_chunk). Retention counts whole UTC days, today included.
                """
        )

        @OptionGroup var options: DatabaseOptions

        @Option(help: "UTC days of raw events to keep, today included.")
        var retentionDays = 90

        @Option(help: "Daily partitions to create ahead of today (PostgreSQL).")
        var daysAhead = 7

        @Option(help: "Compress chunks older than this many days (TimescaleDB).")
        var compressAfterDays = 7

        @Option(help: ArgumentHelp("Run as if it were this ISO-8601 time.", discussion: "Defaults to now."))
        var now: String?

        func validate() throws {
            guard retentionDays >= 1 else { throw ValidationError("--retention-days must be at least 1 (today is always kept)") }
            guard (0...366).contains(daysAhead) else { throw ValidationError("--days-ahead must be between 0 and 366") }
            guard compressAfterDays >= 1 else { throw ValidationError("--compress-after-days must be at least 1") }
            if let now, Timestamp(iso8601: now) == nil {
                throw ValidationError("--now must be an ISO-8601 date or date-time such as 2026-11-23T12:00:00Z")
            }
        }

        func run() async throws {
            guard case .postgres(let configuration) = try options.backend() else {
                throw CommandError("""
                    `tally retention run` works on PostgreSQL and TimescaleDB; this build keeps SQLite \
                    events until you delete them. Give a postgres:// URL with --database or DATABASE_URL.
                    """)
            }
            var lifecycle = PartitionLifecycle.Configuration()
            lifecycle.retentionDays = retentionDays
            lifecycle.daysAhead = daysAhead
            lifecycle.compressAfterDays = compressAfterDays
            let instant = now.flatMap { Timestamp(iso8601: $0) } ?? .now()
            let settings = lifecycle
            try await PostgresPool.withCommandDatabase(configuration) { database in
                let applied = try await PostgresMigrationTarget(database: database, mode: .partitioned).appliedMigrations()
                guard !applied.isEmpty else {
                    throw CommandError("\(database.displayName) has no Tally schema: run `tally migrate all` on it first")
                }
                let mode = try await PostgresMigrationTarget.mode(of: database)
                let report = try await PartitionLifecycle(database: database, mode: mode, configuration: settings).runOnce(now: instant)
                print(Self.describe(report, database: database.displayName, mode: mode, retentionDays: settings.retentionDays))
            }
        }

        static func describe(_ report: PartitionLifecycle.Report, database: String, mode: PostgresStorageMode, retentionDays: Int) -> String {
            let unit = mode == .partitioned ? "partition" : "chunk"
            func plural(_ n: Int, _ word: String) -> String { "\(Format.count(n)) \(word)\(n == 1 ? "" : "s")" }
            func names(_ list: [String]) -> String {
                switch list.count {
                case 0: ""
                case 1...4: ": " + list.joined(separator: ", ")
                default: ": \(list[0]), \(list[1]) … \(list[list.count - 1])"
                }
            }
            var lines = ["\(database) (\(mode)): keeping \(retentionDays) days, from \(report.cutoff.dateString) on."]
            if mode == .partitioned {
                lines.append("Created \(plural(report.createdPartitions.count, "partition"))\(names(report.createdPartitions))"
                    + (report.movedFromDefault > 0 ? "; moved \(plural(report.movedFromDefault, "event")) out of the default partition into them" : "")
                    + ".")
            }
            lines.append("Dropped \(plural(report.droppedPartitions.count, unit)) holding \(plural(report.droppedEvents, "event"))"
                + "\(names(report.droppedPartitions)).")
            if report.deletedFromDefault > 0 {
                lines.append("Deleted \(plural(report.deletedFromDefault, "event")) older than \(report.cutoff.dateString) from the default partition.")
            }
            if mode == .timescaledb {
                lines.append("Compressed \(plural(report.compressedChunks.count, "chunk"))\(names(report.compressedChunks)).")
            }
            return lines.joined(separator: "\n")
        }
    }
}
