import Tally
import Testing

/// Runs `body` and returns the location error it threw, or `nil` if it threw none.
private func locationError(_ body: () throws -> Void) -> DatabaseLocationError? {
    do {
        try body()
        return nil
    } catch let error as DatabaseLocationError {
        return error
    } catch {
        Issue.record("expected a DatabaseLocationError, got \(error)")
        return nil
    }
}

/// A text given as `--database` or in the environment, and where it must lead.
struct LocationSample: Sendable, CustomTestStringConvertible {
    var text: String
    var location: DatabaseLocation

    init(_ text: String, _ location: DatabaseLocation) {
        self.text = text
        self.location = location
    }

    var testDescription: String { text }
}

@Suite("DatabaseLocation")
struct DatabaseLocationTests {
    static let postgres = "postgres://tally:s3cret@db.internal:5432/analytics"
    static let platform = "postgresql://platform:hunter2@pg.platform:5432/app"

    // MARK: Precedence

    @Test func flagBeatsEverything() throws {
        let environment = ["DATABASE_URL": Self.postgres, "PLATFORM_DATABASE_URL": Self.platform]
        let resolved = try DatabaseLocation.resolve(flag: "/var/lib/tally/flag.sqlite", environment: environment)
        #expect(resolved.location == .sqlite(path: "/var/lib/tally/flag.sqlite"))
        #expect(resolved.source == .flag)
    }

    @Test func databaseURLBeatsPlatformURL() throws {
        let environment = ["DATABASE_URL": Self.postgres, "PLATFORM_DATABASE_URL": Self.platform]
        let resolved = try DatabaseLocation.resolve(flag: nil, environment: environment)
        #expect(resolved.location == .postgres(url: Self.postgres))
        #expect(resolved.source == .environment("DATABASE_URL"))
    }

    @Test func platformURLIsTheLastEnvironmentChoice() throws {
        let resolved = try DatabaseLocation.resolve(flag: nil, environment: ["PLATFORM_DATABASE_URL": Self.platform, "PATH": "/usr/bin"])
        #expect(resolved.location == .postgres(url: Self.platform))
        #expect(resolved.source == .environment("PLATFORM_DATABASE_URL"))
    }

    @Test func defaultIsTheEmbeddedSQLiteFile() throws {
        let resolved = try DatabaseLocation.resolve(flag: nil, environment: [:])
        #expect(resolved.location == .sqlite(path: "./tally.sqlite"))
        #expect(resolved.source == .defaultValue)
        #expect(DatabaseLocation.defaultSQLitePath == "./tally.sqlite")
        #expect(DatabaseLocation.environmentVariables == ["DATABASE_URL", "PLATFORM_DATABASE_URL"])
    }

    @Test func emptyValuesAreIgnored() throws {
        let skipFlag = try DatabaseLocation.resolve(flag: "", environment: ["DATABASE_URL": Self.postgres])
        #expect(skipFlag.source == .environment("DATABASE_URL"))

        let skipDatabaseURL = try DatabaseLocation.resolve(flag: "", environment: ["DATABASE_URL": "", "PLATFORM_DATABASE_URL": Self.platform])
        #expect(skipDatabaseURL.location == .postgres(url: Self.platform))
        #expect(skipDatabaseURL.source == .environment("PLATFORM_DATABASE_URL"))

        let skipAll = try DatabaseLocation.resolve(flag: "", environment: ["DATABASE_URL": "", "PLATFORM_DATABASE_URL": ""])
        #expect(skipAll.location == .sqlite(path: DatabaseLocation.defaultSQLitePath))
        #expect(skipAll.source == .defaultValue)
    }

    @Test func environmentVariableNamesAreExact() throws {
        let resolved = try DatabaseLocation.resolve(flag: nil, environment: ["database_url": Self.postgres, "DATABASE_URI": Self.postgres])
        #expect(resolved.source == .defaultValue)
    }

    @Test func sourcesDescribeThemselves() {
        #expect(DatabaseLocation.Source.flag.description == "--database")
        #expect(DatabaseLocation.Source.environment("DATABASE_URL").description == "DATABASE_URL")
        #expect(DatabaseLocation.Source.defaultValue.description == "default")
    }

    // MARK: Parsing

    static let samples: [LocationSample] = [
        .init("postgres://tally@localhost:5432/tally", .postgres(url: "postgres://tally@localhost:5432/tally")),
        .init("postgresql://tally:pw@db:5432/tally?sslmode=require", .postgres(url: "postgresql://tally:pw@db:5432/tally?sslmode=require")),
        .init("POSTGRES://db/tally", .postgres(url: "POSTGRES://db/tally")),
        .init("sqlite:///var/lib/tally/tally.sqlite", .sqlite(path: "/var/lib/tally/tally.sqlite")),
        .init("sqlite:data/tally.sqlite", .sqlite(path: "data/tally.sqlite")),
        .init("sqlite:./tally.sqlite", .sqlite(path: "./tally.sqlite")),
        .init("SQLite:data.db", .sqlite(path: "data.db")),
        .init("file:/tmp/tally.sqlite", .sqlite(path: "/tmp/tally.sqlite")),
        .init("file:///tmp/tally.sqlite", .sqlite(path: "/tmp/tally.sqlite")),
        .init("file:tally.sqlite", .sqlite(path: "tally.sqlite")),
        .init("./tally.sqlite", .sqlite(path: "./tally.sqlite")),
        .init("/var/lib/tally/events.db", .sqlite(path: "/var/lib/tally/events.db")),
        .init("events.db", .sqlite(path: "events.db")),
        .init("~/My Data/tally.sqlite", .sqlite(path: "~/My Data/tally.sqlite")),
    ]

    @Test(arguments: samples)
    func parses(_ sample: LocationSample) throws {
        #expect(try DatabaseLocation(parsing: sample.text) == sample.location)
        // The same text is read the same way wherever it comes from.
        let resolved = try DatabaseLocation.resolve(flag: nil, environment: ["DATABASE_URL": sample.text])
        #expect(resolved.location == sample.location)
    }

    @Test func unsupportedSchemeSaysWhichAndWhatToDo() throws {
        let error = try #require(locationError { _ = try DatabaseLocation(parsing: "mysql://root:toor@db:3306/tally") })
        #expect(error.description.contains("'mysql'"))
        #expect(error.description.contains("--database"))
        #expect(error.description.contains("postgres://"))
        #expect(error.description.contains("SQLite file path"))
        #expect(!error.description.contains("toor"))
        #expect(error.source == .flag)
    }

    @Test func errorsNameTheEnvironmentVariable() throws {
        let error = try #require(locationError {
            _ = try DatabaseLocation.resolve(flag: nil, environment: ["PLATFORM_DATABASE_URL": "redis://cache:6379"])
        })
        #expect(error.source == .environment("PLATFORM_DATABASE_URL"))
        #expect(error.description.contains("PLATFORM_DATABASE_URL"))
        #expect(error.description.contains("'redis'"))

        // A bad flag fails even when the environment holds a good URL: the flag wins.
        let flag = try #require(locationError {
            _ = try DatabaseLocation.resolve(flag: "mongodb://db/tally", environment: ["DATABASE_URL": Self.postgres])
        })
        #expect(flag.source == .flag)
    }

    @Test func urlsWithoutAFileAreRejected() throws {
        for text in ["sqlite:", "sqlite://", "file:", "file://"] {
            let error = try #require(locationError { _ = try DatabaseLocation(parsing: text) }, "\(text)")
            #expect(error.description.contains("names no file"))
        }
    }

    // MARK: Redaction

    @Test func redactedHidesThePassword() {
        #expect(DatabaseLocation.redacted(Self.postgres) == "postgres://tally:***@db.internal:5432/analytics")
        #expect(DatabaseLocation.redacted("postgres://u:p@ss:w0rd@db/x") == "postgres://u:***@db/x")
        #expect(DatabaseLocation.redacted("postgres://tally@db:5432/x") == "postgres://tally@db:5432/x")
        #expect(DatabaseLocation.redacted("postgres://db:5432/x") == "postgres://db:5432/x")
        #expect(DatabaseLocation.redacted("./tally.sqlite") == "./tally.sqlite")
    }

    @Test func redactedHidesAPasswordGivenAsAQueryParameter() throws {
        // libpq accepts `?password=` as well as `user:password@`.
        let url = "postgresql://tally@db.internal:5432/analytics?sslmode=require&password=s3cret"
        #expect(!DatabaseLocation.redacted(url).contains("s3cret"))
        #expect(try !DatabaseLocation(parsing: url).description.contains("s3cret"))
    }

    @Test func descriptionsNeverShowThePassword() throws {
        let location = try DatabaseLocation(parsing: Self.postgres)
        #expect(location.description == "PostgreSQL postgres://tally:***@db.internal:5432/analytics")
        #expect(!location.description.contains("s3cret"))
        #expect(DatabaseLocation.sqlite(path: "./tally.sqlite").description == "SQLite file ./tally.sqlite")

        let error = try #require(locationError {
            _ = try DatabaseLocation.resolve(flag: nil, environment: ["DATABASE_URL": "mssql://sa:Pa55word@db/tally"])
        })
        #expect(!error.description.contains("Pa55word"))
        #expect(error.description.contains("DATABASE_URL"))
    }
}
