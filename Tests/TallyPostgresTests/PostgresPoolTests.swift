import InMemoryLogging
import Logging
import PostgresNIO
import Tally
import TallyPostgres
import TallyPostgresTesting
import Testing

@Suite("PostgreSQL pool")
struct PostgresPoolTests {
    @Test("withRunning starts the client before the first lease: postgres-nio logs no warning")
    func noLeaseBeforeRun() async throws {
        var handler = InMemoryLogHandler()
        handler.logLevel = .trace
        let log = handler
        let logger = Logger(label: "tally.test.pool", factory: { _ in log })
        try await TestPostgres.withEmptyDatabase { configuration async throws in
            for _ in 0..<20 {
                let one = try await PostgresPool.withRunning(configuration, logger: logger) { database async throws in
                    try await database.query("SELECT 1::int8") { row in try row.decode(Int64.self) }
                }
                #expect(one == [1])
            }
        }
        let warnings = log.entries.filter { $0.level >= .warning }.map { "\($0.level) \($0.message)" }
        #expect(warnings.isEmpty, "\(warnings)")
        #expect(!log.entries.isEmpty, "the logger was used, so the check above means something")
    }
}
