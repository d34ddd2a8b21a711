import Benchmark
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Tally

// `track()` on the caller's thread, against DESIGN.md §8: ≤ 100 ns median,
// ≤ 1 µs p99.9, zero heap growth at steady state.
//
//   swift package --package-path Benchmarks benchmark --no-progress
//
// The text table stops at p99; p99.9 of the one-call-per-iteration benchmarks
// comes from their HDR histograms:
//
//   swift package --package-path Benchmarks --allow-writing-to-directory /tmp/h benchmark --no-progress \
//       --filter "track, 1 task, (worker idle, )?1 call per iteration" --format histogram --path /tmp/h
//
// Each benchmark gets a fresh pipeline whose worker runs in a ServiceGroup and
// drains into a sink that keeps nothing, so what is measured is `track` (stamp,
// lock, append) with a consumer taking batches concurrently, not storage. The
// buffer holds more events than a benchmark tracks, so no event is ever dropped
// (a dropped event is cheaper and would flatter the figures); each teardown
// prints the client's statistics to stderr to show it.
//
// The malloc interposer counts allocations process-wide: while the worker
// drains, its own allocations (batch arrays, validation) land in the figures of
// the `track` benchmarks. "track, worker idle" keeps the worker asleep during
// the measurement, so its mallocs and unfreed bytes are `track`'s alone.

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .mallocFreeDelta, .memoryLeakedBytes, .peakMemoryResident],
        timeUnits: .nanoseconds,
        warmupIterations: 1_000,
        maxDuration: .seconds(3)
    )

    // One call per iteration: the per-call distribution (p99.9), which includes
    // the benchmark's own clock reads around each call (see "clock overhead").
    // Wall clock only: reading the malloc counters around every call would add
    // the framework's own work to each sample.
    Benchmark("track, 1 task, 1 call per iteration",
              configuration: .init(metrics: [.wallClock], maxIterations: 1_000_000)) { benchmark in
        let client = Fixture.client()
        benchmark.startMeasurement()
        client.track(.apiRequest(method: "GET", route: "/v1/tasks/:id", statusCode: 200, durationMs: 3.2))
        benchmark.stopMeasurement()
    } setup: {
        Fixture.start(bufferCapacity: 1_200_000)
    } teardown: {
        try await Fixture.stop(label: "track, 1 task, 1 call per iteration")
    }

    // The same with the worker asleep: the per-call distribution without a
    // consumer contending for the buffer's lock.
    Benchmark("track, 1 task, worker idle, 1 call per iteration",
              configuration: .init(metrics: [.wallClock], maxIterations: 1_000_000)) { benchmark in
        let client = Fixture.client()
        benchmark.startMeasurement()
        client.track(.apiRequest(method: "GET", route: "/v1/tasks/:id", statusCode: 200, durationMs: 3.2))
        benchmark.stopMeasurement()
    } setup: {
        Fixture.start(bufferCapacity: 1_200_000, idleWorker: true)
    } teardown: {
        try await Fixture.stop(label: "track, 1 task, worker idle, 1 call per iteration")
    }

    // 1,000 calls per iteration: the mean cost of a call without the clock reads.
    Benchmark("track, 1 task, 1000 calls per iteration",
              configuration: .init(warmupIterations: 10, scalingFactor: .kilo, maxIterations: 2_000)) { benchmark in
        let client = Fixture.client()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            client.track(.apiRequest(method: "GET", route: "/v1/tasks/:id", statusCode: 200, durationMs: 3.2))
        }
        benchmark.stopMeasurement()
    } setup: {
        Fixture.start(bufferCapacity: 2_100_000)
    } teardown: {
        try await Fixture.stop(label: "track, 1 task, 1000 calls per iteration")
    }

    // Four concurrent tasks × 250 calls = 1,000 calls per iteration, so every
    // per-op figure is per call: wall clock per op is the aggregate cost of a
    // call (1 / throughput) with four producers contending for the buffer's lock
    // on two cores; a single caller waits about twice that per call.
    Benchmark("track, 4 tasks, 4 x 250 calls per iteration",
              configuration: .init(warmupIterations: 10, scalingFactor: .kilo, maxIterations: 2_000)) { benchmark async in
        let client = Fixture.client()
        benchmark.startMeasurement()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<250 {
                        client.track(.apiRequest(method: "GET", route: "/v1/tasks/:id", statusCode: 200, durationMs: 3.2))
                    }
                }
            }
        }
        benchmark.stopMeasurement()
    } setup: {
        Fixture.start(bufferCapacity: 2_100_000)
    } teardown: {
        try await Fixture.stop(label: "track, 4 tasks, 4 x 250 calls per iteration")
    }

    // The worker sleeps through the measurement (its batch is the whole buffer,
    // its flush interval an hour), so the process-wide malloc counters and the
    // unfreed bytes are those of `track` alone.
    Benchmark("track, worker idle, 1000 calls per iteration (allocations of track alone)",
              configuration: .init(warmupIterations: 10, scalingFactor: .kilo, maxIterations: 1_000)) { benchmark in
        let client = Fixture.client()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            client.track(.apiRequest(method: "GET", route: "/v1/tasks/:id", statusCode: 200, durationMs: 3.2))
        }
        benchmark.stopMeasurement()
    } setup: {
        Fixture.start(bufferCapacity: 1_100_000, idleWorker: true)
    } teardown: {
        try await Fixture.stop(label: "track, worker idle")
    }

    // What the benchmark's clock reads around an empty iteration cost, to
    // subtract from the 1-call-per-iteration figures.
    Benchmark("clock overhead (empty iteration)",
              configuration: .init(metrics: [.wallClock], maxIterations: 1_000_000)) { benchmark in
        benchmark.startMeasurement()
        benchmark.stopMeasurement()
    }
}

/// A sink that keeps nothing and counts what it was given.
final class DiscardingSink: EventSink {
    let written = Atomic<Int>(0)

    func write(_ events: [EnrichedEvent]) async throws -> Int {
        written.add(events.count, ordering: .relaxed)
        return events.count
    }
}

/// The pipeline of the benchmark that is running, with its worker in a ServiceGroup.
final class Fixture: Sendable {
    let pipeline: AnalyticsPipeline
    let sink: DiscardingSink
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    private static let current = Mutex<Fixture?>(nil)

    private init(bufferCapacity: Int, idleWorker: Bool) {
        let sink = DiscardingSink()
        var configuration = AnalyticsConfiguration(service: "api", sink: sink)
        configuration.bufferCapacity = bufferCapacity
        if idleWorker {
            configuration.batchSize = bufferCapacity
            configuration.flushInterval = .seconds(3_600)
        }
        var logger = Logger(label: "tally.benchmark")
        logger.logLevel = .error
        configuration.logger = logger
        pipeline = AnalyticsPipeline(configuration: configuration)
        self.sink = sink
        let group = ServiceGroup(configuration: .init(services: [pipeline.worker], gracefulShutdownSignals: [], logger: logger))
        self.group = group
        task = Task { try await group.run() }
    }

    static func start(bufferCapacity: Int, idleWorker: Bool = false) {
        let fixture = Fixture(bufferCapacity: bufferCapacity, idleWorker: idleWorker)
        current.withLock { $0 = fixture }
    }

    static func client() -> AnalyticsClient {
        current.withLock { $0!.pipeline.client }
    }

    /// Drains and stops the worker, then reports what happened to the tracked events.
    static func stop(label: String) async throws {
        guard let fixture = current.withLock({ $0.take() }) else { return }
        await fixture.group.triggerGracefulShutdown()
        try await fixture.task.value
        let stats = fixture.pipeline.client.statistics
        let line = "[\(label)] tracked \(stats.buffered), written \(fixture.sink.written.load(ordering: .relaxed)), "
            + "dropped (buffer full) \(stats.droppedBufferFull), dropped (shutdown) \(stats.droppedAfterShutdown), "
            + "event size \(MemoryLayout<EnrichedEvent>.stride) B\n"
        // Standard error: standard output carries the benchmark's results.
        FileHandle.standardError.write(Data(line.utf8))
    }
}
