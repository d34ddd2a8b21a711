import Tally
import TallyPostgres
import TallyPostgresTesting
import TallySQLite
import TallyTesting
import Testing

extension StoreKind {
    /// The stores that answer the server's queries.
    static let queryable: [StoreKind] = [.memory, .sqlite, .postgres]

    /// Runs `body` with a fresh store that answers ``EventQueries``.
    func withQueryableStore(_ body: @Sendable @escaping (any EventStore & EventQueries) async throws -> Void) async throws {
        try await withStore { store in
            guard let queryable = store as? any EventStore & EventQueries else {
                Issue.record("the \(self) store does not answer EventQueries")
                return
            }
            try await body(queryable)
        }
    }
}

/// Pages, trends and erasure: every backend must give ``MemoryEventStore``'s answer.
@Suite("Query behaviour")
struct QueryBehaviourTests {
    static let start = Timestamp(iso8601: "2026-11-02T00:00:00Z")!  // a Monday

    /// 3,000 events over 20 days: 6 users (some only anonymous), 3 services, a
    /// `plan` property with string, number, boolean and missing values.
    static func mixedEvents() -> [EnrichedEvent] {
        let plans: [JSONValue?] = ["free", "pro", "team", 3, true, nil]
        return (0..<3_000).map { i in
            let example = CatalogueExamples.all[i % 4]
            var event = CatalogueExamples.event(
                example, at: start.adding(microseconds: Int64(i) * 576_000_000 + Int64(i % 7)), seed: UInt64(i),
                service: ["api", "web", "worker"][i % 3],
                userID: i % 6 == 5 ? nil : "u_\(i % 6)", anonymousID: i % 6 == 5 ? "anon_\(i % 2)" : "a_\(i % 6)")
            var properties: JSONObject = ["n": .int(i)]
            properties["plan"] = plans[(i / 3) % plans.count]
            event.payload = .custom(name: i % 5 == 0 ? "plan_viewed" : "plan_used", properties: properties)
            return event
        }
    }

    @Test("paging by cursor returns every matching event once, in order", arguments: StoreKind.queryable)
    func paging(kind: StoreKind) async throws {
        try await kind.withQueryableStore { store in
            let events = Self.mixedEvents()
            try await store.write(events.shuffled())
            let reference = MemoryEventStore()
            try await reference.write(events)

            let filters = [
                EventFilter(),
                EventFilter(from: Self.start.adding(days: 3), to: Self.start.adding(days: 9)),
                EventFilter(userID: "u_2"),
                EventFilter(userID: "anon_1"),
                EventFilter(eventType: "plan_viewed", service: "web"),
            ]
            for filter in filters {
                var cursor: EventCursor?
                var pages: [EnrichedEvent] = []
                while true {
                    let page = try await store.events(matching: filter, after: cursor, limit: 97)
                    pages += page
                    guard let last = page.last, page.count == 97 else { break }
                    // The cursor survives its text form, as an API client sends it back.
                    cursor = EventCursor(EventCursor(after: last).description)
                }
                let expected = try await reference.events(matching: filter, after: nil, limit: .max)
                #expect(!expected.isEmpty)
                #expect(pages.map(\.eventID) == expected.map(\.eventID), "filter \(filter)")
            }
        }
    }

    @Test("trends equal the reference for every interval, measure and breakdown", arguments: StoreKind.queryable)
    func trends(kind: StoreKind) async throws {
        try await kind.withQueryableStore { store in
            let events = Self.mixedEvents()
            try await store.write(events)
            let reference = MemoryEventStore()
            try await reference.write(events)

            for interval in TrendQuery.Interval.allCases {
                for measure in TrendQuery.Measure.allCases {
                    for breakdown in [nil, "plan", "absent"] as [String?] {
                        for service in [nil, "web"] as [String?] {
                            let query = TrendQuery(eventType: "plan_used", from: Self.start.adding(days: 1), to: Self.start.adding(days: 15),
                                                   interval: interval, measure: measure, service: service, breakdown: breakdown, limit: 3)
                            let expected = try await reference.trend(query)
                            #expect(!expected.isEmpty)
                            #expect(try await store.trend(query) == expected, "\(query)")
                        }
                    }
                }
            }
        }
    }

    @Test("a breakdown property that is not a plain name is refused", arguments: StoreKind.queryable)
    func badBreakdown(kind: StoreKind) async throws {
        try await kind.withQueryableStore { store in
            let query = TrendQuery(eventType: "plan_used", from: Self.start, to: Self.start.adding(days: 1), breakdown: "plan') --")
            await #expect(throws: QueryError.self) { try await store.trend(query) }
        }
    }

    @Test("erasing a user deletes their events by user or anonymous id, and only theirs", arguments: StoreKind.queryable)
    func erase(kind: StoreKind) async throws {
        try await kind.withQueryableStore { store in
            let events = Self.mixedEvents()
            try await store.write(events)
            let theirs = events.filter { $0.userID == "u_1" || $0.anonymousID == "u_1" }

            let erasure = try await store.eraseUser("u_1")

            #expect(erasure.deletedEvents == theirs.count)
            #expect(erasure.days == Set(theirs.map(\.timestamp.startOfDay)).sorted())
            #expect(try await store.events(matching: EventFilter(userID: "u_1"), after: nil, limit: 10).isEmpty)
            #expect(try await store.count() == events.count - theirs.count)
            #expect(try await store.eraseUser("u_1") == UserErasure(deletedEvents: 0, days: []))
        }
    }
}

extension StoreKind {
    /// The stores that keep API keys.
    static let keyStores: [StoreKind] = [.sqlite, .postgres]

    /// Runs `body` with a fresh, migrated key store.
    func withAPIKeyStore(_ body: @Sendable @escaping (any APIKeyStore) async throws -> Void) async throws {
        switch self {
        case .sqlite:
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let database = try SQLiteDatabase(path: directory.file("keys.sqlite"))
            try await Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget(database: database)).migrate(phases: [.pre])
            try await body(SQLiteAPIKeyStore(database: database))
        case .postgres, .timescaledb:
            try await TestPostgres.withMigratedDatabase(mode: self == .postgres ? .partitioned : .timescaledb) { database async throws in
                try await body(PostgresAPIKeyStore(database: database))
            }
        case .memory:
            Issue.record("the memory store keeps no API keys")
        }
    }
}

@Suite("API keys")
struct APIKeyStoreTests {
    @Test("a created key is found by id, matches only its own secret, and stops matching once revoked", arguments: StoreKind.keyStores)
    func lifecycle(kind: StoreKind) async throws {
        try await kind.withAPIKeyStore { keys in
            let write = APIKey.generate(scope: .write)
            let read = APIKey.generate(scope: .read)
            let created = Timestamp(microsecondsSinceEpoch: 1_795_000_000_123_456)
            try await keys.insert(write.record(service: "api", createdAt: created))
            try await keys.insert(read.record(service: "dashboard", createdAt: created.adding(microseconds: 1)))

            let stored = try #require(try await keys.key(id: write.id))
            #expect(stored.service == "api" && stored.scope == .write)
            #expect(stored == write.record(service: "api", createdAt: created), "stored exactly, hash and time included")
            #expect(write.matches(stored))
            #expect(!read.matches(stored))
            let forged = try #require(APIKey("tally_write_\(write.id)_\(String(repeating: "x", count: 32))"))
            #expect(!forged.matches(stored))
            #expect(try await keys.keys().map(\.id) == [write.id, read.id], "oldest first")

            let revokedAt = created.adding(days: 1)
            #expect(try await keys.revoke(id: write.id, at: revokedAt))
            #expect(try await !keys.revoke(id: write.id, at: .now()))
            let revoked = try #require(try await keys.key(id: write.id))
            #expect(revoked.revokedAt == revokedAt)
            #expect(!write.matches(revoked))
            #expect(try await keys.key(id: "nope") == nil)
            #expect(try await !keys.revoke(id: "nope", at: .now()))
        }
    }
}

@Suite("Prepared writes on SQLite")
struct SQLitePreparedWriteTests {
    @Test("batches prepared apart and written together: one transaction, new events counted per batch, overlaps once")
    func overlappingBatches() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try SQLiteDatabase(path: directory.file("prepared.sqlite"))
        try await Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget(database: database)).migrate(phases: [.pre, .post])
        let store = SQLiteEventStore(database: database)
        let events = CatalogueExamples.enrichedAll(startingAt: QueryBehaviourTests.start)
        try await store.write(Array(events.prefix(5)))

        // First batch: 5 already stored + 10 new; second repeats 5 of those 10 and adds the rest.
        let first = store.prepare(Array(events[0..<15]))
        let second = store.prepare(Array(events[10...]))
        let counts = try await store.write(prepared: [first, second])

        #expect(counts == [10, events.count - 15])
        #expect(try await store.count() == events.count)
    }
}
