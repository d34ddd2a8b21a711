import Synchronization
import Tally
@testable import TallyServer
import TallyTesting
import Testing

/// The ingest's group commit on its own, over a sink whose commits take a while
/// and which records how many overlap (the real stores cannot show that).
@Suite("Group commit")
struct GroupCommitterTests {
    @Test("writes at most the store's limit of groups at once, and answers each request with its own count", arguments: [1, 2])
    func concurrentGroups(limit: Int) async throws {
        let (sink, committer, requests) = await Self.queued(20, limit: limit)
        let services = RunningServices([committer])
        var answers: [Int] = []
        for request in requests { answers.append(try await request.value) }
        try await services.shutDown()
        #expect(answers == Array(repeating: 5, count: 20))
        #expect(sink.statistics.written == 100)
        #expect(sink.statistics.mostAtOnce == limit)
    }

    @Test("a graceful shutdown writes every queued request before run() returns", arguments: [1, 2])
    func shutdownDrains(limit: Int) async throws {
        let (sink, committer, requests) = await Self.queued(12, limit: limit)
        // Shut down as soon as it starts: the twelve are still queued or being written.
        try await RunningServices([committer]).shutDown()
        #expect(sink.statistics.written == 60)
        for request in requests {
            #expect(try await request.value == 5)
        }
    }

    @Test("a store that answers too few counts fails each request of the group instead of leaving one waiting")
    func miscountedWrite() async throws {
        let committer = GroupCommitter(preparing: MiscountingSink(), maxEventsPerWrite: 10)
        // Each request notes its answer; one left waiting would never note it (a
        // continuation nobody resumes cannot be cancelled, so it is not awaited).
        let answers = Answers()
        for request in 0..<2 {
            Task {
                let answer: Result<Int, any Error>
                do {
                    answer = .success(try await committer.write(Self.events(5, request: request)))
                } catch {
                    answer = .failure(error)
                }
                answers.list.withLock { $0.append(answer) }
            }
        }
        // Both queued before the loop runs, so that they make one group of two.
        #expect(await eventually(timeout: .seconds(30)) { committer.queuedRequests == 2 })
        let services = RunningServices([committer])
        #expect(await eventually(timeout: .seconds(30)) { answers.list.withLock { $0.count } == 2 }, "every request answered")
        for answer in answers.list.withLock({ $0 }) {
            #expect(throws: GroupCommitter.MiscountedWrite.self) { try answer.get() }
        }
        try await services.shutDown()
    }

    @Test("cancelled without a graceful shutdown, the loop answers every queued request, then returns", arguments: [1, 2])
    func cancellationDrains(limit: Int) async throws {
        let (sink, committer, requests) = await Self.queued(12, limit: limit)
        let loop = Task { try await committer.run() }
        loop.cancel()
        try await loop.value
        for request in requests {
            #expect(try await request.value == 5)
        }
        #expect(sink.statistics.written == 60)
        // Nothing is taken after it stopped.
        await #expect(throws: CancellationError.self) { try await committer.write(Self.events(5, request: 99)) }
    }

    @Test("the next group commits while the last one's commit is reaching disk; a request is answered only once its commit is on disk")
    func answersAfterTheSync() async throws {
        let sink = GatedSyncSink()
        let committer = GroupCommitter(preparing: sink, maxEventsPerWrite: 5)
        let answers = Answers()
        for request in 0..<2 {
            Task {
                let answer: Result<Int, any Error>
                do { answer = .success(try await committer.write(Self.events(5, request: request))) } catch { answer = .failure(error) }
                answers.list.withLock { $0.append(answer) }
            }
        }
        #expect(await eventually(timeout: .seconds(30)) { committer.queuedRequests == 2 })
        let services = RunningServices([committer])
        // Both groups committed, though the first one's sync has not finished.
        #expect(await eventually(timeout: .seconds(30)) { sink.committedGroups == 2 })
        try await Task.sleep(for: .milliseconds(200))
        #expect(answers.list.withLock { $0.isEmpty }, "no request answered before its commit is on disk")

        sink.finishSyncs(failing: false)
        #expect(await eventually(timeout: .seconds(30)) { answers.list.withLock { $0.count } == 2 })
        #expect(try answers.list.withLock { $0 }.map { try $0.get() } == [5, 5])
        try await services.shutDown()
    }

    @Test("a commit that cannot be synced to disk fails each request of its group")
    func failedSyncFailsTheGroup() async throws {
        let sink = GatedSyncSink()
        let committer = GroupCommitter(preparing: sink, maxEventsPerWrite: 5)
        let services = RunningServices([committer])
        sink.finishSyncs(failing: true)
        await #expect(throws: GatedSyncSink.SyncFailed.self) { try await committer.write(Self.events(5, request: 0)) }
        try await services.shutDown()
    }

    /// A committer over a ``SlowSink`` with `count` requests of 5 events each
    /// queued (each from a task of its own), before its loop runs: a next group is
    /// always waiting. One request a group, so that there is one to overlap.
    static func queued(_ count: Int, limit: Int) async -> (SlowSink, GroupCommitter, [Task<Int, any Error>]) {
        let sink = SlowSink(concurrentWriteLimit: limit)
        let committer = GroupCommitter(preparing: sink, maxEventsPerWrite: 5)
        let requests = (0..<count).map { request in
            Task { try await committer.write(events(5, request: request)) }
        }
        #expect(await eventually(timeout: .seconds(30)) { committer.queuedRequests == count })
        return (sink, committer, requests)
    }

    static func events(_ count: Int, request: Int) -> [EnrichedEvent] {
        let start = Timestamp(iso8601: "2026-11-20T12:00:00Z")!.adding(microseconds: Int64(request) * 1_000)
        return (0..<count).map { i in
            CatalogueExamples.event(.taskCreated(taskID: "t_\(request)_\(i)", command: "build"),
                                    at: start.adding(microseconds: Int64(i)), receivedAt: start, service: "api")
        }
    }
}

/// Takes 50 ms a commit; counts the events written and the most commits at once.
final class SlowSink: PreparedWriteSink, Sendable {
    struct Statistics { var started = 0, running = 0, mostAtOnce = 0, written = 0 }

    let concurrentWriteLimit: Int
    private let state = Mutex(Statistics())

    init(concurrentWriteLimit: Int) {
        self.concurrentWriteLimit = concurrentWriteLimit
    }

    var statistics: Statistics { state.withLock { $0 } }

    func prepare(_ events: [EnrichedEvent]) -> [EnrichedEvent] { events }

    func write(prepared batches: [[EnrichedEvent]]) async throws -> [Int] {
        state.withLock { s in
            s.started += 1
            s.running += 1
            s.mostAtOnce = max(s.mostAtOnce, s.running)
        }
        try? await Task.sleep(for: .milliseconds(50))
        state.withLock { s in
            s.running -= 1
            s.written += batches.reduce(0) { $0 + $1.count }
        }
        return batches.map(\.count)
    }

    func write(_ events: [EnrichedEvent]) async throws -> Int {
        try await write(prepared: [events])[0]
    }
}

/// Commits at once, and reaches disk only when the test says so (or fails to).
final class GatedSyncSink: PreparedWriteSink, Sendable {
    struct SyncFailed: Error {}
    private struct State { var committed = 0, syncs: Bool? = nil }
    private let state = Mutex(State())

    var committedGroups: Int { state.withLock { $0.committed } }

    /// Lets every sync, waiting or to come, finish: successfully, or with ``SyncFailed``.
    func finishSyncs(failing: Bool) { state.withLock { $0.syncs = !failing } }

    func prepare(_ events: [EnrichedEvent]) -> [EnrichedEvent] { events }

    func writeCommitted(prepared batches: [[EnrichedEvent]]) async throws -> (counts: [Int], onDisk: DiskSync) {
        state.withLock { $0.committed += 1 }
        return (batches.map(\.count), DiskSync { [self] in try await syncGate() })
    }

    private func syncGate() async throws {
        while true {
            switch state.withLock({ $0.syncs }) {
            case nil: try await Task.sleep(for: .milliseconds(5))
            case true?: return
            case false?: throw SyncFailed()
            }
        }
    }

    func write(prepared batches: [[EnrichedEvent]]) async throws -> [Int] {
        let (counts, onDisk) = try await writeCommitted(prepared: batches)
        try await onDisk.wait()
        return counts
    }

    func write(_ events: [EnrichedEvent]) async throws -> Int {
        try await write(prepared: [events])[0]
    }
}

/// The answers requests got, as they came.
final class Answers: Sendable {
    let list = Mutex<[Result<Int, any Error>]>([])
}

/// Stores every batch but answers one count fewer than it was given batches.
struct MiscountingSink: PreparedWriteSink {
    func prepare(_ events: [EnrichedEvent]) -> [EnrichedEvent] { events }

    func write(prepared batches: [[EnrichedEvent]]) async throws -> [Int] {
        Array(batches.map(\.count).dropLast())
    }

    func write(_ events: [EnrichedEvent]) async throws -> Int { events.count }
}
