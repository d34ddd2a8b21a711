#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A bounded FIFO that many threads fill and empty without a lock (Dmitry
/// Vyukov's bounded MPMC queue): `track` on any thread appends, the worker (and
/// a producer making room under ``OverflowPolicy/dropOldest``) takes.
///
/// Each slot has a sequence number saying whose turn it is: `position` when free
/// for the producer of that position, `position + 1` once that element is in it,
/// `position + capacity` once taken (free for the next lap). A producer claims a
/// position with one compare-and-swap on `tail`, writes the element, then
/// publishes it with a release store of the slot's sequence; a consumer claims a
/// run of published slots with one compare-and-swap on `head`. Nothing waits on
/// a lock, so a producer is never held up by the consumer being descheduled.
///
/// Positions only grow, so `tail` counts every element ever appended. Once
/// ``closeIfEmpty()`` succeeds, `tail` carries a closed bit and every later claim
/// is refused: nothing can be appended after the consumer's last look.
///
/// No lock guards the memory: the atomics do. Each pointer below is set once in
/// `init` and never reassigned; what it points at is shared by that protocol.
final class LockFreeRing<Element: ~Copyable & Sendable>: Sendable {
    let capacity: Int
    /// Each slot is touched by one thread at a time: the producer that claimed its
    /// position, until its release store of the slot's sequence; then the one
    /// consumer whose compare-and-swap on `head` took it, until its release store.
    nonisolated(unsafe) private let slots: UnsafeMutablePointer<Element>
    /// Atomics, so any thread may read and write them.
    nonisolated(unsafe) private let sequences: UnsafeMutablePointer<Atomic<Int>>
    /// `tail` and `head` (atomics), 128 bytes apart (a cache line, or two on x86):
    /// producers write one, the consumer the other.
    nonisolated(unsafe) private let ends: UnsafeMutablePointer<Atomic<Int>>
    private static var headOffset: Int { 128 / MemoryLayout<Atomic<Int>>.stride }
    /// Set in `tail` by ``closeIfEmpty()``.
    private static var closedBit: Int { 1 << 62 }

    init(capacity: Int) {
        precondition(capacity > 0, "capacity must be positive")
        self.capacity = capacity
        slots = .allocate(capacity: capacity)
        // Commit every page now. Untouched, the first lap round the ring would take
        // a page fault every few events, inside `track` (microseconds each, the
        // tail of its latency); the memory is the configured bound either way.
        memset(slots, 0, capacity * MemoryLayout<Element>.stride)
        sequences = .allocate(capacity: capacity)
        for index in 0..<capacity { (sequences + index).initialize(to: Atomic(index)) }
        ends = .allocate(capacity: Self.headOffset + 1)
        for index in 0...Self.headOffset { (ends + index).initialize(to: Atomic(0)) }
    }

    deinit {
        // Every claimed position was published (nothing fails between claiming and
        // publishing), so what lies between head and tail is initialized.
        let head = ends[Self.headOffset].load(ordering: .relaxed)
        let tail = ends[0].load(ordering: .relaxed) & ~Self.closedBit
        for position in head..<tail { (slots + position % capacity).deinitialize(count: 1) }
        slots.deallocate()
        sequences.deinitialize(count: capacity)
        sequences.deallocate()
        ends.deinitialize(count: Self.headOffset + 1)
        ends.deallocate()
    }

    /// Elements claimed so far, published or about to be.
    var appended: Int { ends[0].load(ordering: .sequentiallyConsistent) & ~Self.closedBit }
    var isClosed: Bool { ends[0].load(ordering: .sequentiallyConsistent) & Self.closedBit != 0 }
    /// Elements taken so far.
    var taken: Int { ends[Self.headOffset].load(ordering: .sequentiallyConsistent) }
    /// Elements in the ring now, counting those being written.
    var count: Int { Swift.max(0, appended - taken) }
    var isFull: Bool { count >= capacity }

    /// A claimed position and the index of its slot, worked out once: a
    /// division, which the claim needs and `track` would otherwise repeat twice.
    struct Ticket {
        let position: Int
        let index: Int

        /// Only ``claim()`` makes one, so the index always belongs to the position.
        fileprivate init(position: Int, index: Int) {
            self.position = position
            self.index = index
        }
    }

    enum Claim {
        case claimed(Ticket)
        /// Every slot holds an element not yet taken.
        case full
        /// ``closeIfEmpty()`` succeeded: nothing more is taken in.
        case closed
    }

    /// Claims the next position. After `.claimed`, the caller must
    /// ``publish(_:at:)`` an element there, or initialize ``slot(for:)`` and then
    /// ``markPublished(_:)``.
    ///
    /// The compare-and-swap is sequentially consistent: a producer's claim and its
    /// later look at whether the worker sleeps are ordered against the worker's
    /// "I sleep" and its look at `tail` (see `EventBuffer.waitForEvents`).
    @inline(__always)
    func claim() -> Claim {
        var position = ends[0].load(ordering: .relaxed)
        while true {
            if position & Self.closedBit != 0 { return .closed }
            let index = position % capacity
            let sequence = sequences[index].load(ordering: .acquiring)
            if sequence == position {
                let (exchanged, original) = ends[0].compareExchange(
                    expected: position, desired: position + 1, ordering: .sequentiallyConsistent)
                if exchanged { return .claimed(Ticket(position: position, index: index)) }
                position = original
            } else if sequence < position {
                return .full   // the slot still holds the element of the previous lap
            } else {
                position = ends[0].load(ordering: .relaxed)   // another producer took it
            }
        }
    }

    /// Refuses every later claim, if everything claimed so far has been taken;
    /// `false` (and nothing changes) otherwise, including when a claim raced with it.
    func closeIfEmpty() -> Bool {
        let tail = ends[0].load(ordering: .sequentiallyConsistent)
        if tail & Self.closedBit != 0 { return true }
        guard tail == ends[Self.headOffset].load(ordering: .sequentiallyConsistent) else { return false }
        return ends[0].compareExchange(expected: tail, desired: tail | Self.closedBit, ordering: .sequentiallyConsistent).exchanged
    }

    /// Puts `element` in the position claimed for it and makes it visible to consumers.
    @inline(__always)
    func publish(_ element: consuming Element, at ticket: Ticket) {
        slot(for: ticket).initialize(to: element)
        markPublished(ticket)
    }

    /// The slot of a claimed position, for a caller to build the element straight
    /// in it (a value built first and then passed in was copied and destroyed on
    /// the way: a retain and a release of each string it holds). Then
    /// ``markPublished(_:)``.
    @inline(__always)
    func slot(for ticket: Ticket) -> UnsafeMutablePointer<Element> {
        slots + ticket.index
    }

    /// Makes the element initialized in `slot(for: ticket)` visible to consumers.
    @inline(__always)
    func markPublished(_ ticket: Ticket) {
        sequences[ticket.index].store(ticket.position + 1, ordering: .releasing)
    }

    /// Takes up to `max` published elements from the front, oldest first, passing
    /// each to `body`; returns how many. Stops early at a position claimed but not
    /// yet published, so the order is always the order of the claims.
    func take(max: Int, _ body: (consuming Element) -> Void) -> Int {
        var head = ends[Self.headOffset].load(ordering: .relaxed)
        var ready = 0
        while true {
            ready = 0
            while ready < max, sequences[(head + ready) % capacity].load(ordering: .acquiring) == head + ready + 1 {
                ready += 1
            }
            if ready == 0 { return 0 }
            let (exchanged, original) = ends[Self.headOffset].compareExchange(
                expected: head, desired: head + ready, ordering: .sequentiallyConsistent)
            if exchanged { break }
            head = original   // a producer dropped the oldest meanwhile
        }
        for position in head..<(head + ready) {
            // Free the slot before handing the element on: a producer waiting for
            // room must not wait for `body`.
            let index = position % capacity
            let element = (slots + index).move()
            sequences[index].store(position + capacity, ordering: .releasing)
            body(element)
        }
        return ready
    }
}
