import PostgresNIO
import ServiceLifecycle
import Tally
import TallyPostgres
import TallyPostgresTesting
import TallyTesting
import Testing

@Suite("PostgreSQL partitions and retention")
struct PartitionLifecycleTests {
    static let now = Timestamp(iso8601: "2026-11-23T15:00:00Z")!

    /// `perDay` events on each of the `days` UTC days ending with `now`'s day.
    static func events(days: Int, perDay: Int) -> [EnrichedEvent] {
        let today = now.startOfDay
        return (0..<days).flatMap { day in
            (0..<perDay).map { i in
                let example = CatalogueExamples.all[(day * perDay + i) % CatalogueExamples.all.count]
                let time = today.adding(days: -day).adding(microseconds: Int64(i) * 3_600_000_000 + 17)
                return CatalogueExamples.event(example, at: time, seed: UInt64(day * 1_000 + i))
            }
        }
    }

    static func rows(_ database: PostgresPool, in table: String) async throws -> Int {
        try await database.query(PostgresQuery(unsafeSQL: "SELECT count(*)::int8 FROM \(table)")) { row in
            Int(try row.decode(Int64.self))
        }.first ?? 0
    }

    static func oldestDay(_ database: PostgresPool) async throws -> Timestamp? {
        try await PostgresEventStore(database: database).dailyCounts().first?.day
    }

    @Test("an event for a day without a partition is stored, then moves to the day's partition when it is created")
    func defaultPartitionThenMove() async throws {
        try await TestPostgres.withMigratedDatabase { database async throws in
            let store = PostgresEventStore(database: database)
            let batch = Self.events(days: 3, perDay: 24)
            #expect(try await store.write(batch) == 72)
            #expect(try await Self.rows(database, in: "analytics_events_default") == 72)

            var configuration = PartitionLifecycle.Configuration()
            configuration.daysAhead = 2
            let report = try await PartitionLifecycle(database: database, mode: .partitioned, configuration: configuration)
                .runOnce(now: Self.now)
            #expect(report.createdPartitions == [
                "analytics_events_p20261121", "analytics_events_p20261122", "analytics_events_p20261123",
                "analytics_events_p20261124", "analytics_events_p20261125",
            ])
            #expect(report.movedFromDefault == 72)
            #expect(try await Self.rows(database, in: "analytics_events_default") == 0)
            #expect(try await Self.rows(database, in: "analytics_events_p20261122") == 24)

            // The dedupe key still holds across the move, and new rows route to the partition.
            #expect(try await store.write(batch) == 0)
            #expect(try await store.count() == 72)
            let next = CatalogueExamples.event(CatalogueExamples.all[0], at: Self.now.adding(days: 1), seed: 9)
            #expect(try await store.write([next]) == 1)
            #expect(try await Self.rows(database, in: "analytics_events_p20261124") == 1)

            // A second run finds everything in place.
            let again = try await PartitionLifecycle(database: database, mode: .partitioned, configuration: configuration)
                .runOnce(now: Self.now)
            #expect(again.createdPartitions.isEmpty)
            #expect(again.droppedPartitions.isEmpty)
        }
    }

    @Test("with 100 days of events, retention keeps exactly the last 90 days by dropping 10 partitions")
    func retentionDropsPartitions() async throws {
        try await TestPostgres.withMigratedDatabase { database async throws in
            let store = PostgresEventStore(database: database)
            #expect(try await store.write(Self.events(days: 100, perDay: 10)) == 1_000)

            // Partitions for all 100 days first (as a lifecycle job running daily would have made them).
            var keepAll = PartitionLifecycle.Configuration()
            keepAll.retentionDays = 365
            let setUp = try await PartitionLifecycle(database: database, mode: .partitioned, configuration: keepAll).runOnce(now: Self.now)
            #expect(setUp.movedFromDefault == 1_000)
            #expect(setUp.droppedEvents == 0)

            let report = try await PartitionLifecycle(database: database, mode: .partitioned).runOnce(now: Self.now)
            #expect(report.droppedPartitions.count == 10)
            #expect(report.droppedPartitions.first == "analytics_events_p20260816")
            #expect(report.droppedPartitions.last == "analytics_events_p20260825")
            #expect(report.droppedEvents == 100)
            #expect(report.deletedFromDefault == 0)
            #expect(report.cutoff == Timestamp(iso8601: "2026-08-26")!)
            #expect(try await store.count() == 900)
            #expect(try await Self.oldestDay(database) == Timestamp(iso8601: "2026-08-26")!)
            #expect(Set(try await store.dailyCounts().map(\.day)).count == 90)
        }
    }

    @Test("retention also removes old events waiting in the default partition")
    func retentionFromDefault() async throws {
        try await TestPostgres.withMigratedDatabase { database async throws in
            let store = PostgresEventStore(database: database)
            #expect(try await store.write(Self.events(days: 100, perDay: 10)) == 1_000)
            let report = try await PartitionLifecycle(database: database, mode: .partitioned).runOnce(now: Self.now)
            #expect(report.deletedFromDefault == 100)
            #expect(report.droppedPartitions.isEmpty)
            #expect(report.droppedEvents == 0)
            #expect(report.movedFromDefault == 900)
            #expect(try await store.count() == 900)
            #expect(try await Self.rows(database, in: "analytics_events_default") == 0)
            #expect(try await Self.oldestDay(database) == Timestamp(iso8601: "2026-08-26")!)
        }
    }

    @Test("the lifecycle service runs on its schedule and stops on cancellation")
    func serviceRuns() async throws {
        try await TestPostgres.withMigratedDatabase { database async throws in
            var configuration = PartitionLifecycle.Configuration()
            configuration.interval = .milliseconds(50)
            configuration.daysAhead = 1
            let lifecycle = PartitionLifecycle(database: database, mode: .partitioned, configuration: configuration, logger: TestPostgres.logger)
            let task = Task { try await lifecycle.run() }
            let today = "analytics_events_p" + Timestamp.now().dateString.filter { $0 != "-" }
            var created = false
            for _ in 0..<100 where !created {
                try await Task.sleep(for: .milliseconds(50))
                created = try await database.query("SELECT to_regclass(\(today)) IS NOT NULL") { row in try row.decode(Bool.self) } == [true]
            }
            task.cancel()
            try await task.value
            #expect(created, "the service created today's partition")
        }
    }

    @Test("in a ServiceGroup, the pool starts first, the job runs, and a graceful shutdown stops both")
    func serviceGroup() async throws {
        try await TestPostgres.withMigratedDatabase { migrated async throws in
            let pool = PostgresPool(configuration: migrated.configuration, logger: TestPostgres.logger)
            var configuration = PartitionLifecycle.Configuration()
            configuration.interval = .milliseconds(50)
            configuration.daysAhead = 2
            let lifecycle = PartitionLifecycle(database: pool, mode: .partitioned, configuration: configuration, logger: TestPostgres.logger)
            // Reverse order on shutdown: the job stops before the pool it uses.
            let group = ServiceGroup(services: [pool, lifecycle], gracefulShutdownSignals: [], logger: TestPostgres.logger)
            let running = Task { try await group.run() }
            let dayAfterTomorrow = "analytics_events_p" + Timestamp.now().adding(days: 2).dateString.filter { $0 != "-" }
            var created = false
            for _ in 0..<100 where !created {
                try await Task.sleep(for: .milliseconds(50))
                created = try await migrated.query("SELECT to_regclass(\(dayAfterTomorrow)) IS NOT NULL") { row in try row.decode(Bool.self) } == [true]
            }
            await group.triggerGracefulShutdown()
            try await running.value
            #expect(created, "the job made the partition two days ahead")
        }
    }
}
