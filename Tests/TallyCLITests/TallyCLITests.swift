import Foundation
import Tally
import TallyTesting
import Testing

/// Runs the `tally` executable that `swift build` put next to the test bundle.
struct TallyProcess {
    static var executable: URL {
        if let override = ProcessInfo.processInfo.environment["TALLY_BINARY"] { return URL(fileURLWithPath: override) }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tally")
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `tally arguments…` in `directory` with `environment` added to a clean one.
    static func run(_ arguments: [String], in directory: String, environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment
        for name in DatabaseLocation.environmentVariables { env[name] = nil }
        env.merge(environment) { _, new in new }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting, so a full pipe cannot stall the child.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }
}

@Suite("tally command line", .serialized)
struct TallyCLITests {
    @Test("the executable was built next to the tests")
    func executableExists() {
        #expect(FileManager.default.isExecutableFile(atPath: TallyProcess.executable.path),
                "build it with `swift build --build-tests` (scripts/test does)")
    }

    @Test("events --json lists all 36 wire names with a JSON Schema each")
    func eventsJSON() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let result = try TallyProcess.run(["events", "--json"], in: directory.path)
        #expect(result.status == 0)
        let schemas = try #require(try JSONValue(parsing: result.stdout).arrayValue)
        let names = schemas.compactMap { $0["title"]?.stringValue }
        #expect(names.count == 36)
        #expect(Set(names) == Set(AnalyticsEvent.catalogue.map(\.name)))
        let apiRequest = try #require(schemas.first { $0["title"]?.stringValue == "api_request" })
        #expect(apiRequest["properties"]?["status_code"]?["maximum"] == 599)
        #expect(apiRequest["required"]?.arrayValue?.count == 4)
        #expect(apiRequest["additionalProperties"] == false)
    }

    @Test("events prints every event grouped by family")
    func eventsTable() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let result = try TallyProcess.run(["events"], in: directory.path)
        #expect(result.status == 0)
        for schema in AnalyticsEvent.catalogue { #expect(result.stdout.contains(schema.name)) }
        #expect(result.stdout.contains("status_code: integer"))
    }

    @Test("migrate: status, dry-run, all, status on the default ./tally.sqlite")
    func migrateLifecycle() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.file("tally.sqlite")

        let before = try TallyProcess.run(["migrate", "status"], in: directory.path)
        #expect(before.status == 0)
        #expect(before.stdout.contains("PENDING  0001_create_analytics_events"))
        #expect(!FileManager.default.fileExists(atPath: file), "status must not create the database")

        let dryRun = try TallyProcess.run(["migrate", "dry-run"], in: directory.path)
        #expect(dryRun.status == 0)
        #expect(dryRun.stdout.contains("CREATE TABLE analytics_events"))
        #expect(!FileManager.default.fileExists(atPath: file), "dry-run must not create the database")

        let all = try TallyProcess.run(["migrate", "all"], in: directory.path)
        #expect(all.status == 0)
        #expect(all.stdout.contains("applied 6 migrations"))

        let after = try TallyProcess.run(["migrate", "status"], in: directory.path)
        #expect(after.stdout.contains("applied  0001_create_analytics_events"))
        #expect(after.stdout.contains("6 applied, 0 pending, 0 changed."))
        #expect(after.stdout.contains("applied  0005_create_aggregates"))
        #expect(after.stdout.contains("applied  0006_create_api_keys_and_anonymous_index"))
    }

    @Test("two `tally migrate all` started at once on a new file both succeed, and each reports only what it applied")
    func concurrentMigrate() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.file("tally.sqlite")
        let results = try await withThrowingTaskGroup(of: TallyProcess.Result.self) { group in
            for _ in 0..<2 {
                group.addTask { try TallyProcess.run(["migrate", "all", "--database", file], in: directory.path) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for result in results { #expect(result.status == 0, "\(result.stderr)") }
        let summaries = results.map { $0.stdout.firstMatch(of: /applied (\d+) migration/).flatMap { Int($0.1) } ?? 0 }
        #expect(summaries.reduce(0, +) == 6, "\(results.map(\.stdout))")
        // A migration announced, then found applied by the other once this one had
        // the lock, is said to be skipped: announcements less skips = the summary.
        for (result, summarized) in zip(results, summaries) {
            let announced = result.stdout.matches(of: /applying (pre|post) \d/).count
            let skipped = result.stdout.matches(of: /already applied by another migrator/).count
            #expect(announced - skipped == summarized, "\(result.stdout)")
        }
        let status = try TallyProcess.run(["migrate", "status", "--database", file], in: directory.path)
        #expect(status.stdout.contains("6 applied, 0 pending, 0 changed."), "\(status.stdout)")
    }

    @Test("dry-run on a migrated file leaves its bytes unchanged")
    func dryRunBytes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.file("db.sqlite")
        #expect(try TallyProcess.run(["migrate", "all", "--database", file], in: directory.path).status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: file))

        let dryRun = try TallyProcess.run(["migrate", "dry-run", "--database", file], in: directory.path)
        #expect(dryRun.status == 0)
        #expect(dryRun.stdout.contains("up to date"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == before)
    }

    @Test("status flags a migration whose recorded checksum no longer matches")
    func statusFlagsEdit() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.file("db.sqlite")
        #expect(try TallyProcess.run(["migrate", "all", "--database", file], in: directory.path).status == 0)
        // What an edited migration looks like from the database's side.
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sqlite.arguments = ["python3", "-c", """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1]); c.execute("UPDATE tally_schema_migrations SET checksum = 'abc' WHERE id = '0002_create_analytics_queue'"); c.commit()
            """, file]
        try sqlite.run()
        sqlite.waitUntilExit()
        #expect(sqlite.terminationStatus == 0)

        let status = try TallyProcess.run(["migrate", "status", "--database", file], in: directory.path)
        #expect(status.stdout.contains("CHANGED  0002_create_analytics_queue"))
        let migrate = try TallyProcess.run(["migrate", "all", "--database", file], in: directory.path)
        #expect(migrate.status != 0)
        #expect(migrate.stderr.contains("0002_create_analytics_queue was edited after it was applied"))
    }

    @Test("flag beats DATABASE_URL beats PLATFORM_DATABASE_URL")
    func databasePrecedence() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let env = ["DATABASE_URL": directory.file("from-env.sqlite"), "PLATFORM_DATABASE_URL": directory.file("platform.sqlite")]
        #expect(try TallyProcess.run(["migrate", "pre"], in: directory.path, environment: env).status == 0)
        #expect(FileManager.default.fileExists(atPath: directory.file("from-env.sqlite")))
        #expect(try TallyProcess.run(["migrate", "pre", "--database", "sqlite:flag.sqlite"], in: directory.path, environment: env).status == 0)
        #expect(FileManager.default.fileExists(atPath: directory.file("flag.sqlite")))
        #expect(try TallyProcess.run(["migrate", "pre"], in: directory.path, environment: ["PLATFORM_DATABASE_URL": "platform.sqlite"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: directory.file("platform.sqlite")))
        #expect(!FileManager.default.fileExists(atPath: directory.file("tally.sqlite")))
    }

    @Test("an unreachable postgres:// URL and an unknown scheme get one clear line each")
    func unusableDatabases() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let postgres = try TallyProcess.run(["migrate", "status"], in: directory.path,
                                            environment: ["DATABASE_URL": "postgres://tally:secret@127.0.0.1:1/tally"])
        #expect(postgres.status != 0)
        #expect(postgres.stderr.contains("cannot reach PostgreSQL at 127.0.0.1:1"), "\(postgres.stderr)")
        #expect(!postgres.stderr.contains("secret"), "credentials never appear in messages")
        #expect(postgres.stderr.split(separator: "\n").count == 1, "\(postgres.stderr)")

        let demo = try TallyProcess.run(["demo", "--database", "postgres://tally:secret@127.0.0.1:1/tally"], in: directory.path)
        #expect(demo.status != 0)
        #expect(demo.stderr.contains("cannot reach PostgreSQL at 127.0.0.1:1"))
        #expect(!demo.stderr.contains("secret"))

        let mysql = try TallyProcess.run(["migrate", "status", "--database", "mysql://localhost/x"], in: directory.path)
        #expect(mysql.status != 0)
        #expect(mysql.stderr.contains("'mysql'"))
    }

    @Test("demo stores reproducible traffic for every catalogue event, and a re-run stores nothing new")
    func demo() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = try TallyProcess.run(["demo", "--users", "60", "--days", "30", "--end", "2026-11-20T12:00:00Z"], in: directory.path)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("Events stored per day and family"))
        #expect(first.stderr.contains("100%"))
        let stored = try #require(first.stdout.firstMatch(of: /Stored ([0-9,]+) new events/)?.1)
        #expect(stored != "0")

        let second = try TallyProcess.run(["demo", "--users", "60", "--days", "30", "--end", "2026-11-20T12:00:00Z"], in: directory.path)
        #expect(second.status == 0)
        #expect(second.stdout.contains("Stored 0 new events"))
    }
}
