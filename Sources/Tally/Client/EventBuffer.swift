import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An event as the buffer holds it. A tracked event leaves out the client's
/// service and context (`nil`): the worker puts them in as it takes the event, so
/// `track` never touches a reference count that the worker's core touches too
/// (each such touch moves a cache line from one core to the other).
///
/// Not copyable, so it is only ever moved: built in its lane slot, moved out by
/// the worker. (Copyable, the optimizer built it on the stack, copied it — a
/// retain of every string — and destroyed the original, inside `track`.)
struct BufferedEvent: ~Copyable, Sendable {
    var eventID: EventID
    var payload: EventPayload
    var timestamp: Timestamp
    var receivedAt: Timestamp
    /// `nil`: the client's service.
    var service: String?
    var userID: String?
    var anonymousID: String?
    var sessionID: String?
    /// `nil`: the client's context.
    var context: EventContext?

    /// The scope's strings are moved out of it, not copied: each copy would be a
    /// retain now and a release later, on the worker's core.
    init(tracked payload: consuming EventPayload, eventID: EventID, timestamp: Timestamp, receivedAt: Timestamp,
         userID: consuming String?, scope: consuming AnalyticsContext?) {
        self.eventID = eventID
        self.payload = payload
        self.timestamp = timestamp
        self.receivedAt = receivedAt
        context = nil
        if var scope = consume scope {
            service = scope.service.take()
            if let userID { self.userID = userID } else { self.userID = scope.userID.take() }
            anonymousID = scope.anonymousID.take()
            sessionID = scope.sessionID.take()
        } else {
            service = nil
            self.userID = userID
            anonymousID = nil
            sessionID = nil
        }
    }

    init(stamped event: EnrichedEvent) {
        eventID = event.eventID
        payload = event.payload
        timestamp = event.timestamp
        receivedAt = event.receivedAt
        service = event.service
        userID = event.userID
        anonymousID = event.anonymousID
        sessionID = event.sessionID
        context = event.context
    }

    consuming func enriched(service defaultService: String, context defaultContext: EventContext) -> EnrichedEvent {
        EnrichedEvent(eventID: eventID, payload: payload, timestamp: timestamp, receivedAt: receivedAt,
                      service: service ?? defaultService, userID: userID, anonymousID: anonymousID,
                      sessionID: sessionID, context: context ?? defaultContext)
    }
}

/// The bounded buffer between `track` (many producers, synchronous) and the
/// worker (one consumer, async).
///
/// Events live in ``ProducerLanes``: `track` appends to its thread's lane, or
/// another one when the worker is taking from it. The `Mutex` guards only the
/// sleepers — the worker waiting for a batch, importers waiting for room — and a
/// producer takes it only to wake the worker.
final class EventBuffer: Sendable {
    struct Counters: Sendable, Hashable {
        var accepted = 0
        var droppedFull = 0
        var droppedAfterShutdown = 0
    }

    private struct Sleepers: ~Copyable {
        /// Set while the worker sleeps waiting for a full batch.
        var worker: CheckedContinuation<Void, Never>?
        /// Importers waiting for room (see `appendWaitingForSpace`).
        var spaceWaiters: [CheckedContinuation<Void, Never>] = []
        /// Set when someone else put events in the durable queue (see `noteQueuedElsewhere`).
        var queuedElsewhere = false
    }

    private let lanes: ProducerLanes<BufferedEvent>
    private let sleepers = Mutex(Sleepers())
    /// Whether the worker sleeps, and how many events should wake it; read by
    /// `track` without the lock.
    private let workerSleeps = Atomic<Bool>(false)
    private let wakeThreshold = Atomic<Int>(1)
    private let shuttingDown = Atomic<Bool>(false)
    private let droppedFull = Atomic<Int>(0)
    private let droppedAfterShutdown = Atomic<Int>(0)
    /// The low 62 bits of a tracked event's id are this plus its serial in the
    /// lanes: unique within the buffer, increasing in `track` order on one thread
    /// (so its events stamped in the same microsecond still sort in call order by
    /// (timestamp, event_id)), and started at a random point (below 2⁶¹, so it
    /// wraps only after years) so that other processes' ids do not meet these.
    private let idBase: UInt64
    let overflowPolicy: OverflowPolicy
    private let service: String
    private let context: EventContext

    var capacity: Int { lanes.capacity }

    /// - Parameters:
    ///   - lanes: how many lanes (see ``ProducerLanes``); tests pin it.
    ///   - moveOutChunk: how many events a take moves out of a lane per hold of
    ///     its lock (see ``ProducerLanes``); tests make it small.
    init(capacity: Int, lanes laneCount: Int = ProducerLanes<BufferedEvent>.defaultLaneCount,
         moveOutChunk: Int = ProducerLanes<BufferedEvent>.defaultMoveOutChunk,
         batchSize: Int, overflowPolicy: OverflowPolicy, service: String, context: EventContext) {
        precondition(capacity > 0 && batchSize > 0, "capacity and batch size must be positive")
        lanes = ProducerLanes(capacity: capacity, lanes: laneCount, moveOutChunk: moveOutChunk)
        self.overflowPolicy = overflowPolicy
        self.service = service
        self.context = context
        wakeThreshold.store(min(batchSize, lanes.capacity), ordering: .relaxed)
        var random = SystemRandomNumberGenerator()
        idBase = random.next() >> 3
    }

    /// Appends a tracked event, built straight into its slot with its id and
    /// time. Never allocates (but for a thread's first append: its small record in
    /// ``ProducerLanes``) and waits only for another thread's turn at a lane when
    /// no other lane has room (see `ProducerLanes.claim`): when the buffer is full
    /// the overflow policy decides, and the drop is counted.
    ///
    /// - Parameter timestamp: when it happened; `nil`: now, as read for its slot.
    /// - Returns: `false` if the event was dropped.
    @discardableResult
    func append(tracked payload: consuming EventPayload, timestamp: Timestamp?, userID: consuming String?,
                scope: consuming AnalyticsContext?) -> Bool {
        if shuttingDown.load(ordering: .relaxed) {
            droppedAfterShutdown.add(1, ordering: .relaxed)
            return false
        }
        let ticket: ProducerLanes<BufferedEvent>.Ticket
        switch lanes.claim(dropOldest: overflowPolicy == .dropOldest) {
        case .claimed(let claimed):
            ticket = claimed
        case .full:
            droppedFull.add(1, ordering: .relaxed)
            return false
        case .closed:
            // The worker drained and stopped while this `track` was under way.
            droppedAfterShutdown.add(1, ordering: .relaxed)
            return false
        }
        let receivedAt = Timestamp(nanosecondsSinceEpoch: ticket.clockNanoseconds)
        let time = timestamp ?? receivedAt
        lanes.slot(for: ticket).initialize(
            to: BufferedEvent(tracked: payload, eventID: EventID(at: time, counter: idBase &+ UInt64(truncatingIfNeeded: ticket.serial)),
                              timestamp: time, receivedAt: receivedAt, userID: userID, scope: scope))
        lanes.publish(ticket)
        if ticket.droppedOldest { droppedFull.add(1, ordering: .relaxed) }
        wakeWorkerIfBatchReady()
        return true
    }

    /// The check that keeps a sleeping worker from missing a full batch: the
    /// lane's lock came before this load, and the worker announces its sleep
    /// before counting the lanes, locked ones included, so one of the two sees
    /// the other. (No fence here: one would wait for the slot just written to
    /// reach memory.)
    @inline(__always)
    private func wakeWorkerIfBatchReady() {
        // Appends under way count too: two producers publishing at once may each
        // miss the other's tail, but not the other's lock.
        guard workerSleeps.load(ordering: .sequentiallyConsistent),
              lanes.countWithAppendsUnderWay >= wakeThreshold.load(ordering: .relaxed) else { return }
        wake()
    }

    /// Takes up to `max` of the events buffered now, oldest first, with the
    /// client's service and context filled in.
    ///
    /// Events appended while it runs are left for the next take; when nothing
    /// could be taken yet but something is buffered, it lets the other threads
    /// run and tries again.
    func take(max: Int) -> [EnrichedEvent] {
        var events: [EnrichedEvent] = []
        events.reserveCapacity(Swift.min(max, lanes.count))
        while events.count < max {
            let taken = lanes.take(max: max - events.count) { event in
                events.append(event.enriched(service: service, context: context))
            }
            if taken > 0 { continue }
            if lanes.count == 0 || !events.isEmpty { break }
            sched_yield()
        }
        resumeSpaceWaiters()
        return events
    }

    /// Importers waiting for room try again. Taken after the lanes freed their
    /// slots, so an importer that found them full under this lock is woken.
    private func resumeSpaceWaiters() {
        let waiters = sleepers.withLock { sleepers in
            defer { sleepers.spaceWaiters.removeAll() }
            return sleepers.spaceWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Appends an already-stamped event, waiting while the buffer is full instead
    /// of applying the overflow policy: backpressure for imports and replays.
    ///
    /// - Returns: `false` if shutdown began before there was room.
    func appendWaitingForSpace(_ event: EnrichedEvent) async -> Bool {
        while true {
            if shuttingDown.load(ordering: .relaxed) { return false }
            switch lanes.claim(dropOldest: false) {
            case .claimed(let ticket):
                lanes.slot(for: ticket).initialize(to: BufferedEvent(stamped: event))
                lanes.publish(ticket)
                wakeWorkerIfBatchReady()
                return true
            case .closed:
                return false
            case .full:
                break
            }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = sleepers.withLock { sleepers -> Bool in
                    if !lanes.isFull || lanes.isSealed || shuttingDown.load(ordering: .relaxed) { return true }
                    sleepers.spaceWaiters.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    var count: Int { lanes.count }
    var isShuttingDown: Bool { shuttingDown.load(ordering: .relaxed) }

    var counters: Counters {
        Counters(accepted: lanes.appended, droppedFull: droppedFull.load(ordering: .relaxed),
                 droppedAfterShutdown: droppedAfterShutdown.load(ordering: .relaxed))
    }

    /// Waits until `threshold` events are buffered, shutdown begins, or the task is
    /// cancelled, whichever comes first.
    func waitForEvents(atLeast threshold: Int) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = sleepers.withLock { sleepers -> Bool in
                    if shuttingDown.load(ordering: .relaxed) || sleepers.queuedElsewhere || Task.isCancelled { return true }
                    // A batch larger than the buffer is never reached: wake when it is full.
                    let threshold = Swift.min(threshold, lanes.capacity)
                    wakeThreshold.store(threshold, ordering: .relaxed)
                    sleepers.worker = continuation
                    // Announce the sleep, then look: a producer claims, then looks
                    // at `workerSleeps` (see `wakeWorkerIfBatchReady`).
                    workerSleeps.store(true, ordering: .sequentiallyConsistent)
                    guard lanes.countWithAppendsUnderWay >= threshold else { return false }
                    sleepers.worker = nil
                    workerSleeps.store(false, ordering: .relaxed)
                    return true
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            wake()
        }
    }

    /// Tells the worker that the durable queue has entries it did not put there,
    /// and wakes it to replay them.
    func noteQueuedElsewhere() {
        sleepers.withLock { $0.queuedElsewhere = true }
        wake()
    }

    /// Whether `noteQueuedElsewhere` was called since the last time this was asked.
    func takeQueuedElsewhereNotice() -> Bool {
        sleepers.withLock { sleepers in
            defer { sleepers.queuedElsewhere = false }
            return sleepers.queuedElsewhere
        }
    }

    /// Wakes a waiting worker.
    func wake() {
        let worker = sleepers.withLock { sleepers -> CheckedContinuation<Void, Never>? in
            defer { sleepers.worker = nil }
            workerSleeps.store(false, ordering: .relaxed)
            return sleepers.worker
        }
        worker?.resume()
    }

    /// From now on `append` drops (and counts) new events; the worker drains what is here.
    func beginShutdown() {
        shuttingDown.store(true, ordering: .sequentiallyConsistent)
        resumeSpaceWaiters()
        wake()
    }

    /// Called by the worker as it stops: `true` if nothing is left, and then the
    /// buffer is closed, so a `track` or `submit` that began before shutdown and
    /// reaches the lanes after this drops its event (and says so) instead of
    /// leaving it where no worker will take it.
    func sealIfDrained() -> Bool {
        lanes.sealIfEmpty()
    }
}
