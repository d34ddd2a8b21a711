import PostgresNIO
import Tally
import TallyPostgres
import TallyPostgresTesting
import Testing

/// What a user sees when the database URL is wrong: one line, what to do, no password.
@Suite("PostgreSQL connection errors")
struct ConnectionErrorTests {
    static func connect(_ configuration: PostgresPool.Configuration) async -> PostgresStoreError? {
        await #expect(throws: PostgresStoreError.self) {
            try await PostgresPool.withRunning(configuration, logger: TestPostgres.logger) { database async throws in
                try await database.execute("SELECT 1")
            }
        }
    }

    @Test("an unreachable server")
    func unreachable() async throws {
        var configuration = try PostgresPool.Configuration(url: "postgres://tally:s3cret@127.0.0.1:1/tally")
        configuration.connectTimeout = .seconds(5)
        let error = try #require(await Self.connect(configuration))
        #expect(error.code == .unreachable)
        #expect(error.description.hasPrefix("cannot reach PostgreSQL at 127.0.0.1:1 (connection refused): "), "\(error)")
        #expect(error.description.contains("check that the server is running"))
        #expect(!error.description.contains("s3cret"))
        #expect(!error.description.contains("\n"))
    }

    @Test("a missing database")
    func missingDatabase() async throws {
        let configuration = try TestPostgres.serverConfiguration().with(database: "tally_missing_database")
        let error = try #require(await Self.connect(configuration))
        #expect(error.code == .databaseMissing)
        #expect(error.description.contains("has no database 'tally_missing_database'"))
        #expect(error.description.contains("createdb"))
        #expect(!error.description.contains("\n"))
    }

    @Test("a wrong password")
    func wrongPassword() async throws {
        try await TestPostgres.withDatabase { database async throws in
            let role = "tally_test_role_" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
            try await database.execute(PostgresQuery(unsafeSQL: "CREATE ROLE \(role) LOGIN PASSWORD 'right-password'"))
            var configuration = database.configuration
            configuration.username = role
            configuration.password = "wrong-password"
            let accepted = (try? await PostgresPool.withRunning(configuration, logger: TestPostgres.logger) { other in
                try await other.execute("SELECT 1")
            }) != nil
            try #require(!accepted, """
                the server of TALLY_TEST_DATABASE_URL accepted a wrong password (pg_hba.conf trusts TCP \
                connections): run the tests with scripts/test, whose server checks passwords
                """)
            let error = try #require(await Self.connect(configuration))
            #expect(error.code == .authenticationFailed)
            #expect(error.description.contains("refused user '\(role)'"))
            #expect(error.description.contains("check the user name and password"))
            #expect(!error.description.contains("wrong-password"))
            #expect(!error.description.contains("\n"))
            try await database.execute(PostgresQuery(unsafeSQL: "DROP ROLE \(role)"))
        }
    }

    @Test("URLs: credentials, port, database, sslmode; bad ones say how to write one")
    func urls() throws {
        let full = try PostgresPool.Configuration(url: "postgresql://tally:p%40ss@db.internal:6543/analytics?sslmode=disable")
        #expect(full.username == "tally")
        #expect(full.password == "p@ss")
        #expect(full.host == "db.internal")
        #expect(full.port == 6543)
        #expect(full.database == "analytics")
        #expect(full.tlsMode == .disable)
        #expect(full.displayName == "PostgreSQL tally@db.internal:6543/analytics")

        let minimal = try PostgresPool.Configuration(url: "postgres://localhost")
        #expect(minimal.username == "postgres")
        #expect(minimal.port == 5432)
        #expect(minimal.database == "postgres")
        #expect(minimal.tlsMode == .prefer)

        let error = #expect(throws: PostgresStoreError.self) {
            try PostgresPool.Configuration(url: "postgres://tally:secret@host:99999/db")
        }
        #expect(error?.code == .invalidURL)
        #expect(error?.description.contains("invalid port") == true)
        #expect(error?.description.contains("secret") == false)
    }
}
