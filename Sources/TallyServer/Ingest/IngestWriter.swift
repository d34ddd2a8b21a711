import Logging
import Tally

/// Makes accepted events durable before the request is answered: into the
/// store, or — when the store fails — into the local durable queue, which the
/// worker replays into the store once it is back (DESIGN.md §9).
struct IngestWriter: Sendable {
    let store: any EventSink
    let spill: any DurableQueue
    /// Wakes the worker to replay what was spilled.
    let spilled: @Sendable () -> Void
    let logger: Logger

    enum Outcome: Sendable, Hashable {
        /// Committed to the store; `newlyStored` excludes events already there.
        case stored(newlyStored: Int)
        /// Committed to the durable queue; the worker will store them.
        case queued
    }

    /// - Throws: ``APIError`` 503 with `Retry-After` when neither the store nor
    ///   the queue took the events: nothing was acknowledged, the client retries.
    func write(_ events: [EnrichedEvent]) async throws(APIError) -> Outcome {
        guard !events.isEmpty else { return .stored(newlyStored: 0) }
        do {
            return .stored(newlyStored: try await store.write(events))
        } catch {
            logger.warning("store write failed, queueing \(events.count) events for replay: \(error)")
        }
        do {
            try await spill.enqueue(events)
            spilled()
            return .queued
        } catch {
            logger.error("durable queue write failed too, refusing \(events.count) events: \(error)")
            throw APIError(.serviceUnavailable, code: "store_unavailable",
                           "the store and the durable queue are both unavailable, so nothing was accepted; retry later",
                           headers: [.retryAfter: "5"])
        }
    }
}
