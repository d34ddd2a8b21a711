import Foundation
import Tally
import TallyGzip
import TallyDevice
import TallySQLite
import TallyTesting

/// A fresh, migrated SQLite file with the device queue and settings on it.
struct DeviceFixture: Sendable {
    let directory: TemporaryDirectory
    let database: SQLiteDatabase
    let queue: SQLiteEventQueue
    let settings: SQLiteAnalyticsSettings

    static func make() async throws -> DeviceFixture {
        let directory = try TemporaryDirectory(prefix: "tally-device")
        let database = try SQLiteDatabase(path: directory.file("device.sqlite"))
        try await Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget(database: database))
            .migrate(phases: [.pre, .post])
        return DeviceFixture(directory: directory, database: database,
                             queue: SQLiteEventQueue(database: database), settings: SQLiteAnalyticsSettings(database: database))
    }

    func remove() { directory.remove() }

    func enqueue(maxQueueSize: Int = 10_000, maxAge: Duration = .seconds(7 * 86_400)) -> EnqueueAnalyticsEventUseCase {
        EnqueueAnalyticsEventUseCase(queue: queue, settings: settings, service: "ios-app",
                                     context: EventContext(libraryName: "tally-swift", libraryVersion: "0.1.0", appVersion: "2.4.1"),
                                     maxQueueSize: maxQueueSize, maxAge: maxAge)
    }

    func flush(to server: LocalHTTPServer, batchSize: Int = 100, initialBackoff: Duration = .milliseconds(50),
               clock: FlushClock = .system) -> FlushAnalyticsQueueUseCase {
        flush(to: server.baseURL, batchSize: batchSize, initialBackoff: initialBackoff, clock: clock)
    }

    func flush(to url: URL, batchSize: Int = 100, initialBackoff: Duration = .milliseconds(50),
               clock: FlushClock = .system) -> FlushAnalyticsQueueUseCase {
        var backoff = FlushBackoff()
        backoff.initialDelay = initialBackoff
        var configuration = HTTPCollectorTransport.Configuration(collectorURL: url, writeKey: DeviceFixture.writeKey)
        configuration.timeout = .seconds(5)
        return FlushAnalyticsQueueUseCase(queue: queue, settings: settings,
                                          transport: HTTPCollectorTransport(configuration: configuration),
                                          batchSize: batchSize, backoff: backoff, clock: clock)
    }

    /// Queues `count` distinct valid events and returns their ids in queue order.
    func queueEvents(_ count: Int, using enqueue: EnqueueAnalyticsEventUseCase? = nil) async throws -> [EventID] {
        let enqueue = enqueue ?? self.enqueue()
        var ids: [EventID] = []
        for i in 0..<count {
            let event = AnalyticsEvent.searchPerformed(resultsCount: i, queryLength: 3)
            guard let id = try await enqueue.execute(event, userID: "u_device_1").eventID else {
                throw FixtureError(description: "event \(i) was not queued")
            }
            ids.append(id)
        }
        return ids
    }

    static let writeKey = "wk_test_3f9a"
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
}

extension LocalHTTPServer.Request {
    /// The gunzipped, parsed JSON body.
    func json() throws -> JSONValue {
        try JSONValue(parsing: String(decoding: try Gzip.decompress(body), as: UTF8.self))
    }

    /// The `messageId`s of a Segment batch body.
    func messageIDs() throws -> [String] {
        try json()["batch"]?.arrayValue?.compactMap { $0["messageId"]?.stringValue } ?? []
    }
}
