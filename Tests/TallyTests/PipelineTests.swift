import MetricsTestKit
import Synchronization
import Tally
import TallyTesting
import Testing

@Suite("Client and worker")
struct PipelineTests {
    static func configuration(sink: any EventSink) -> AnalyticsConfiguration {
        var configuration = AnalyticsConfiguration(service: "api", sink: sink)
        configuration.retry.baseDelay = .milliseconds(1)
        configuration.retry.maxDelay = .milliseconds(20)
        return configuration
    }

    @Test("16 tasks tracking 100,000 events each: every event stored exactly once")
    func concurrentProducers() async throws {
        let store = MemoryEventStore()
        let sink = FlakySink(wrapping: store)
        var configuration = Self.configuration(sink: sink)
        configuration.batchSize = 1_000
        configuration.bufferCapacity = 1_600_000
        let pipeline = AnalyticsPipeline(configuration: configuration)
        let services = RunningServices([pipeline.worker])

        await withTaskGroup(of: Void.self) { group in
            for producer in 0..<16 {
                group.addTask {
                    for n in 0..<100_000 {
                        pipeline.client.track(.taskStarted(taskID: "t_\(producer)_\(n)"))
                        // App code suspends now and then; this keeps the test from
                        // starving every other task on the cooperative pool.
                        if n % 1_000 == 0 { await Task.yield() }
                    }
                }
            }
        }
        try await services.shutDown()

        #expect(pipeline.client.statistics.buffered == 1_600_000)
        #expect(pipeline.client.statistics.droppedBufferFull == 0)
        // Ids are unique per tracked event and the store keeps one row per id:
        // 1.6M rows means none lost; 1.6M writes means none written twice.
        #expect(try await store.count() == 1_600_000)
        #expect(sink.arrivals.count == 1_600_000)
    }

    @Test("behind by many batches, the worker hands a transactional sink up to catchUpBatches at once; others get batchSize")
    func catchUp() async throws {
        for transactional in [true, false] {
            let store = MemoryEventStore()
            let sink = WriteSizeRecorder(store: store)
            var configuration = Self.configuration(sink: transactional ? sink : sink.plain)
            configuration.batchSize = 10
            configuration.catchUpBatches = 5
            configuration.flushInterval = .seconds(3_600)
            let pipeline = AnalyticsPipeline(configuration: configuration)
            // 1,000 events wait before the worker starts: it is 100 batches behind.
            for n in 0..<1_000 { pipeline.client.track(.pageView(path: "/p/\(n)")) }
            let services = RunningServices([pipeline.worker])
            try await services.shutDown()

            #expect(try await store.count() == 1_000)
            let sizes = sink.sizes
            #expect(sizes.reduce(0, +) == 1_000)
            #expect(sizes.max() == (transactional ? 50 : 10), "\(sizes)")
        }
    }

    @Test("graceful shutdown with 50,000 buffered events writes them all before run() returns")
    func shutdownDrains() async throws {
        let store = MemoryEventStore()
        var configuration = Self.configuration(sink: store)
        configuration.batchSize = 100_000
        configuration.flushInterval = .seconds(3_600)
        configuration.bufferCapacity = 60_000
        let pipeline = AnalyticsPipeline(configuration: configuration)
        let services = RunningServices([pipeline.worker])

        for n in 0..<50_000 {
            pipeline.client.track(.pageView(path: "/p/\(n)"))
        }
        #expect(try await store.count() == 0, "nothing is due before the batch fills or the interval passes")
        try await services.shutDown()

        #expect(try await store.count() == 50_000)
        // After shutdown the client refuses new events, and counts them.
        pipeline.client.track(.authLogout)
        #expect(pipeline.client.statistics.droppedAfterShutdown == 1)
    }

    @Test("a partial batch is written once the flush interval passes")
    func intervalFlush() async throws {
        let store = MemoryEventStore()
        var configuration = Self.configuration(sink: store)
        configuration.flushInterval = .milliseconds(200)
        let pipeline = AnalyticsPipeline(configuration: configuration)
        let services = RunningServices([pipeline.worker])

        for _ in 0..<5 { pipeline.client.track(.authLogout) }
        let flushed = try await eventually(timeout: .seconds(10)) { try await store.count() == 5 }
        #expect(flushed, "the interval flush wrote the partial batch while the worker kept running")
        try await services.shutDown()
    }

    @Test("opting out makes track a no-op; opting back in records again")
    func optOut() async throws {
        let store = MemoryEventStore()
        let pipeline = AnalyticsPipeline(configuration: Self.configuration(sink: store))
        let services = RunningServices([pipeline.worker])

        pipeline.client.isEnabled = false
        for _ in 0..<10 { pipeline.client.track(.authLogout) }
        pipeline.client.isEnabled = true
        pipeline.client.track(.authCodeVerified)
        try await services.shutDown()

        #expect(pipeline.client.statistics.ignoredOptedOut == 10)
        let stored = try await store.events(in: Timestamp(microsecondsSinceEpoch: 0)..<Timestamp.now().adding(days: 1), limit: 100)
        #expect(stored.map(\.name) == ["auth_code_verified"])
    }

    @Test("invalid events never reach the sink and are reported, naming the field")
    func invalidEventsReported() async throws {
        let store = MemoryEventStore()
        let reported = Mutex<[EventValidationError]>([])
        var configuration = Self.configuration(sink: store)
        configuration.onInvalidEvent = { error in reported.withLock { $0.append(error) } }
        let pipeline = AnalyticsPipeline(configuration: configuration)
        let services = RunningServices([pipeline.worker])

        pipeline.client.track(.apiRequest(method: "GET", route: "/v1/tasks", statusCode: 700, durationMs: 3))
        pipeline.client.track(.applicationError(errorType: "MailError", severity: .error, message: "bounce for jane@example.com"))
        pipeline.client.track(.apiRequest(method: "GET", route: "/v1/tasks", statusCode: 200, durationMs: 3))
        pipeline.client.track(CustomEvent("report_exported", properties: ["format": "csv"]))
        try await services.shutDown()

        let errors = reported.withLock { $0 }
        #expect(errors.map(\.field) == ["properties.status_code", "properties.message"])
        #expect(errors.map(\.code) == [.outOfRange, .personalData])
        #expect(try await store.count() == 2)
    }

    @Test("events tracked inside AnalyticsContext carry its user, anonymous id, session and service")
    func taskLocalContext() async throws {
        let store = MemoryEventStore()
        let pipeline = AnalyticsPipeline(configuration: Self.configuration(sink: store))
        let services = RunningServices([pipeline.worker])

        let scope = AnalyticsContext(userID: "u_42", anonymousID: "a_3", sessionID: "s_7", service: "worker")
        await AnalyticsContext.$current.withValue(scope) {
            pipeline.client.track(.taskStarted(taskID: "t_1"))
            await Task.yield()
            pipeline.client.track(.taskCompleted(taskID: "t_1", durationMs: 5), userID: "u_override")
        }
        pipeline.client.track(.authLogout)
        try await services.shutDown()

        let stored = try await store.events(in: Timestamp(microsecondsSinceEpoch: 0)..<Timestamp.now().adding(days: 1), limit: 10)
            .sorted { $0.receivedAt < $1.receivedAt }
        #expect(stored.map(\.userID) == ["u_42", "u_override", nil])
        #expect(stored.map(\.anonymousID) == ["a_3", "a_3", nil])
        #expect(stored.map(\.sessionID) == ["s_7", "s_7", nil])
        #expect(stored.map(\.service) == ["worker", "worker", "api"])
        #expect(stored.allSatisfy { $0.eventID.version == 7 && $0.context.libraryName == "tally-swift" })
    }

    @Test("AnalyticsContext is a value: a changed copy leaves the original as it was, and equal contexts are equal and hash alike")
    func contextIsAValue() {
        let original = AnalyticsContext(userID: "u_1", anonymousID: "a_1", sessionID: "s_1", service: "api")
        var changed = original
        changed.userID = "u_2"
        changed.service = nil
        #expect(original.userID == "u_1" && original.service == "api")
        #expect(changed.userID == "u_2" && changed.anonymousID == "a_1" && changed.sessionID == "s_1" && changed.service == nil)
        #expect(changed != original)
        var rebuilt = AnalyticsContext(userID: "u_2", anonymousID: "a_1", sessionID: "s_0")
        rebuilt.sessionID = "s_1"
        #expect(rebuilt == changed)
        #expect(Set([rebuilt, changed, original]).count == 2)
    }

    @Test("a full buffer applies the overflow policy and counts what it drops", arguments: [OverflowPolicy.dropNewest, .dropOldest])
    func overflow(policy: OverflowPolicy) async throws {
        let store = MemoryEventStore()
        var configuration = Self.configuration(sink: store)
        configuration.bufferCapacity = 10
        configuration.overflowPolicy = policy
        configuration.batchSize = 1_000
        let pipeline = AnalyticsPipeline(configuration: configuration)

        // The worker is not running yet, so nothing drains the buffer.
        for n in 0..<15 { pipeline.client.track(.pageView(path: "/\(n)")) }
        #expect(pipeline.client.statistics.droppedBufferFull == 5)

        let services = RunningServices([pipeline.worker])
        try await services.shutDown()
        let paths = try await store.events(in: Timestamp(microsecondsSinceEpoch: 0)..<Timestamp.now().adding(days: 1), limit: 100)
            .sorted { $0.receivedAt < $1.receivedAt }
            .compactMap { $0.properties["path"]?.stringValue }
        #expect(paths == (policy == .dropNewest ? (0..<10) : (5..<15)).map { "/\($0)" })
    }

    @Test("a full batch is written at once, not at the flush interval, whichever threads track it")
    func fullBatchWakesTheWorker() async throws {
        let store = MemoryEventStore()
        var configuration = Self.configuration(sink: store)
        configuration.batchSize = 50
        configuration.flushInterval = .seconds(3_600)
        let pipeline = AnalyticsPipeline(configuration: configuration)
        let services = RunningServices([pipeline.worker])
        // Let the worker go to sleep waiting for a batch first.
        try await Task.sleep(for: .milliseconds(100))
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<5 {
                group.addTask {
                    for n in 0..<10 { pipeline.client.track(.pageView(path: "/\(task)/\(n)")) }
                }
            }
        }
        let written = try await eventually(timeout: .seconds(30)) { try await store.count() == 50 }
        try await services.shutDown()
        #expect(written)
    }

    @Test("events tracked in the same microsecond still sort in track order by (timestamp, event id)")
    func sameMicrosecondKeepsTrackOrder() async throws {
        let store = MemoryEventStore()
        var configuration = Self.configuration(sink: store)
        configuration.bufferCapacity = 5_000
        configuration.batchSize = 5_000
        let pipeline = AnalyticsPipeline(configuration: configuration)
        // One explicit time for all: every event shares its microsecond.
        let time = Timestamp.now()
        for n in 0..<2_000 { pipeline.client.track(.pageView(path: "/\(n)"), timestamp: time) }

        let services = RunningServices([pipeline.worker])
        try await services.shutDown()
        let stored = try await store.events(in: Timestamp(microsecondsSinceEpoch: 0)..<Timestamp.now().adding(days: 1), limit: 5_000)
        #expect(stored.compactMap { $0.properties["path"]?.stringValue } == (0..<2_000).map { "/\($0)" })
        #expect(Set(stored.map(\.timestamp)) == [time])
    }

    @Test("transient sink failures are retried with backoff and nothing is lost or doubled")
    func retriesTransientFailures() async throws {
        let store = MemoryEventStore()
        let sink = FlakySink(wrapping: store)
        sink.failNext(3)
        var configuration = Self.configuration(sink: sink)
        configuration.batchSize = 10
        let pipeline = AnalyticsPipeline(configuration: configuration)
        let services = RunningServices([pipeline.worker])

        for n in 0..<100 { pipeline.client.track(.pageView(path: "/\(n)")) }
        let delivered = try await eventually { try await store.count() == 100 }
        try await services.shutDown()

        #expect(delivered)
        #expect(sink.failedWrites == 3)
        #expect(Set(sink.arrivals).count == sink.arrivals.count)
    }

    @Test("a failing sink never affects the caller of track")
    func failingSinkDoesNotBlockTrack() async throws {
        let sink = FlakySink(wrapping: MemoryEventStore())
        sink.isDown = true
        var configuration = Self.configuration(sink: sink)
        configuration.batchSize = 10
        configuration.bufferCapacity = 1_000
        configuration.retry.attemptsDuringShutdown = 1
        let pipeline = AnalyticsPipeline(configuration: configuration)
        let services = RunningServices([pipeline.worker])

        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for n in 0..<5_000 { pipeline.client.track(.pageView(path: "/\(n)")) }
        }
        // Not a timing assertion on speed: the calls returned while the sink was down,
        // and the buffer bounded what they could hold.
        #expect(elapsed < .seconds(60))
        let statistics = pipeline.client.statistics
        #expect(statistics.buffered + statistics.droppedBufferFull == 5_000)
        #expect(statistics.bufferDepth <= 1_000)
        try await services.shutDown()
    }

    @Test("the worker reports tracked, invalid, written, retries, dropped, batch size, latency and depth as metrics")
    func metrics() async throws {
        let metrics = TestMetrics()
        let sink = FlakySink(wrapping: MemoryEventStore())
        sink.failNext(2)
        var configuration = Self.configuration(sink: sink)
        configuration.metricsFactory = metrics
        configuration.batchSize = 10
        configuration.bufferCapacity = 100
        // Shutdown starts at once: give the retries room to succeed within it.
        configuration.retry.attemptsDuringShutdown = 5
        let pipeline = AnalyticsPipeline(configuration: configuration)
        for n in 0..<120 { pipeline.client.track(.pageView(path: "/\(n)")) }   // 20 over capacity
        pipeline.client.track(.apiRequest(method: "GET", route: "no-slash", statusCode: 200, durationMs: 1))
        let services = RunningServices([pipeline.worker])
        try await services.shutDown()

        #expect(try metrics.expectCounter("tally_events_tracked_total").totalValue == 100)
        #expect(try metrics.expectCounter("tally_events_written_total").totalValue == 100)
        #expect(try metrics.expectCounter("tally_sink_retries_total").totalValue == 2)
        #expect(try metrics.expectCounter("tally_events_dropped_total", [("reason", "buffer_full")]).totalValue == 21)
        #expect(try metrics.expectRecorder("tally_batch_size").values.reduce(0, +) == 100)
        #expect(try metrics.expectTimer("tally_sink_write_duration_seconds").values.count == 10)
        #expect(try metrics.expectRecorder("tally_buffer_depth").lastValue == 0)
    }

    @Test("invalid events are counted by the worker's metrics")
    func invalidMetric() async throws {
        let metrics = TestMetrics()
        var configuration = Self.configuration(sink: MemoryEventStore())
        configuration.metricsFactory = metrics
        let pipeline = AnalyticsPipeline(configuration: configuration)
        pipeline.client.track(.apiRequest(method: "GET", route: "no-slash", statusCode: 200, durationMs: 1))
        pipeline.client.track(.authLogout)
        let services = RunningServices([pipeline.worker])
        try await services.shutDown()
        #expect(try metrics.expectCounter("tally_events_invalid_total").totalValue == 1)
        #expect(try metrics.expectCounter("tally_events_written_total").totalValue == 1)
    }

    /// An app event with a rule of its own: rows must be positive.
    struct ReportExported: TrackableEvent {
        var rows: Int
        var name: String { "report_exported" }
        var properties: JSONObject { ["rows": .int(rows)] }
        func validate(limits: EventLimits, policy: PIIPolicy) throws(EventValidationError) {
            try payload.validate(limits: limits, policy: policy)
            if rows <= 0 {
                throw EventValidationError(code: .outOfRange, event: name, field: "properties.rows", reason: "must be at least 1")
            }
        }
    }

    @Test("an app-defined event's own rules apply to track(), and a rejection is reported, not stored")
    func appEventRules() async throws {
        let store = MemoryEventStore()
        let reported = Mutex<[EventValidationError]>([])
        var configuration = Self.configuration(sink: store)
        configuration.onInvalidEvent = { error in reported.withLock { $0.append(error) } }
        let pipeline = AnalyticsPipeline(configuration: configuration)
        let services = RunningServices([pipeline.worker])

        pipeline.client.track(ReportExported(rows: 0))
        pipeline.client.track(ReportExported(rows: 12))
        try await services.shutDown()

        #expect(reported.withLock { $0.map(\.field) } == ["properties.rows"])
        #expect(pipeline.client.statistics.rejectedByEventType == 1)
        let stored = try await store.events(in: Timestamp(microsecondsSinceEpoch: 0)..<Timestamp.now().adding(days: 1), limit: 10)
        #expect(stored.map { $0.properties["rows"] } == [12])
    }
}

/// A sink that records how many events each write carries. As a
/// ``PreparedWriteSink`` (the stores' one-transaction writes), or through
/// `plain`, as a sink without that ability (like the HTTP collector).
private final class WriteSizeRecorder: PreparedWriteSink, Sendable {
    let store: MemoryEventStore
    private let recorded = Mutex<[Int]>([])
    var sizes: [Int] { recorded.withLock { $0 } }

    init(store: MemoryEventStore) { self.store = store }

    func prepare(_ events: [EnrichedEvent]) -> [EnrichedEvent] { events }

    func write(prepared batches: [[EnrichedEvent]]) async throws -> [Int] {
        var counts: [Int] = []
        for batch in batches { counts.append(try await write(batch)) }
        return counts
    }

    func write(_ events: [EnrichedEvent]) async throws -> Int {
        recorded.withLock { $0.append(events.count) }
        return try await store.write(events)
    }

    var plain: any EventSink { Plain(recorder: self) }

    private struct Plain: EventSink {
        let recorder: WriteSizeRecorder
        func write(_ events: [EnrichedEvent]) async throws -> Int { try await recorder.write(events) }
    }
}
