import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Tally
import TallyPostgres
import TallyPostgresTesting
import TallyServer
import TallySQLite
import TallyTesting
import Testing

/// Which database a test's server runs on.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }
}

/// Flips a store between working and failing, for failure injection.
final class FailureSwitch: Sendable {
    private let failing = Mutex(false)
    var isFailing: Bool { failing.withLock { $0 } }
    func set(_ value: Bool) { failing.withLock { $0 = value } }
}

struct InjectedStoreFailure: Error, CustomStringConvertible {
    var description: String { "injected failure: the store is down" }
}

struct NotMigrated: Error, CustomStringConvertible {
    var pending: Int
    var description: String { "\(pending) migrations pending" }
}

/// The real store, whose writes throw while the switch is on (the database is
/// "down"); reads always go through, so the test can look at what is stored.
struct SwitchableEventStore: EventStore, EventQueries {
    let base: any EventStore & EventQueries
    let failure: FailureSwitch

    func write(_ events: [EnrichedEvent]) async throws -> Int {
        if failure.isFailing { throw InjectedStoreFailure() }
        return try await base.write(events)
    }

    func count() async throws -> Int { try await base.count() }
    func events(in range: Range<Timestamp>, limit: Int) async throws -> [EnrichedEvent] { try await base.events(in: range, limit: limit) }
    func dailyCounts() async throws -> [DailyEventCount] { try await base.dailyCounts() }
    func events(matching filter: EventFilter, after cursor: EventCursor?, limit: Int) async throws -> [EnrichedEvent] {
        try await base.events(matching: filter, after: cursor, limit: limit)
    }
    func trend(_ query: TrendQuery) async throws -> [TrendPoint] { try await base.trend(query) }
    func eraseUser(_ userID: String) async throws -> UserErasure { try await base.eraseUser(userID) }
}

/// One test's server: its own database (SQLite files in a temporary directory,
/// or a throwaway PostgreSQL database), its own spill queue, its keys.
struct ServerHarness: Sendable {
    let server: TallyServer
    /// The real store, unwrapped: what is actually stored.
    let store: any EventStore & EventQueries
    let aggregates: any AggregateStore
    let keys: any APIKeyStore
    let spill: SQLiteEventQueue
    let kind: StoreKind

    /// A quiet logger: the tests assert on responses and stored rows, not on logs.
    static let quietLogger: Logger = {
        var logger = Logger(label: "tally.serve.test")
        logger.logLevel = .critical
        return logger
    }()

    /// Runs `body` with a server on a freshly migrated store of `kind`.
    static func with<Result: Sendable>(
        _ kind: StoreKind = .sqlite,
        failure: FailureSwitch? = nil,
        configure: @Sendable (inout TallyServer.Configuration) -> Void = { _ in },
        _ body: @Sendable (ServerHarness) async throws -> Result
    ) async throws -> Result {
        let directory = try TemporaryDirectory(prefix: "tally-server-test")
        defer { directory.remove() }
        let spillDatabase = try SQLiteDatabase(path: directory.file("spill.sqlite"))
        try await Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget(database: spillDatabase)).migrate(phases: [.pre])
        let spill = SQLiteEventQueue(database: spillDatabase)
        var settings = TallyServer.Configuration()
        settings.port = 0
        settings.logger = quietLogger
        settings.refresh.logger = quietLogger
        // The background refresher runs its startup pass and, after an erase, the
        // dirty days; tests that refresh explicitly then never race a timed pass.
        settings.refresh.dirtyInterval = nil
        configure(&settings)
        let configuration = settings

        @Sendable func run(description: String, events: any EventStore & EventQueries, aggregates: any AggregateStore,
                           keys: any APIKeyStore, migrator: Migrator) async throws -> Result {
            let served: any EventStore & EventQueries
            if let failure {
                served = SwitchableEventStore(base: events, failure: failure)
            } else {
                served = events
            }
            let backend = ServerBackend(description: description, events: served, aggregates: aggregates, keys: keys,
                                        checkReady: {
                                            let status = try await migrator.status()
                                            guard status.pendingCount == 0, status.changedCount == 0 else {
                                                throw NotMigrated(pending: status.pendingCount)
                                            }
                                        })
            let server = TallyServer(backend: backend, spill: spill, configuration: configuration)
            return try await body(ServerHarness(server: server, store: events, aggregates: aggregates, keys: keys, spill: spill, kind: kind))
        }

        switch kind {
        case .sqlite:
            let path = directory.file("tally.sqlite")
            let database = try SQLiteDatabase(path: path)
            let migrator = Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget(database: database))
            try await migrator.migrate(phases: [.pre, .post])
            return try await run(description: "SQLite \(path)", events: SQLiteEventStore(database: database),
                                 aggregates: SQLiteAggregateStore(database: database), keys: SQLiteAPIKeyStore(database: database),
                                 migrator: migrator)
        case .postgres:
            return try await TestPostgres.withMigratedDatabase { database in
                let mode = try await PostgresMigrationTarget.mode(of: database)
                let migrator = Migrator(migrations: PostgresMigrations.all(mode: mode),
                                        target: PostgresMigrationTarget(database: database, mode: mode))
                return try await run(description: database.displayName, events: PostgresEventStore(database: database),
                                     aggregates: PostgresAggregateStore(database: database),
                                     keys: PostgresAPIKeyStore(database: database), migrator: migrator)
            }
        }
    }

    /// Runs the application — routes, worker and refresher — on a real socket.
    func live<Value>(_ test: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        try await server.application().test(.live, test)
    }

    /// A new key of `scope` for `service`, stored in the backend's key store.
    func makeKey(_ scope: KeyScope, service: String = "checkout") async throws -> String {
        let key = APIKey.generate(scope: scope)
        try await keys.insert(key.record(service: service))
        return key.description
    }

    /// A key that was revoked before it was ever used (so no cached record exists).
    func makeRevokedKey(_ scope: KeyScope, service: String = "checkout") async throws -> String {
        let key = APIKey.generate(scope: scope)
        try await keys.insert(key.record(service: service))
        #expect(try await keys.revoke(id: key.id, at: .now()))
        return key.description
    }

    /// Waits until the server's own refresher has recomputed every dirty day
    /// (ingest and erase mark the days they touch).
    func waitForRefresh(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let refreshed = try await eventually(timeout: .seconds(60)) { try await aggregates.dirtyDays().isEmpty }
        #expect(refreshed, "the background refresher recomputed the dirty days", sourceLocation: sourceLocation)
    }

    /// Every stored event, oldest first, read page by page from the store itself.
    func storedEvents(_ filter: EventFilter = EventFilter()) async throws -> [EnrichedEvent] {
        var all: [EnrichedEvent] = []
        var cursor: EventCursor?
        while true {
            let page = try await store.events(matching: filter, after: cursor, limit: 500)
            all += page
            guard page.count == 500, let last = page.last else { return all }
            cursor = EventCursor(after: last)
        }
    }
}

// MARK: - HTTP

/// `Authorization: Basic base64(key + ":")`, as Segment's SDKs send a write key.
func basicAuthorization(_ key: String) -> String {
    "Basic " + Data((key + ":").utf8).base64EncodedString()
}

extension TestClientProtocol {
    /// Sends `body` (JSON, or raw bytes) with `key` as the Basic user.
    @discardableResult
    func send(_ method: HTTPRequest.Method, _ uri: String, key: String? = nil, json: JSONValue? = nil,
              bytes: [UInt8]? = nil, headers extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers = extra
        if let key { headers[.authorization] = basicAuthorization(key) }
        var body: ByteBuffer?
        if let json {
            headers[.contentType] = "application/json"
            body = ByteBuffer(string: json.serialized())
        } else if let bytes {
            body = ByteBuffer(bytes: bytes)
        }
        return try await execute(uri: uri, method: method, headers: headers, body: body)
    }

    func get(_ uri: String, key: String? = nil) async throws -> TestResponse {
        try await send(.get, uri, key: key)
    }
}

extension TestResponse {
    var text: String { String(decoding: body.readableBytesView, as: UTF8.self) }

    /// The body as JSON; fails the test (throws) when it is not JSON.
    func json(sourceLocation: SourceLocation = #_sourceLocation) throws -> JSONValue {
        do {
            return try JSONValue.parse(Array(body.readableBytesView))
        } catch {
            Issue.record("the body is not JSON (\(error)): \(text)", sourceLocation: sourceLocation)
            throw error
        }
    }

    /// `error.message` of an error response.
    var errorMessage: String { (try? JSONValue.parse(Array(body.readableBytesView)))?["error"]?["message"]?.stringValue ?? text }
    var errorCode: String? { (try? JSONValue.parse(Array(body.readableBytesView)))?["error"]?["code"]?.stringValue }
}

// MARK: - Messages

enum Messages {
    /// A Segment `track` message with a fresh UUIDv7 messageId.
    static func track(_ event: String, properties: JSONObject = [:], userId: String? = "u_buyer_1",
                      at time: Timestamp, messageId: String? = nil, context: JSONObject? = nil) -> JSONValue {
        var message: JSONObject = [
            "type": "track", "event": .string(event), "properties": .object(properties),
            "messageId": .string(messageId ?? EventID.generate(at: time).uuidString),
            "timestamp": .string(time.iso8601),
        ]
        if let userId { message["userId"] = .string(userId) }
        if let context { message["context"] = .object(context) }
        return .object(message)
    }

    /// A catalogue event in the wire form Tally's client sends, without `receivedAt`.
    static func wire(_ event: EnrichedEvent) -> JSONValue {
        var object = event.wireJSON
        object.removeValue(forKey: "receivedAt")
        return .object(object)
    }

    static func batch(_ messages: [JSONValue], extra: JSONObject = [:]) -> JSONValue {
        var object = extra
        object["batch"] = .array(messages)
        return .object(object)
    }
}

/// A day outside the refresher's scheduled window (today − 3 days … today), so
/// the running refresher never races the tests' own refreshes.
func testDay() -> Timestamp { Timestamp.now().startOfDay.adding(days: -10) }

extension JSONValue {
    var rows: [JSONValue] { self["rows"]?.arrayValue ?? [] }
}
