import Foundation
import Tally
import TallySQLite
import TallyTesting
import Testing

/// One behavioural suite, run against every store.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
    case memory, sqlite

    var testDescription: String { rawValue }

    /// A fresh, migrated store, and a cleanup to call when done.
    func makeStore() async throws -> (store: any EventStore, cleanup: @Sendable () -> Void) {
        switch self {
        case .memory:
            return (MemoryEventStore(), {})
        case .sqlite:
            let directory = try TemporaryDirectory()
            let database = try SQLiteDatabase(path: directory.file("events.sqlite"))
            try await Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget(database: database)).migrate(phases: [.pre, .post])
            return (SQLiteEventStore(database: database), { directory.remove() })
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

    @Test("writing the same 10,000 events twice stores 10,000", arguments: StoreKind.allCases)
    func sameBatchTwiceStoredOnce(kind: StoreKind) async throws {
        let (store, cleanup) = try await kind.makeStore()
        defer { cleanup() }
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

    @Test("every catalogue event reads back exactly as written", arguments: StoreKind.allCases)
    func roundTrip(kind: StoreKind) async throws {
        let (store, cleanup) = try await kind.makeStore()
        defer { cleanup() }
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

    @Test("events are returned in time order within the range, up to the limit", arguments: StoreKind.allCases)
    func rangeAndLimit(kind: StoreKind) async throws {
        let (store, cleanup) = try await kind.makeStore()
        defer { cleanup() }
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

    @Test("daily counts group by UTC day and event type", arguments: StoreKind.allCases)
    func dailyCounts(kind: StoreKind) async throws {
        let (store, cleanup) = try await kind.makeStore()
        defer { cleanup() }
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

    @Test("concurrent writers store every event once", arguments: StoreKind.allCases)
    func concurrentWriters(kind: StoreKind) async throws {
        let (store, cleanup) = try await kind.makeStore()
        defer { cleanup() }
        let events = Self.tenThousandEvents()
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Eight writers, each sending overlapping halves in batches of 100.
            for writer in 0..<8 {
                let slice = writer % 2 == 0 ? events[0..<6_000] : events[4_000..<10_000]
                group.addTask {
                    var batch: [EnrichedEvent] = []
                    for event in slice {
                        batch.append(event)
                        if batch.count == 100 { try await store.write(batch); batch.removeAll() }
                    }
                    try await store.write(batch)
                }
            }
            try await group.waitForAll()
        }
        #expect(try await store.count() == 10_000)
    }
}
