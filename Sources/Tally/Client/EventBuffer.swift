#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The bounded buffer between `track` (many producers, synchronous) and the
/// worker (one consumer, async). Every field is guarded by one `Mutex`; the
/// worker's wake-up continuation is resumed outside it.
final class EventBuffer: Sendable {
    struct Counters: Sendable, Hashable {
        var accepted = 0
        var droppedFull = 0
        var droppedAfterShutdown = 0
    }

    private struct State: ~Copyable {
        var ring: RingBuffer<EnrichedEvent>
        var counters = Counters()
        var isShuttingDown = false
        /// The time and id of the last event appended: an event stamped in the same
        /// microsecond gets a larger id, so the store's (timestamp, event_id)
        /// order is the order of the `track` calls.
        var lastTimestamp = Timestamp(microsecondsSinceEpoch: .min)
        var lastID = EventID(high: 0, low: 0)
        /// Set when someone else put events in the durable queue (see `noteQueuedElsewhere`).
        var queuedElsewhere = false
        /// Set while the worker sleeps waiting for a full batch.
        var waiter: CheckedContinuation<Void, Never>?
        /// Importers waiting for room (see `appendWaitingForSpace`).
        var spaceWaiters: [CheckedContinuation<Void, Never>] = []
        var wakeThreshold: Int
        /// Event ids come from this generator, seeded once from the system's:
        /// a system random call per event would cost a syscall.
        var random: Xoshiro256
    }

    private let state: Mutex<State>
    let capacity: Int
    let overflowPolicy: OverflowPolicy

    init(capacity: Int, batchSize: Int, overflowPolicy: OverflowPolicy) {
        precondition(capacity > 0 && batchSize > 0, "capacity and batch size must be positive")
        self.capacity = capacity
        self.overflowPolicy = overflowPolicy
        var seed = SystemRandomNumberGenerator()
        state = Mutex(State(ring: RingBuffer(capacity: capacity), wakeThreshold: min(batchSize, capacity),
                            random: Xoshiro256(seed: seed.next())))
    }

    /// Gives a tracked event its id and appends it. Never blocks on anything but
    /// the lock, never allocates beyond what the ring already holds.
    ///
    /// The event travels into the lock's closure in an optional it is taken out
    /// of: a closure can only borrow what it captures, and appending a borrowed
    /// event would copy it.
    ///
    /// - Returns: `false` if the event was dropped.
    @discardableResult
    func append(_ event: consuming EnrichedEvent) -> Bool {
        let timestamp = event.timestamp
        var pending = Optional(event)
        let (accepted, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            if state.isShuttingDown {
                state.counters.droppedAfterShutdown += 1
                return (false, nil)
            }
            if state.ring.isFull {
                switch overflowPolicy {
                case .dropNewest:
                    state.counters.droppedFull += 1
                    return (false, nil)
                case .dropOldest:
                    _ = state.ring.popFirst()
                    state.counters.droppedFull += 1
                }
            }
            var id = EventID.generate(at: timestamp, using: &state.random)
            if timestamp == state.lastTimestamp, id <= state.lastID, state.lastID.low < UInt64.max {
                id = EventID(high: state.lastID.high, low: state.lastID.low + 1)
            }
            state.lastTimestamp = timestamp
            state.lastID = id
            pending!.eventID = id
            state.ring.append(pending.take()!)
            state.counters.accepted += 1
            guard state.ring.count >= state.wakeThreshold, let waiter = state.waiter else { return (true, nil) }
            state.waiter = nil
            return (true, waiter)
        }
        waiter?.resume()
        return accepted
    }

    /// Takes up to `max` of the events buffered now, oldest first.
    ///
    /// `track` waits for the same lock, so it is held briefly: the array's memory
    /// is allocated and its pages faulted in before, and the events move out a
    /// few at a time, the lock released between chunks.
    func take(max: Int) -> [EnrichedEvent] {
        let wanted = Swift.min(max, count)
        guard wanted > 0 else { return [] }
        var waiters: [CheckedContinuation<Void, Never>] = []
        let events = [EnrichedEvent](unsafeUninitializedCapacity: wanted) { slots, taken in
            let base = slots.baseAddress!
            memset(base, 0, wanted * MemoryLayout<EnrichedEvent>.stride)
            while taken < wanted {
                let moved = state.withLock { state -> Int in
                    let n = Swift.min(Self.takeChunk, wanted - taken, state.ring.count)
                    for i in 0..<n { (base + taken + i).initialize(to: state.ring.popFirst()!) }
                    waiters += state.spaceWaiters
                    state.spaceWaiters.removeAll()
                    return n
                }
                taken += moved
                // Fewer than asked: the ring ran dry (`dropOldest` may shrink it).
                if moved < Self.takeChunk { break }
            }
        }
        for waiter in waiters { waiter.resume() }
        return events
    }

    /// Events moved per lock hold in `take`: 16 moves keep a waiting `track` well
    /// under a microsecond (128 made its p99 ~3 µs).
    private static let takeChunk = 16

    /// Appends an already-stamped event, waiting while the buffer is full instead
    /// of applying the overflow policy: backpressure for imports and replays.
    ///
    /// - Returns: `false` if shutdown began before there was room.
    func appendWaitingForSpace(_ event: EnrichedEvent) async -> Bool {
        while true {
            let outcome = state.withLock { state -> (done: Bool, accepted: Bool, waiter: CheckedContinuation<Void, Never>?) in
                if state.isShuttingDown { return (true, false, nil) }
                if state.ring.isFull { return (false, false, nil) }
                state.ring.append(event)
                state.counters.accepted += 1
                guard state.ring.count >= state.wakeThreshold, let waiter = state.waiter else { return (true, true, nil) }
                state.waiter = nil
                return (true, true, waiter)
            }
            outcome.waiter?.resume()
            if outcome.done { return outcome.accepted }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if !state.ring.isFull || state.isShuttingDown { return true }
                    state.spaceWaiters.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }

    var count: Int { state.withLock { $0.ring.count } }
    var counters: Counters { state.withLock { $0.counters } }
    var isShuttingDown: Bool { state.withLock { $0.isShuttingDown } }

    /// Waits until `threshold` events are buffered, shutdown begins, or the task is
    /// cancelled, whichever comes first.
    func waitForEvents(atLeast threshold: Int) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.ring.count >= threshold || state.isShuttingDown || state.queuedElsewhere || Task.isCancelled { return true }
                    state.wakeThreshold = threshold
                    state.waiter = continuation
                    return false
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
        state.withLock { $0.queuedElsewhere = true }
        wake()
    }

    /// Whether `noteQueuedElsewhere` was called since the last time this was asked.
    func takeQueuedElsewhereNotice() -> Bool {
        state.withLock { state in
            defer { state.queuedElsewhere = false }
            return state.queuedElsewhere
        }
    }

    /// Wakes a waiting worker.
    func wake() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// From now on `append` drops (and counts) new events; the worker drains what is here.
    func beginShutdown() {
        let waiters = state.withLock { state in
            state.isShuttingDown = true
            defer { state.spaceWaiters.removeAll() }
            return state.spaceWaiters
        }
        for waiter in waiters { waiter.resume() }
        wake()
    }
}

/// A fixed-capacity FIFO over one preallocated block: elements are moved in and
/// out, never wrapped in `Optional` or copied through an array's slots.
struct RingBuffer<Element>: ~Copyable {
    private let storage: UnsafeMutablePointer<Element>
    private let capacity: Int
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
        // Commit every page now. Untouched, the first lap round the ring would take
        // a page fault every few events, inside `track` (microseconds each, the
        // tail of its latency); the memory is the configured bound either way.
        memset(storage, 0, capacity * MemoryLayout<Element>.stride)
    }

    deinit {
        var index = head
        for _ in 0..<count {
            (storage + index).deinitialize(count: 1)
            index = index + 1 == capacity ? 0 : index + 1
        }
        storage.deallocate()
    }

    var isFull: Bool { count == capacity }

    mutating func append(_ element: consuming Element) {
        var tail = head + count
        if tail >= capacity { tail -= capacity }
        (storage + tail).initialize(to: element)
        count += 1
    }

    mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = (storage + head).move()
        head = head + 1 == capacity ? 0 : head + 1
        count -= 1
        return element
    }

}

/// xoshiro256**: fast, good enough for the random bits of event ids, seeded from
/// the system generator.
struct Xoshiro256: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64

    init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }
}
