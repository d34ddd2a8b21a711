import ServiceLifecycle
import Synchronization
import Tally

/// Turns the writes of concurrent ingest requests into few store transactions:
/// requests queue their events and wait; one loop writes everything queued
/// (up to `maxEventsPerWrite`) in one `write`, then answers each request. With
/// a store that syncs every commit to disk, that is one sync per group rather
/// than one per request.
///
/// Run it as a Service before the HTTP server (so it stops after it): on
/// graceful shutdown it writes what is queued, then returns.
final class GroupCommitter: Service, EventSink {
    private struct Waiting {
        var events: [EnrichedEvent]
        var continuation: CheckedContinuation<Int, any Error>
    }

    private struct State {
        var queue: [Waiting] = []
        var stopped = false
    }

    let store: any EventSink
    let maxEventsPerWrite: Int
    private let state = Mutex(State())
    private let doorbell = WakeUpSignal()

    init(store: any EventSink, maxEventsPerWrite: Int = 5_000) {
        self.store = store
        self.maxEventsPerWrite = maxEventsPerWrite
    }

    /// Queues `events` for the next group and returns once it is committed
    /// (how many were new), or throws the store's error.
    func write(_ events: [EnrichedEvent]) async throws -> Int {
        guard !events.isEmpty else { return 0 }
        return try await withCheckedThrowingContinuation { continuation in
            let accepted = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.queue.append(Waiting(events: events, continuation: continuation))
                return true
            }
            if accepted { doorbell.ring() } else { continuation.resume(throwing: CancellationError()) }
        }
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            while true {
                let group = nextGroup()
                if group.isEmpty {
                    if state.withLock({ $0.stopped && $0.queue.isEmpty }) { return }
                    await doorbell.wait()
                    continue
                }
                await commit(group)
            }
        } onGracefulShutdown: {
            self.stop()
        }
    }

    private func stop() {
        state.withLock { $0.stopped = true }
        doorbell.ring()
    }

    /// Takes queued requests, whole, up to the size limit (at least one).
    private func nextGroup() -> [Waiting] {
        state.withLock { state in
            var count = 0
            var taken = 0
            for waiting in state.queue {
                if taken > 0 && count + waiting.events.count > maxEventsPerWrite { break }
                count += waiting.events.count
                taken += 1
            }
            defer { state.queue.removeFirst(taken) }
            return Array(state.queue.prefix(taken))
        }
    }

    private func commit(_ group: [Waiting]) async {
        guard group.count > 1 else {
            do { group[0].continuation.resume(returning: try await store.write(group[0].events)) } catch { group[0].continuation.resume(throwing: error) }
            return
        }
        // Each request's events are distinct by id, but two requests may carry the
        // same event (a retry racing its original): dedupe across the group so the
        // per-request counts stay right.
        var all: [EnrichedEvent] = []
        all.reserveCapacity(group.reduce(0) { $0 + $1.events.count })
        var seen = Set<EventKey>()
        var newPerRequest: [Int] = []
        for waiting in group {
            var fresh = 0
            for event in waiting.events where seen.insert(EventKey(event)).inserted {
                all.append(event)
                fresh += 1
            }
            newPerRequest.append(fresh)
        }
        do {
            let stored = try await store.write(all)
            // The store says how many of the group were new, not which: when some
            // were already stored, attribute them in request order.
            var duplicates = all.count - stored
            for (waiting, fresh) in zip(group, newPerRequest) {
                let skipped = min(duplicates, fresh)
                duplicates -= skipped
                waiting.continuation.resume(returning: fresh - skipped)
            }
        } catch {
            for waiting in group { waiting.continuation.resume(throwing: error) }
        }
    }

    private struct EventKey: Hashable {
        let timestamp: Timestamp
        let id: EventID
        init(_ event: EnrichedEvent) { timestamp = event.timestamp; id = event.eventID }
    }
}
