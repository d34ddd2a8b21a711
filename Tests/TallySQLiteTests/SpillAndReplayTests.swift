import Foundation
import Synchronization
import Tally
import TallySQLite
import TallyTesting
import Testing

@Suite("Spill to the durable queue and replay")
struct SpillAndReplayTests {
    /// A migrated SQLite file holding the durable queue.
    static func makeQueue(in directory: TemporaryDirectory, name: String = "spill.sqlite") async throws -> SQLiteEventQueue {
        let database = try SQLiteDatabase(path: directory.file(name))
        try await Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget(database: database)).migrate(phases: [.pre, .post])
        return SQLiteEventQueue(database: database)
    }

    static func configuration(sink: any EventSink, queue: any DurableQueue) -> AnalyticsConfiguration {
        var configuration = AnalyticsConfiguration(service: "api", sink: sink)
        configuration.durableQueue = queue
        configuration.batchSize = 50
        configuration.flushInterval = .milliseconds(50)
        configuration.retry.baseDelay = .milliseconds(1)
        configuration.retry.maxDelay = .milliseconds(10)
        configuration.retry.attemptsBeforeSpilling = 2
        configuration.retry.probeInterval = .milliseconds(50)
        return configuration
    }

    @Test("sink down while tracking: events spill to disk, then arrive exactly once and in order per producer")
    func spillThenRecover() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let queue = try await Self.makeQueue(in: directory)
        let store = MemoryEventStore()
        let sink = FlakySink(wrapping: store)
        sink.isDown = true
        let durable = Mutex(0)
        var configuration = Self.configuration(sink: sink, queue: queue)
        configuration.onDurable = { ids in durable.withLock { $0 += ids.count } }
        let pipeline = AnalyticsPipeline(configuration: configuration)
        let services = RunningServices([pipeline.worker])

        // Four producers, each numbering its events.
        await withTaskGroup(of: Void.self) { group in
            for producer in 0..<4 {
                group.addTask {
                    for n in 0..<1_000 {
                        pipeline.client.track(CustomEvent("step", properties: ["producer": .int(producer), "n": .int(n)]))
                        if n % 100 == 0 { await Task.yield() }
                    }
                }
            }
        }
        let allSpilled = try await eventually { try await queue.count() == 4_000 }
        #expect(allSpilled, "with the sink down, every event waits on disk")
        #expect(try await store.count() == 0)
        // A reader sees the queue's last rows once they are committed; the worker
        // reports them durable a moment later, once their commit is synced.
        #expect(await eventually { durable.withLock { $0 } == 4_000 }, "every spilled event was reported durable")

        sink.isDown = false
        let allDelivered = try await eventually { try await store.count() == 4_000 }
        try await services.shutDown()

        #expect(allDelivered)
        #expect(try await queue.count() == 0)
        #expect(Set(sink.arrivals).count == sink.arrivals.count, "no event was written twice")
        let events = try await store.events(in: Timestamp(microsecondsSinceEpoch: 0)..<Timestamp.now().adding(days: 1), limit: 10_000)
        let arrivalIndex = Dictionary(uniqueKeysWithValues: sink.arrivals.enumerated().map { ($1, $0) })
        for producer in 0..<4 {
            let sequence = events.filter { $0.properties["producer"] == .int(producer) }
                .sorted { arrivalIndex[$0.eventID]! < arrivalIndex[$1.eventID]! }
                .compactMap { $0.properties["n"]?.intValue }
            #expect(sequence == Array(0..<1_000), "producer \(producer) arrived in the order it tracked")
        }
    }

    @Test("events spilled before a shutdown are replayed by the next run")
    func replayAfterRestart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = MemoryEventStore()

        do {
            let sink = FlakySink(wrapping: store)
            sink.isDown = true
            let pipeline = AnalyticsPipeline(configuration: Self.configuration(sink: sink, queue: try await Self.makeQueue(in: directory)))
            let services = RunningServices([pipeline.worker])
            for n in 0..<500 { pipeline.client.track(.pageView(path: "/\(n)")) }
            try await services.shutDown()
        }
        let queue = try await Self.makeQueue(in: directory)
        #expect(try await queue.count() == 500, "shutdown with the sink down leaves everything on disk")

        let pipeline = AnalyticsPipeline(configuration: Self.configuration(sink: store, queue: queue))
        let services = RunningServices([pipeline.worker])
        let replayed = try await eventually { try await store.count() == 500 }
        try await services.shutDown()
        #expect(replayed)
        #expect(try await queue.count() == 0)
    }

    @Test("the durable queue round-trips events exactly and keeps each id once")
    func queueRoundTrip() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let queue = try await Self.makeQueue(in: directory)
        let events = CatalogueExamples.enrichedAll(startingAt: Timestamp(iso8601: "2026-11-20T08:00:00Z")!)

        try await queue.enqueue(events)
        try await queue.enqueue(Array(events.prefix(10)))
        #expect(try await queue.count() == events.count)

        let peeked = try await queue.peek(limit: 1_000)
        #expect(peeked.map(\.event) == events)
        #expect(peeked.map(\.id) == peeked.map(\.id).sorted())

        try await queue.recordFailedAttempt(Array(peeked.prefix(3).map(\.id)), error: "503 from collector")
        #expect(try await queue.peek(limit: 3).map(\.attempts) == [1, 1, 1])
        try await queue.remove(Array(peeked.prefix(5).map(\.id)))
        #expect(try await queue.peek(limit: 1).first?.event == events[5])

        let trimmed = try await queue.trim(maxCount: 10, olderThan: nil)
        #expect(trimmed == events.count - 5 - 10)
        #expect(try await queue.peek(limit: 100).map(\.event) == Array(events.suffix(10)))
    }
}
