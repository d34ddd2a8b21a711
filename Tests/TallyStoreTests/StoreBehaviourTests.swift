import Foundation
import Tally
import TallyPostgres
import TallyPostgresTesting
import TallySQLite
import TallyTesting
import Testing

/// One behavioural suite, run against every store.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
    case memory, sqlite
    /// A database of its own on the server of TALLY_TEST_DATABASE_URL, in daily-partition mode.
    case postgres
    /// The same on TimescaleDB; left out of the runs when the server cannot create the extension.
    case timescaledb

    var testDescription: String { rawValue }

    /// The kinds every run exercises. PostgreSQL is always in: without a server its
    /// tests fail saying to run scripts/test. TimescaleDB has a suite of its own,
    /// reported as skipped when the server cannot create the extension.
    static let always: [StoreKind] = [.memory, .sqlite, .postgres]

    /// Runs `body` with a fresh, migrated store, then removes it.
    func withStore(_ body: @Sendable (any EventStore) async throws -> Void) async throws {
        switch self {
        case .memory:
            try await body(MemoryEventStore())
        case .sqlite:
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let database = try SQLiteDatabase(path: directory.file("events.sqlite"))
            try await Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget(database: database)).migrate(phases: [.pre, .post])
            try await body(SQLiteEventStore(database: database))
        case .postgres, .timescaledb:
            try await TestPostgres.withMigratedDatabase(mode: self == .postgres ? .partitioned : .timescaledb) { database async throws in
                try await body(PostgresEventStore(database: database))
            }
        }
    }
}

@Suite("Store behaviour")
struct StoreBehaviourTests {
    static let start = Timestamp(iso8601: "2026-11-01T00:00:00Z")!

    /// 10,000 distinct events spread over 10 days, every catalogue shape.
    static func tenThousandEvents() -> [EnrichedEvent] {
        (0..<10_000).map { i in
            let example = CatalogueExamples.all[i % CatalogueExamples.all.count]
            return CatalogueExamples.event(example, at: start.adding(microseconds: Int64(i) * 86_400_000), seed: UInt64(i))
        }
    }

    @Test("writing the same 10,000 events twice stores 10,000", arguments: StoreKind.always)
    func sameBatchTwiceStoredOnce(kind: StoreKind) async throws {
        try await kind.withStore(Self.sameBatchTwiceStoredOnce)
    }

    @Test("every catalogue event reads back exactly as written", arguments: StoreKind.always)
    func roundTrip(kind: StoreKind) async throws {
        try await kind.withStore(Self.roundTrip)
    }

    @Test("events are returned in time order within the range, up to the limit", arguments: StoreKind.always)
    func rangeAndLimit(kind: StoreKind) async throws {
        try await kind.withStore(Self.rangeAndLimit)
    }

    @Test("daily counts group by UTC day and event type", arguments: StoreKind.always)
    func dailyCounts(kind: StoreKind) async throws {
        try await kind.withStore(Self.dailyCounts)
    }

    @Test("concurrent writers store every event once", arguments: StoreKind.always)
    func concurrentWriters(kind: StoreKind) async throws {
        try await kind.withStore(Self.concurrentWriters)
    }
}

/// The same behaviours on a TimescaleDB hypertable.
@Suite("Store behaviour on TimescaleDB", .enabled("the test server cannot create the timescaledb extension") {
    await TestPostgres.timescaleAvailable()
})
struct TimescaleStoreBehaviourTests {
    @Test("writing the same 10,000 events twice stores 10,000")
    func sameBatchTwiceStoredOnce() async throws {
        try await StoreKind.timescaledb.withStore(StoreBehaviourTests.sameBatchTwiceStoredOnce)
    }

    @Test("every catalogue event reads back exactly as written")
    func roundTrip() async throws {
        try await StoreKind.timescaledb.withStore(StoreBehaviourTests.roundTrip)
    }

    @Test("events are returned in time order within the range, up to the limit")
    func rangeAndLimit() async throws {
        try await StoreKind.timescaledb.withStore(StoreBehaviourTests.rangeAndLimit)
    }

    @Test("daily counts group by UTC day and event type")
    func dailyCounts() async throws {
        try await StoreKind.timescaledb.withStore(StoreBehaviourTests.dailyCounts)
    }

    @Test("concurrent writers store every event once")
    func concurrentWriters() async throws {
        try await StoreKind.timescaledb.withStore(StoreBehaviourTests.concurrentWriters)
    }
}

extension StoreBehaviourTests {
    @Sendable
    static func sameBatchTwiceStoredOnce(_ store: any EventStore) async throws {
        let events = Self.tenThousandEvents()
        #expect(Set(events.map(\.eventID)).count == 10_000)

        let first = try await store.write(events)
        let second = try await store.write(events)
        // A partial overlap, as a retry after a timeout would send.
        let third = try await store.write(Array(events[5_000..<7_000]))

        #expect(first == 10_000)
        #expect(second == 0)
        #expect(third == 0)
        #expect(try await store.count() == 10_000)
    }

    @Sendable
    static func roundTrip(_ store: any EventStore) async throws {
        var events = CatalogueExamples.enrichedAll(startingAt: Self.start)
        // A custom event with nested, mixed-type properties, and one without a user.
        events.append(EnrichedEvent(
            eventID: .generate(at: Self.start), payload: .custom(name: "Report Exported", properties: [
                "format": "csv", "rows": 120, "ratio": 0.25, "tags": ["a", "b"], "nested": ["ok": true, "none": nil],
            ]),
            timestamp: Self.start.adding(microseconds: 7), receivedAt: Self.start.adding(days: 2), service: "web",
            anonymousID: "anon-1", context: EventContext(extra: ["device": ["model": "Pixel 9"]])))

        try await store.write(events)
        let read = try await store.events(in: Self.start..<Self.start.adding(days: 1), limit: 1_000)

        #expect(read.count == events.count)
        let expected = events.sorted { ($0.timestamp, $0.eventID) < ($1.timestamp, $1.eventID) }
        for (stored, original) in zip(read, expected) {
            #expect(stored == original)
        }
    }

    @Sendable
    static func rangeAndLimit(_ store: any EventStore) async throws {
        let events = Self.tenThousandEvents()
        try await store.write(events.shuffled())

        let dayTwo = Self.start.adding(days: 1)
        let read = try await store.events(in: dayTwo..<dayTwo.adding(days: 1), limit: 5_000)
        let expected = events.filter { $0.timestamp >= dayTwo && $0.timestamp < dayTwo.adding(days: 1) }
        #expect(read.map(\.eventID) == expected.map(\.eventID))
        #expect(read.count == 1_000)

        let limited = try await store.events(in: Self.start..<Self.start.adding(days: 30), limit: 10)
        #expect(limited.map(\.eventID) == events.prefix(10).map(\.eventID))
    }

    @Sendable
    static func dailyCounts(_ store: any EventStore) async throws {
        let events = Self.tenThousandEvents()
        try await store.write(events)

        let counts = try await store.dailyCounts()
        #expect(counts.reduce(0) { $0 + $1.count } == 10_000)
        #expect(Set(counts.map(\.day)).count == 10)
        let expected = Dictionary(grouping: events) { "\($0.timestamp.startOfDay) \($0.name)" }.mapValues(\.count)
        for count in counts {
            #expect(expected["\(count.day) \(count.eventType)"] == count.count)
        }
    }

    @Sendable
    static func concurrentWriters(_ store: any EventStore) async throws {
        let events = Self.tenThousandEvents()
        // What each write reported as newly stored: the ingest answers "stored"
        // and "duplicates" from it, so across writers it must add up exactly.
        let reported = try await withThrowingTaskGroup(of: Int.self) { group in
            // Eight writers, each sending overlapping halves in batches of 100.
            for writer in 0..<8 {
                let slice = writer % 2 == 0 ? events[0..<6_000] : events[4_000..<10_000]
                group.addTask {
                    var stored = 0
                    var batch: [EnrichedEvent] = []
                    for event in slice {
                        batch.append(event)
                        if batch.count == 100 { stored += try await store.write(batch); batch.removeAll() }
                    }
                    return stored + (try await store.write(batch))
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(reported == 10_000)
        #expect(try await store.count() == 10_000)
    }
}
