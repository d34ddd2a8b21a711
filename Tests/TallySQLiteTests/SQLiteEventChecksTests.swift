import GRDB
import Tally
@testable import TallySQLite
import TallyTesting
import Testing

/// The event writer skips `analytics_events`' CHECK constraints only for rows it
/// can vouch for; these tests hold it to that.
@Suite("SQLite event writer: the table's CHECK constraints")
struct SQLiteEventChecksTests {
    static let time = Timestamp(iso8601: "2026-11-23T08:00:00Z")!

    static func event(named name: String, service: String = "api", seed: UInt64) -> EnrichedEvent {
        EnrichedEvent(eventID: .generate(at: time.adding(microseconds: Int64(seed))), payload: .custom(name: name, properties: ["n": .int(Int(seed))]),
                      timestamp: time.adding(microseconds: Int64(seed)), receivedAt: time, service: service)
    }

    @Test("rows the encoder can vouch for are written and read back",
          arguments: ["a", String(repeating: "x", count: 100), String(repeating: "é", count: 50), String(repeating: "🙂", count: 25)])
    func vouchedRowsAreWritten(name: String) async throws {
        try await SQLiteDatabaseTests.withMigratedStore { store async throws in
            let event = Self.event(named: name, seed: 1)
            #expect(EncodedEventRows([event]).meetsTableChecks)
            #expect(try await store.write([event]) == 1)
            let stored = try await store.events(in: Self.time..<Self.time.adding(microseconds: 10), limit: 10)
            #expect(stored == [event])
        }
    }

    @Test("lengths are counted in characters, as SQLite's length() does: 100 two-byte characters pass, 101 do not")
    func lengthsAreCountedInCharacters() async throws {
        try await SQLiteDatabaseTests.withMigratedStore { store async throws in
            let hundred = Self.event(named: "fine", service: String(repeating: "é", count: 100), seed: 1)
            #expect(EncodedEventRows([hundred]).meetsTableChecks)
            #expect(try await store.write([hundred]) == 1)
            #expect(!EncodedEventRows([Self.event(named: "fine", service: String(repeating: "é", count: 101), seed: 2)]).meetsTableChecks)
        }
    }

    @Test("a batch with a row past the table's limits still fails on SQLite's CHECK, and none of it is stored",
          arguments: [String(repeating: "x", count: 101), String(repeating: "é", count: 101), "", "nul\u{0}inside"])
    func rowsPastTheLimitsAreStillRefused(service: String) async throws {
        try await SQLiteDatabaseTests.withMigratedStore { store async throws in
            let batch = [Self.event(named: "fine", seed: 1), Self.event(named: "fine", service: service, seed: 2)]
            #expect(!EncodedEventRows(batch).meetsTableChecks)
            if service.contains("\u{0}") {
                // SQLite's length() stops at the NUL: it judges such text itself, and
                // "nul" is a length it accepts.
                #expect(try await store.write(batch) == 2)
                return
            }
            let error = await #expect(throws: SQLiteStoreError.self) { try await store.write(batch) }
            #expect(String(describing: error).contains("CHECK"))
            #expect(try await store.count() == 0)
        }
    }

    static let rowThatFailsACheck = """
        INSERT INTO analytics_events (event_id, timestamp, received_at, event_type, service, data)
        VALUES ('00000000-0000-7000-8000-000000000001', 1, 1, 'fine', 'api', 'not json')
        """

    @Test("CHECKs are off inside skippingTableChecks(true) only, on again after it returns or throws, and on throughout with false")
    func checksAreOffOnlyInside() async throws {
        try await SQLiteDatabaseTests.withMigratedStore { store async throws in
            try await store.database.writeWithoutTransaction { db in
                try db.inTransaction {
                    // Off inside: a row no CHECK would let through goes in.
                    try SQLiteEventStore.skippingTableChecks(true, in: db) { try db.execute(sql: Self.rowThatFailsACheck) }
                    #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM analytics_events") == 1)
                    return .rollback
                }
                #expect(throws: DatabaseError.self) { try db.execute(sql: Self.rowThatFailsACheck) }
                #expect(throws: DatabaseError.self) {
                    try SQLiteEventStore.skippingTableChecks(false, in: db) { try db.execute(sql: Self.rowThatFailsACheck) }
                }
                struct Thrown: Error {}
                #expect(throws: Thrown.self) { try SQLiteEventStore.skippingTableChecks(true, in: db) { throw Thrown() } }
                #expect(throws: DatabaseError.self) { try db.execute(sql: Self.rowThatFailsACheck) }
            }
            #expect(try await store.count() == 0)
        }
    }

    @Test("a write SQLite must judge turns the CHECKs on, even if something left them off")
    func unprovenWritesTurnChecksOn() async throws {
        try await SQLiteDatabaseTests.withMigratedStore { store async throws in
            try await store.database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA ignore_check_constraints = ON") }
            let batch = [Self.event(named: "fine", service: String(repeating: "x", count: 101), seed: 1)]
            await #expect(throws: SQLiteStoreError.self) { try await store.write(batch) }
            #expect(try await store.count() == 0)
        }
    }

    @Test("after an event write, the writer's connection enforces the CHECKs again")
    func checksAreBackOnAfterAWrite() async throws {
        try await SQLiteDatabaseTests.withMigratedStore { store async throws in
            #expect(try await store.write((1...100).map { Self.event(named: "fine", seed: $0) }) == 100)
            await #expect(throws: DatabaseError.self) {
                try await store.database.writeWithoutTransaction { db in try db.execute(sql: Self.rowThatFailsACheck) }
            }
            #expect(try await store.count() == 100)
        }
    }
}
