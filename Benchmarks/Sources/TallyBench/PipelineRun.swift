import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Tally
import TallySQLite

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One run of the real pipeline into a fresh SQLite file: the client, the worker
/// in a ServiceGroup, `SQLiteEventStore` as the sink. The clock starts when the
/// first event is handed over and stops when the worker reports the last one
/// durable through `onDurable` (committed by the store).
struct PipelineRun {
    var seconds: Double
    var stored: Int
    var detail: String
    var latency: LatencySummary?

    /// Pre-stamped events through `client.submit` (backpressure, ids and times kept).
    static func submit(_ events: [EnrichedEvent], databasePath: String, batchSize: Int, cacheKiB: Int,
                       tuning: WorkerTuning) async throws -> PipelineRun {
        let setup = try await Setup(databasePath: databasePath, cacheKiB: cacheKiB) { configuration in
            configuration.batchSize = batchSize
            tuning.apply(to: &configuration)
        }
        let start = ContinuousClock.now
        let accepted = await setup.pipeline.client.submit(events)
        try await setup.stop()
        return try await setup.result(start: start, accepted: accepted, detail: "buffer \(setup.bufferCapacity.formatted())\(tuning.catchUpNote)")
    }

    /// The store's writer alone: the rows encoded before the clock starts, then
    /// written in transactions of `batchSize`, as the worker and the HTTP ingest's
    /// group commit call it. What the pipeline adds is the difference.
    static func storeOnly(_ events: [EnrichedEvent], databasePath: String, batchSize: Int, cacheKiB: Int) async throws -> PipelineRun {
        let store = SQLiteEventStore(database: try await freshDatabase(at: databasePath, cacheKiB: cacheKiB))
        let batches = stride(from: 0, to: events.count, by: batchSize).map { start in
            store.prepare(Array(events[start..<min(start + batchSize, events.count)]))
        }
        let start = ContinuousClock.now
        var stored = 0
        for batch in batches { stored += try await store.write(prepared: [batch])[0] }
        let seconds = (ContinuousClock.now - start).inSeconds
        return PipelineRun(seconds: seconds, stored: try await store.count(),
                           detail: stored == events.count ? "rows encoded beforehand" : "only \(stored) newly stored")
    }

    /// `track()` of the same events' payloads and users from `tasks` concurrent
    /// tasks; time and id are stamped by `track`, as in an app. The buffer holds
    /// every event, so none is dropped for lack of room.
    ///
    /// Each sample times `callsPerSample` consecutive calls on one task and keeps
    /// their mean: one call alone gives the tail of the distribution, but its two
    /// clock reads wait for the call's own work to finish, so they cost it more
    /// than the same reads back to back; a hundred calls give the typical cost
    /// with that overhead spread thin (and the move of each event out of the
    /// task's share counted in).
    static func track(_ events: [EnrichedEvent], tasks: Int, callsPerSample: Int, databasePath: String, cacheKiB: Int,
                      tuning: WorkerTuning) async throws -> PipelineRun {
        let setup = try await Setup(databasePath: databasePath, cacheKiB: cacheKiB) { configuration in
            tuning.apply(to: &configuration)
            configuration.bufferCapacity = events.count
            configuration.context = EventContext(libraryName: "tally-swift", libraryVersion: TallyVersion.current,
                                                 appVersion: "2.2.0", osName: "Linux", locale: "en-US")
        }
        // Each task's share, round robin, prepared before the clock starts. Each
        // call is handed its event and user, moved out of the share, as an app
        // hands over values it made: copying them out of the array would time a
        // retain of each string (and its release) that is not `track`'s.
        // Each share sits alone in a box the task empties, so the task's copy is
        // the only one: a second reference would make the first `take()` copy
        // the whole share (a retain of every string) inside the timed calls.
        let shares = (0..<tasks).map { task in
            Share(stride(from: task, to: events.count, by: tasks).compactMap { index -> (AnalyticsEvent, String?)? in
                guard case .catalogue(let event) = events[index].payload else { return nil }
                return (event, events[index].userID)
            })
        }
        let client = setup.pipeline.client
        let start = ContinuousClock.now
        let latencies = await withTaskGroup(of: [UInt32].self) { group in
            for (task, box) in shares.enumerated() {
                group.addTask {
                    var share = box.takeCalls()
                    let scope = AnalyticsContext(sessionID: "s_bench_\(task)", service: "api")
                    return AnalyticsContext.$current.withValue(scope) {
                        var latencies = [UInt32](repeating: 0, count: (share.count + callsPerSample - 1) / callsPerSample)
                        latencies.withUnsafeMutableBufferPointer { buffer in
                            for sample in buffer.indices {
                                let calls = sample * callsPerSample..<min((sample + 1) * callsPerSample, share.count)
                                if calls.count == 1 {
                                    let (event, user) = share[calls.lowerBound].take()!
                                    let before = monotonicNanoseconds()
                                    client.track(event, userID: user)
                                    buffer[sample] = UInt32(clamping: monotonicNanoseconds() &- before)
                                } else {
                                    let before = monotonicNanoseconds()
                                    for index in calls {
                                        let (event, user) = share[index].take()!
                                        client.track(event, userID: user)
                                    }
                                    buffer[sample] = UInt32(clamping: (monotonicNanoseconds() &- before) / UInt64(calls.count))
                                }
                            }
                        }
                        return latencies
                    }
                }
            }
            var all: [UInt32] = []
            for await part in group { all += part }
            return all
        }
        let accepted = client.statistics.buffered
        try await setup.stop()
        var run = try await setup.result(start: start, accepted: accepted, detail: "buffer \(setup.bufferCapacity.formatted())\(tuning.catchUpNote)")
        run.latency = LatencySummary(tasks: tasks, callsPerSample: callsPerSample, nanoseconds: latencies)
        return run
    }

    /// An empty, migrated database at `path` (any file there is removed first).
    static func freshDatabase(at path: String, cacheKiB: Int) async throws -> SQLiteDatabase {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        var configuration = SQLiteDatabase.Configuration()
        configuration.cacheSizeKiB = cacheKiB
        let database = try SQLiteDatabase(path: path, configuration: configuration)
        try await Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget(database: database))
            .migrate(phases: [.pre, .post])
        return database
    }

    /// A fresh database, migrated, and a pipeline whose worker runs in a ServiceGroup.
    private struct Setup {
        let database: SQLiteDatabase
        let store: SQLiteEventStore
        let pipeline: AnalyticsPipeline
        let progress: DurableProgress
        let bufferCapacity: Int
        let group: ServiceGroup
        let task: Task<Void, any Error>

        init(databasePath: String, cacheKiB: Int, configure: (inout AnalyticsConfiguration) -> Void) async throws {
            database = try await PipelineRun.freshDatabase(at: databasePath, cacheKiB: cacheKiB)
            store = SQLiteEventStore(database: database)

            var logger = Logger(label: "tally.bench")
            logger.logLevel = .error
            var configuration = AnalyticsConfiguration(service: "api", sink: store)
            configuration.logger = logger
            let progress = DurableProgress()
            self.progress = progress
            configuration.onDurable = { ids in progress.durable(ids.count) }
            configuration.onInvalidEvent = { _ in progress.invalid() }
            configure(&configuration)
            bufferCapacity = configuration.bufferCapacity
            pipeline = AnalyticsPipeline(configuration: configuration)
            let group = ServiceGroup(configuration: .init(services: [pipeline.worker], gracefulShutdownSignals: [], logger: logger))
            self.group = group
            task = Task { try await group.run() }
        }

        /// Graceful shutdown: the worker drains what is buffered before `run()` returns.
        func stop() async throws {
            await group.triggerGracefulShutdown()
            try await task.value
        }

        func result(start: ContinuousClock.Instant, accepted: Int, detail: String) async throws -> PipelineRun {
            let counts = progress.counts
            guard counts.durable + counts.invalid == accepted, let finished = counts.lastDurableAt else {
                throw ShellError(message: "the worker reported \(counts.durable) durable and \(counts.invalid) invalid of \(accepted) accepted")
            }
            let stored = try await store.count()
            let dropped = pipeline.client.statistics.droppedBufferFull
            var detail = detail
            if counts.invalid > 0 { detail += ", \(counts.invalid) invalid" }
            if dropped > 0 { detail += ", \(dropped) dropped (buffer full)" }
            if stored != counts.durable { detail += ", table holds \(stored) of \(counts.durable) reported durable" }
            return PipelineRun(seconds: (finished - start).inSeconds, stored: stored, detail: detail)
        }
    }
}

/// Worker settings a run may override (`--catch-up`, `--buffer`); the defaults otherwise.
struct WorkerTuning {
    var catchUpBatches: Int?
    var bufferCapacity: Int?

    func apply(to configuration: inout AnalyticsConfiguration) {
        if let catchUpBatches { configuration.catchUpBatches = catchUpBatches }
        if let bufferCapacity { configuration.bufferCapacity = bufferCapacity }
    }

    /// For a run's notes: the catch-up setting when it is not the default.
    var catchUpNote: String { catchUpBatches.map { ", catch-up \($0) batches" } ?? "" }
}

/// What the worker reported through `onDurable` and `onInvalidEvent`, and when
/// the last durable report came.
final class DurableProgress: Sendable {
    struct Counts {
        var durable = 0
        var invalid = 0
        var lastDurableAt: ContinuousClock.Instant?
    }

    private let state = Mutex(Counts())

    func durable(_ count: Int) {
        let now = ContinuousClock.now
        state.withLock {
            $0.durable += count
            $0.lastDurableAt = now
        }
    }

    func invalid() {
        state.withLock { $0.invalid += 1 }
    }

    var counts: Counts { state.withLock { $0 } }
}

/// Per-call latencies, in nanoseconds: each sample one call, or the mean of
/// `callsPerSample` consecutive calls.
struct LatencySummary {
    var tasks: Int
    var callsPerSample: Int
    var sorted: [UInt32]

    init(tasks: Int, callsPerSample: Int, nanoseconds: [UInt32]) {
        self.tasks = tasks
        self.callsPerSample = callsPerSample
        sorted = nanoseconds.sorted()
    }

    var samples: Int { sorted.count }

    func ns(_ quantile: Double) -> String {
        guard !sorted.isEmpty else { return "-" }
        let index = min(sorted.count - 1, max(0, Int((quantile * Double(sorted.count)).rounded(.up)) - 1))
        return sorted[index].formatted()
    }

    /// The median cost of the two clock reads that time each call.
    static func clockReadOverhead() -> Double {
        var samples = [UInt32](repeating: 0, count: 100_000)
        for index in samples.indices {
            let before = monotonicNanoseconds()
            samples[index] = UInt32(clamping: monotonicNanoseconds() &- before)
        }
        samples.sort()
        return Double(samples[samples.count / 2])
    }
}

@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
}

/// One task's calls for the track run, handed over once (see `PipelineRun.track`).
private final class Share: @unchecked Sendable {
    private var calls: [(AnalyticsEvent, String?)?]

    init(_ calls: [(AnalyticsEvent, String?)?]) { self.calls = calls }

    /// The calls, leaving the box empty: called once, by the one task that owns it.
    func takeCalls() -> [(AnalyticsEvent, String?)?] {
        defer { calls = [] }
        return calls
    }
}
