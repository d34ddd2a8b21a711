import ServiceLifecycle
import Synchronization
import Tally

/// Turns the writes of concurrent ingest requests into few store transactions:
/// requests queue their events and wait; one loop writes everything queued
/// (up to `maxEventsPerWrite`) in one `write`, then answers each request. With
/// a store that syncs every commit to disk, that is one sync per group rather
/// than one per request. The next group starts while the last one's commit
/// reaches disk: on PostgreSQL (two writes at once,
/// ``PreparedWriteSink/concurrentWriteLimit``) its rows travel and are inserted
/// during that sync, and only its last step (marking today dirty, a row both
/// groups update) waits for the earlier commit; on SQLite, which syncs after
/// releasing its write lock (``PreparedWriteSink/writeCommitted(prepared:)``),
/// it takes the lock as soon as the last group committed. A request is answered
/// once its group is on disk.
///
/// Run it as a Service before the HTTP server (so it stops after it): on
/// graceful shutdown it writes what is queued, then returns.
final class GroupCommitter: Service, EventSink {
    private struct Waiting {
        var batch: any Sendable
        var count: Int
        var continuation: CheckedContinuation<Int, any Error>
    }

    private struct State {
        var queue: [Waiting] = []
        var stopped = false
        /// Groups being written now.
        var writing = 0
    }

    private enum Step {
        case write([Waiting])
        case wait
        case finished
    }

    /// Encodes a request's events on the request's own task.
    private let prepare: @Sendable ([EnrichedEvent]) -> any Sendable
    /// Writes a group in one transaction; how many were new, per request, and
    /// the wait for the commit to reach disk.
    private let commit: @Sendable ([any Sendable]) async throws -> (counts: [Int], onDisk: DiskSync)
    let maxEventsPerWrite: Int
    /// Groups written at once, at most.
    let concurrentWrites: Int
    private let state = Mutex(State())
    private let doorbell = WakeUpSignal()
    /// Where the loop runs, off the cooperative pool (see ``CommitterExecutor``).
    private let executor = CommitterExecutor()

    /// A store that prepares batches outside its lock (SQLite): requests encode
    /// in parallel, the loop only writes.
    init<Store: PreparedWriteSink>(preparing store: Store, maxEventsPerWrite: Int = 5_000) {
        prepare = { store.prepare($0) }
        commit = { batches in try await store.writeCommitted(prepared: batches.map { $0 as! Store.PreparedBatch }) }
        self.maxEventsPerWrite = maxEventsPerWrite
        concurrentWrites = max(1, store.concurrentWriteLimit)
    }

    /// Any other store: the group is written as one batch.
    init(store: any EventSink, maxEventsPerWrite: Int = 5_000) {
        prepare = { $0 }
        commit = { batches in (try await Self.writeTogether(batches.map { $0 as! [EnrichedEvent] }, to: store), .done) }
        self.maxEventsPerWrite = maxEventsPerWrite
        concurrentWrites = 1
    }

    /// Requests waiting for a group to take them.
    var queuedRequests: Int { state.withLock { $0.queue.count } }

    /// Queues `events` for the next group and returns once it is committed
    /// (how many were new), or throws the store's error.
    func write(_ events: [EnrichedEvent]) async throws -> Int {
        guard !events.isEmpty else { return 0 }
        let batch = prepare(events)
        return try await withCheckedThrowingContinuation { continuation in
            let accepted = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.queue.append(Waiting(batch: batch, count: events.count, continuation: continuation))
                return true
            }
            if accepted { doorbell.ring() } else { continuation.resume(throwing: CancellationError()) }
        }
    }

    func run() async throws {
        await withTaskExecutorPreference(executor) {
            await loop()
        }
    }

    private func loop() async {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { writes in
                while true {
                    switch nextStep() {
                    case .write(let group):
                        writes.addTask {
                            let written = await self.commit(group)
                            self.finishedWrite()
                            await Self.answer(group, written)
                        }
                    case .wait where Task.isCancelled:
                        // Cancelled without a graceful shutdown (the doorbell no
                        // longer waits): answer what is queued, one group after
                        // another, and take nothing new. A store may refuse work
                        // from a cancelled task (PostgreSQL's pool does); those
                        // requests then go to the durable queue (`IngestWriter`).
                        stop()
                        await drain()
                        return
                    case .wait:
                        await doorbell.wait()
                    case .finished:
                        return
                    }
                }
            }
        } onGracefulShutdown: {
            self.stop()
        }
    }

    private func stop() {
        state.withLock { $0.stopped = true }
        doorbell.ring()
    }

    /// The next group to write, if a write may start; finished once stopped with
    /// nothing queued or being written.
    private func nextStep() -> Step {
        state.withLock { state in
            if state.queue.isEmpty {
                return state.stopped && state.writing == 0 ? .finished : .wait
            }
            guard state.writing < concurrentWrites else { return .wait }
            state.writing += 1
            return .write(Self.takeGroup(from: &state.queue, maxEvents: maxEventsPerWrite))
        }
    }

    private func drain() async {
        while true {
            let group = state.withLock { Self.takeGroup(from: &$0.queue, maxEvents: maxEventsPerWrite) }
            if group.isEmpty { return }
            await Self.answer(group, await commit(group))
        }
    }

    private func finishedWrite() {
        state.withLock { $0.writing -= 1 }
        doorbell.ring()
    }

    /// Takes queued requests, whole, up to the size limit (at least one).
    private static func takeGroup(from queue: inout [Waiting], maxEvents: Int) -> [Waiting] {
        var count = 0
        var taken = 0
        for waiting in queue {
            if taken > 0 && count + waiting.count > maxEvents { break }
            count += waiting.count
            taken += 1
        }
        defer { queue.removeFirst(taken) }
        return Array(queue.prefix(taken))
    }

    /// Writes the group; returns once it is committed (not yet on disk).
    private func commit(_ group: [Waiting]) async -> Result<(counts: [Int], onDisk: DiskSync), any Error> {
        do {
            return .success(try await commit(group.map(\.batch)))
        } catch {
            return .failure(error)
        }
    }

    /// Answers each request of the group once its commit is on disk.
    private static func answer(_ group: [Waiting], _ written: Result<(counts: [Int], onDisk: DiskSync), any Error>) async {
        do {
            let (stored, onDisk) = try written.get()
            // One count per request, or a request left out of `zip` would wait
            // for ever; an error instead sends each to the durable queue
            // (`IngestWriter`), whose replay skips what the store did keep.
            guard stored.count == group.count else {
                throw MiscountedWrite(batches: group.count, counts: stored.count)
            }
            try await onDisk.wait()
            for (waiting, count) in zip(group, stored) { waiting.continuation.resume(returning: count) }
        } catch {
            for waiting in group { waiting.continuation.resume(throwing: error) }
        }
    }

    /// A store broke ``PreparedWriteSink/write(prepared:)``'s contract.
    struct MiscountedWrite: Error, CustomStringConvertible {
        let batches: Int, counts: Int
        var description: String {
            "the store answered \(counts) counts for a write of \(batches) batches (it must answer one per batch): a bug in the store"
        }
    }

    /// One write for several requests' events. Two requests may carry the same
    /// event (a retry racing its original): it is written once and counted as a
    /// duplicate for the later request. The store reports how many of the whole
    /// were new, not which; duplicates of stored events are attributed in order.
    static func writeTogether(_ batches: [[EnrichedEvent]], to store: any EventSink) async throws -> [Int] {
        guard batches.count > 1 else { return [try await store.write(batches[0])] }
        var all: [EnrichedEvent] = []
        all.reserveCapacity(batches.reduce(0) { $0 + $1.count })
        var seen = Set<EventKey>()
        var freshPerBatch: [Int] = []
        for batch in batches {
            var fresh = 0
            for event in batch where seen.insert(EventKey(event)).inserted {
                all.append(event)
                fresh += 1
            }
            freshPerBatch.append(fresh)
        }
        var duplicates = all.count - (try await store.write(all))
        return freshPerBatch.map { fresh in
            let skipped = min(duplicates, fresh)
            duplicates -= skipped
            return fresh - skipped
        }
    }

    private struct EventKey: Hashable {
        let timestamp: Timestamp
        let id: EventID
        init(_ event: EnrichedEvent) { timestamp = event.timestamp; id = event.eventID }
    }
}
