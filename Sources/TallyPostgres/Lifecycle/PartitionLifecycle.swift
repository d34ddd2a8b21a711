import Logging
import PostgresNIO
import ServiceLifecycle
import Tally

/// Keeps `analytics_events` in shape on a schedule: partitions created ahead,
/// events older than the retention dropped a whole partition at a time, and on
/// TimescaleDB chunks compressed after a week.
///
/// It calls TimescaleDB's functions (`compress_chunk`, `drop_chunks`) itself
/// rather than relying on TimescaleDB's background jobs, which are unavailable
/// on some builds and fail on some versions.
///
/// Retention counts whole UTC days: with the default 90, the 90 days ending
/// with today are kept and anything older is dropped.
///
/// > Warning: ``runOnce(now:)`` deletes every event older than the retention.
public struct PartitionLifecycle: Service {
    public struct Configuration: Sendable, Hashable {
        /// UTC days of raw events kept, today included. Defaults to 90.
        public var retentionDays = 90
        /// Days after which a TimescaleDB chunk is compressed. Defaults to 7.
        public var compressAfterDays = 7
        /// Daily partitions created ahead of today. Defaults to 7.
        public var daysAhead = 7
        /// Time between two runs of ``run()``. Defaults to one hour.
        public var interval: Duration = .seconds(3_600)

        public init() {}
    }

    /// What one run did.
    public struct Report: Sendable, Hashable {
        /// Partitions created, by name (partitioned mode).
        public var createdPartitions: [String] = []
        /// Events moved out of the default partition into their new day partition.
        public var movedFromDefault = 0
        /// Partitions or chunks dropped for retention, by name.
        public var droppedPartitions: [String] = []
        /// Events the dropped partitions or chunks held.
        public var droppedEvents = 0
        /// Events older than the retention deleted from the default partition
        /// (they arrived after their day's partition was dropped, or before any was made).
        public var deletedFromDefault = 0
        /// TimescaleDB chunks compressed.
        public var compressedChunks: [String] = []
        /// The oldest instant kept: the start of the oldest retained day.
        public var cutoff = Timestamp(microsecondsSinceEpoch: 0)

        public init() {}
    }

    public let database: PostgresPool
    public let mode: PostgresStorageMode
    public let configuration: Configuration
    let logger: Logger

    public init(database: PostgresPool, mode: PostgresStorageMode, configuration: Configuration = Configuration(),
                logger: Logger = Logger(label: "tally.lifecycle")) {
        precondition(configuration.retentionDays >= 1, "retention must keep at least today")
        self.database = database
        self.mode = mode
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs ``runOnce(now:)`` every ``Configuration/interval`` until graceful shutdown.
    /// A failed run is logged and retried at the next tick.
    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let report = try await runOnce()
                logger.info("lifecycle run", metadata: [
                    "created": "\(report.createdPartitions.count)", "dropped": "\(report.droppedPartitions.count)",
                    "dropped_events": "\(report.droppedEvents + report.deletedFromDefault)", "compressed": "\(report.compressedChunks.count)",
                ])
            } catch {
                logger.error("lifecycle run failed; retrying at the next tick", metadata: ["error": "\(error)"])
            }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: configuration.interval) }
            } catch {
                return
            }
        }
    }

    /// One run: partitions ahead, retention, compression.
    public func runOnce(now: Timestamp = .now()) async throws -> Report {
        var report = Report()
        let today = now.startOfDay
        report.cutoff = today.adding(days: -(configuration.retentionDays - 1))
        switch mode {
        case .partitioned:
            try await dropExpiredPartitions(before: report.cutoff, into: &report)
            try await createPartitions(today: today, cutoff: report.cutoff, into: &report)
        case .timescaledb:
            try await dropAndCompressChunks(today: today, into: &report)
        }
        return report
    }

    // MARK: Partitioned

    static let partitionPrefix = "analytics_events_p"

    /// `analytics_events_p20261123` for the UTC day starting at `day`.
    static func partitionName(_ day: Timestamp) -> String {
        partitionPrefix + day.dateString.filter { $0 != "-" }
    }

    /// The day a partition name stands for, if it is one of ours.
    static func partitionDay(_ name: String) -> Timestamp? {
        guard name.hasPrefix(partitionPrefix) else { return nil }
        let digits = name.dropFirst(partitionPrefix.count)
        guard digits.count == 8, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        let a = digits.startIndex
        let iso = "\(digits[a..<digits.index(a, offsetBy: 4)])-\(digits[digits.index(a, offsetBy: 4)..<digits.index(a, offsetBy: 6)])-\(digits.suffix(2))"
        return Timestamp(iso8601: iso)
    }

    /// Today, the days ahead, and every retained day that has events waiting in the default partition.
    private func createPartitions(today: Timestamp, cutoff: Timestamp, into report: inout Report) async throws {
        let waiting = try await database.query("""
            SELECT DISTINCT floor(extract(epoch FROM timestamp) / 86400)::int8
            FROM analytics_events_default
            WHERE timestamp >= \(PostgresTimestamp(cutoff))
            """) { row in Timestamp(microsecondsSinceEpoch: try row.decode(Int64.self) * Timestamp.microsecondsPerDay) }
        let days = Set((0...configuration.daysAhead).map { today.adding(days: $0) } + waiting).sorted()
        let existing = Set(try await partitions().map(\.name))
        for day in days where !existing.contains(Self.partitionName(day)) {
            if let moved = try await createPartition(day) {
                report.createdPartitions.append(Self.partitionName(day))
                report.movedFromDefault += moved
            }
        }
    }

    /// Creates one day's partition, moving that day's rows out of the default
    /// partition in the same transaction (PostgreSQL refuses to create a partition
    /// whose range the default partition still holds rows of).
    ///
    /// - Returns: rows moved, or nil if another run created it first.
    private func createPartition(_ day: Timestamp) async throws -> Int? {
        let name = Self.partitionName(day)
        // Identifiers and bounds come from a computed date, never from input.
        let from = "'\(day.iso8601)'"
        let to = "'\(day.adding(days: 1).iso8601)'"
        let logger = database.logger
        return try await database.withConnection { connection in
            try await connection.exec("BEGIN", logger: logger)
            do {
                // Serializes creators and holds writers off the default partition
                // while its rows for this day move.
                try await connection.exec("LOCK TABLE analytics_events_default IN ACCESS EXCLUSIVE MODE", logger: logger)
                var exists = false
                for try await row in try await connection.query("SELECT to_regclass(\(name)) IS NOT NULL", logger: logger) {
                    exists = try row.decode(Bool.self)
                }
                if exists {
                    try await connection.exec("COMMIT", logger: logger)
                    return nil
                }
                try await connection.exec(PostgresQuery(unsafeSQL: """
                    CREATE TABLE \(name) (LIKE analytics_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
                    """), logger: logger)
                var moved = 0
                for try await row in try await connection.query(PostgresQuery(unsafeSQL: """
                    WITH moved AS (
                        DELETE FROM analytics_events_default WHERE timestamp >= \(from) AND timestamp < \(to) RETURNING *
                    ), inserted AS (
                        INSERT INTO \(name) SELECT * FROM moved RETURNING 1
                    )
                    SELECT count(*)::int8 FROM inserted
                    """), logger: logger) {
                    moved = Int(try row.decode(Int64.self))
                }
                // A check constraint matching the range lets ATTACH skip its validation scan.
                try await connection.exec(PostgresQuery(unsafeSQL: """
                    ALTER TABLE \(name) ADD CONSTRAINT \(name)_range CHECK (timestamp >= \(from) AND timestamp < \(to))
                    """), logger: logger)
                try await connection.exec(PostgresQuery(unsafeSQL: """
                    ALTER TABLE analytics_events ATTACH PARTITION \(name) FOR VALUES FROM (\(from)) TO (\(to))
                    """), logger: logger)
                try await connection.exec(PostgresQuery(unsafeSQL: "ALTER TABLE \(name) DROP CONSTRAINT \(name)_range"), logger: logger)
                try await connection.exec("COMMIT", logger: logger)
                return moved
            } catch {
                try? await connection.exec("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// The day partitions of `analytics_events`, oldest first.
    func partitions() async throws -> [(name: String, day: Timestamp)] {
        try await database.query("""
            SELECT c.relname::text
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'analytics_events'::regclass
            """) { row in try row.decode(String.self) }
            .compactMap { name in Self.partitionDay(name).map { (name, $0) } }
            .sorted { $0.day < $1.day }
    }

    private func dropExpiredPartitions(before cutoff: Timestamp, into report: inout Report) async throws {
        for partition in try await partitions() where partition.day < cutoff {
            let name = partition.name
            let logger = database.logger
            let dropped = try await database.withConnection { connection in
                try await connection.exec("BEGIN", logger: logger)
                do {
                    var count = 0
                    for try await row in try await connection.query(PostgresQuery(unsafeSQL: "SELECT count(*)::int8 FROM \(name)"), logger: logger) {
                        count = Int(try row.decode(Int64.self))
                    }
                    try await connection.exec(PostgresQuery(unsafeSQL: "DROP TABLE \(name)"), logger: logger)
                    try await connection.exec("COMMIT", logger: logger)
                    return count
                } catch {
                    try? await connection.exec("ROLLBACK", logger: logger)
                    throw error
                }
            }
            report.droppedPartitions.append(name)
            report.droppedEvents += dropped
        }
        // Old events that arrived after their day's partition was dropped wait in
        // the default partition: delete them too.
        report.deletedFromDefault = try await database.query("""
            WITH deleted AS (DELETE FROM analytics_events_default WHERE timestamp < \(PostgresTimestamp(cutoff)) RETURNING 1)
            SELECT count(*)::int8 FROM deleted
            """) { row in Int(try row.decode(Int64.self)) }.first ?? 0
    }

    // MARK: TimescaleDB

    private func dropAndCompressChunks(today: Timestamp, into report: inout Report) async throws {
        let cutoff = PostgresTimestamp(report.cutoff)
        report.droppedEvents = try await database.query("""
            SELECT count(*)::int8 FROM analytics_events WHERE timestamp < \(cutoff)
            """) { row in Int(try row.decode(Int64.self)) }.first ?? 0
        report.droppedPartitions = try await database.query("""
            SELECT c::text FROM drop_chunks('analytics_events', older_than => \(cutoff)) AS c
            """) { row in try row.decode(String.self) }
        let compressBefore = PostgresTimestamp(today.adding(days: -configuration.compressAfterDays))
        report.compressedChunks = try await database.query("""
            SELECT compress_chunk(c, if_not_compressed => true)::text
            FROM show_chunks('analytics_events', older_than => \(compressBefore)) AS c
            WHERE NOT EXISTS (
                SELECT 1 FROM timescaledb_information.chunks i
                WHERE format('%I.%I', i.chunk_schema, i.chunk_name)::regclass = c AND i.is_compressed)
            """) { row in try row.decode(String.self) }
    }
}
