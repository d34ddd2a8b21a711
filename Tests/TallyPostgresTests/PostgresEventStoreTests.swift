import PostgresNIO
import Tally
import TallyPostgres
import TallyPostgresTesting
import TallyTesting
import Testing

/// What only the PostgreSQL store has: its second write method, its errors, exact times.
@Suite("PostgreSQL event store")
struct PostgresEventStoreTests {
    static let start = Timestamp(iso8601: "2026-11-01T00:00:00Z")!

    @Test("the COPY-and-staging method stores a re-sent batch once, like unnest")
    func copyStagingIdempotent() async throws {
        try await TestPostgres.withMigratedDatabase { database async throws in
            let store = PostgresEventStore(database: database, writeMethod: .copyStaging)
            var events = CatalogueExamples.enrichedAll(startingAt: Self.start)
            // Text that COPY's format must escape.
            events.append(EnrichedEvent(
                eventID: .generate(at: Self.start), payload: .custom(name: "Note Saved", properties: [
                    "text": "tab\there\nnew line \\ backslash \r end", "emoji": "🎉",
                ]),
                timestamp: Self.start.adding(microseconds: 1), receivedAt: Self.start, service: "web", anonymousID: "a\\b"))
            #expect(try await store.write(events) == events.count)
            #expect(try await store.write(events) == 0)
            #expect(try await PostgresEventStore(database: database).write(events) == 0)
            let read = try await store.events(in: Self.start..<Self.start.adding(days: 1), limit: 1_000)
            #expect(read == events.sorted { ($0.timestamp, $0.eventID) < ($1.timestamp, $1.eventID) })
        }
    }

    @Test("the default COPY meets a stored event: the batch is rolled back and sent again skipping duplicates, counted per batch")
    func optimisticCopyFallsBack() async throws {
        try await TestPostgres.withMigratedDatabase { database async throws in
            let store = PostgresEventStore(database: database)
            #expect(store.writeMethod == .optimisticCopy)
            let events = CatalogueExamples.enrichedAll(startingAt: Self.start)
            let half = events.count / 2
            #expect(try await store.write(Array(events[..<half])) == half)
            // A re-sent batch that overlaps what is stored: only the new half is added.
            #expect(try await store.write(events) == events.count - half)
            #expect(try await store.count() == events.count)

            // A group of batches (the server's group commit): the second repeats one
            // stored event and one of the first batch; counts stay per batch.
            let later = CatalogueExamples.enrichedAll(startingAt: Self.start.adding(days: 1))
            let first = Array(later[..<3])
            let second = Array(later[3..<6]) + [events[0], later[0]]
            #expect(try await store.write(prepared: [store.prepare(first), store.prepare(second)]) == [3, 3])
            #expect(try await store.count() == events.count + 6)
            let days = try await database.query("SELECT day::text FROM analytics_dirty_days ORDER BY day") { row in try row.decode(String.self) }
            #expect(days == ["2026-11-01", "2026-11-02"])
        }
    }

    @Test("every write method marks dirty the days it inserted into, and a re-sent batch marks nothing", arguments: PostgresEventStore.WriteMethod.allCases)
    func writesMarkTheirDays(method: PostgresEventStore.WriteMethod) async throws {
        try await TestPostgres.withMigratedDatabase { database async throws in
            let store = PostgresEventStore(database: database, writeMethod: method)
            func dirtyDays() async throws -> [String] {
                try await database.query("SELECT day::text FROM analytics_dirty_days ORDER BY day") { row in try row.decode(String.self) }
            }
            let old = CatalogueExamples.enrichedAll(startingAt: Self.start.adding(days: -40))
            let recent = CatalogueExamples.enrichedAll(startingAt: Self.start.adding(days: 2))
            #expect(try await store.write(old + recent) == old.count + recent.count)
            #expect(try await dirtyDays() == ["2026-09-22", "2026-11-03"])

            try await database.execute("DELETE FROM analytics_dirty_days")
            #expect(try await store.write(old) == 0)
            #expect(try await dirtyDays() == [], "nothing was inserted, so no day changed")
            #expect(try await store.write(recent + [CatalogueExamples.event(CatalogueExamples.all[0], at: Self.start, seed: 77)]) == 1)
            #expect(try await dirtyDays() == ["2026-11-01"], "only the day of the one new event")
        }
    }

    @Test("times keep every microsecond, before and after 2000-01-01")
    func exactTimes() async throws {
        try await TestPostgres.withMigratedDatabase { database async throws in
            let store = PostgresEventStore(database: database)
            let times: [Int64] = [0, 1, 946_684_799_999_999, 946_684_800_000_001, 1_795_000_000_123_457, -86_400_000_001]
            let events = times.enumerated().map { index, micros in
                CatalogueExamples.event(CatalogueExamples.all[index], at: Timestamp(microsecondsSinceEpoch: micros), seed: UInt64(index))
            }
            #expect(try await store.write(events) == times.count)
            let read = try await store.events(in: Timestamp(iso8601: "1900-01-01")!..<Timestamp(iso8601: "2100-01-01")!, limit: 100)
            #expect(read.map(\.timestamp.microsecondsSinceEpoch) == times.sorted())
            #expect(read == events.sorted { $0.timestamp < $1.timestamp })
        }
    }

    @Test("a value the schema refuses fails the whole batch, with a message that quotes no value")
    func rejectedValue() async throws {
        try await TestPostgres.withMigratedDatabase { database async throws in
            let store = PostgresEventStore(database: database)
            let secretName = String(repeating: "confidential", count: 10)
            let good = CatalogueExamples.event(CatalogueExamples.all[0], at: Self.start, seed: 1)
            let bad = EnrichedEvent(eventID: .generate(at: Self.start), payload: .custom(name: secretName, properties: [:]),
                                    timestamp: Self.start, receivedAt: Self.start, service: "api")
            let error = await #expect(throws: PostgresStoreError.self) { try await store.write([good, bad]) }
            #expect(error?.code == .rejected)
            #expect(error?.sqlState == "22001")
            #expect(error?.description.contains("confidential") == false, "\(error?.description ?? "")")
            #expect(try await store.count() == 0, "nothing of the batch was stored")
            #expect(try await store.write([good]) == 1)
        }
    }

    @Test("reading an unmigrated database says to migrate")
    func notMigrated() async throws {
        try await TestPostgres.withDatabase { database async throws in
            let error = await #expect(throws: PostgresStoreError.self) { try await PostgresEventStore(database: database).count() }
            #expect(error?.code == .notMigrated)
            #expect(error?.description.contains("run `tally migrate all`") == true)
        }
    }
}
