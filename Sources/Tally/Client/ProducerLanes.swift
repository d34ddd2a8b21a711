#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The bounded FIFO under `track`: a few lanes, each a ring that one thread at a
/// time writes into, under that lane's own lock. A thread keeps to the lane it
/// last wrote into and moves on only when that lane is busy or full, so threads
/// on different cores write to different memory: nothing `track` touches moves
/// from one core to another on every call, as a single shared tail did (four
/// tasks on two cores spent three quarters of each call waiting for its cache
/// line).
///
/// **Order.** An element's place in the FIFO is fixed when it is appended, by a
/// key, the wall clock read as the append began (raised, if need be, past the
/// lane's last key, so a lane's keys only grow), and by the *round* it was
/// appended in. ``take(max:_:)``
/// begins a new round, and takes only elements of earlier rounds, merged across
/// lanes by their keys. So whatever one task appends is taken in the order
/// it was appended, even when the task moves to another thread (and lane) in
/// between:
/// - If its later element was appended in an earlier round than the take, so
///   was the earlier one; and the earlier one was already in its lane when the
///   later one read the round, so the take sees it (the task's move from one
///   thread to the other orders the two).
/// - Among the elements of one take, the earlier one's key is the smaller: its
///   own reading is, and a lane's last key, if it raised it, was read before the
///   earlier one took that lane's lock. (This assumes the wall clock does not
///   step back between the two calls; if it does, the order may too, but
///   nothing is lost.)
/// - A take that reads only part of a lane's run (it read `max`, or the head
///   moved between two chunks) takes nothing with a later key than the last it
///   read there, so what it left in that lane is not overtaken.
///
/// **Room.** The capacity is shared out among the lanes. A thread whose lane is
/// full moves on to the next, so one thread alone can fill all of it. Every
/// lane's memory is allocated, and committed, when the lanes are made, so no
/// `track` pays for paging it in.
///
/// The consumer (the worker) also takes a lane's lock, one lane at a time and
/// for a chunk of elements at a time (``defaultMoveOutChunk``, a few
/// microseconds); a producer that finds a lane locked writes into another
/// instead, and waits only if no other lane has room.
final class ProducerLanes<Element: ~Copyable & Sendable>: Sendable {
    let laneCount: Int
    let capacity: Int
    /// Bits of an element's serial that name its lane.
    private let laneBits: Int
    /// The wall clock when this was made: order keys count from it.
    private let origin: Int
    /// How many elements a take moves out of a lane per hold of its lock.
    private let moveOutChunk: Int

    /// Twice the cores, so that each core's producer finds a lane of its own even
    /// while the worker holds one; at least 4, at most 16.
    static var defaultLaneCount: Int { Swift.min(16, Swift.max(4, 2 * sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// A few microseconds' work: how long the worker holds a lane at a time, and
    /// so about how long a producer waits when that lane holds the only room
    /// left (see `letWaitingProducersIn`).
    static var defaultMoveOutChunk: Int { 256 }

    /// Each lane's lock, tail and (a cache line further on) head, 256 bytes per
    /// lane so two lanes never share a line; then the round, the sealed flag and
    /// the count of producers waiting for a busy lane.
    /// Tail and head count positions ever appended and taken; only the lane's
    /// lock holder changes them, anyone may read them.
    nonisolated(unsafe) private let words: UnsafeMutablePointer<Atomic<Int>>
    private static var wordsPerLane: Int { 32 }
    private static var lockWord: Int { 0 }
    private static var tailWord: Int { 1 }
    /// The order key of the lane's last element (see ``SlotKey``).
    private static var lastOrderWord: Int { 2 }
    /// How many elements the lane holds.
    private static var capacityWord: Int { 3 }
    private static var headWord: Int { 16 }
    private var roundWord: Int { laneCount * Self.wordsPerLane }
    private var sealedWord: Int { roundWord + 1 }
    /// How many producers wait for a busy lane that holds the only room left.
    private var waitingWord: Int { roundWord + 2 }

    /// Each lane's slots, read and written only under the lane's lock. A slot is a
    /// ``SlotKey`` and then the element, side by side so that an append writes
    /// one run of memory.
    nonisolated(unsafe) private let storage: UnsafeMutablePointer<UnsafeMutableRawPointer>
    private let slotStride: Int
    private let elementOffset: Int
    private static var slotAlignment: Int { Swift.max(MemoryLayout<SlotKey>.alignment, MemoryLayout<Element>.alignment) }

    /// Where an element falls in the FIFO (see the type's comment).
    private struct SlotKey {
        var round: Int
        /// The wall clock in nanoseconds as the element was claimed, or just after
        /// the lane's previous key if that is not earlier (another thread read the
        /// clock later but took the lock first): within a lane, keys only grow.
        var order: Int
    }

    /// - Parameter moveOutChunk: how many elements a take moves out of a lane per
    ///   hold of its lock.
    init(capacity: Int, lanes: Int, moveOutChunk: Int = defaultMoveOutChunk) {
        precondition(capacity > 0 && lanes > 0 && moveOutChunk > 0, "capacity, lanes and chunk must be positive")
        laneCount = Swift.min(lanes, capacity)
        self.capacity = capacity
        self.moveOutChunk = moveOutChunk
        laneBits = Int.bitWidth - (laneCount - 1).leadingZeroBitCount
        origin = Timestamp.nanosecondsSinceEpochNow()
        let wordCount = laneCount * Self.wordsPerLane + Self.wordsPerLane
        words = .allocate(capacity: wordCount)
        for index in 0..<wordCount { (words + index).initialize(to: Atomic(0)) }
        storage = .allocate(capacity: laneCount)
        func roundedUp(_ size: Int, to alignment: Int) -> Int { (size + alignment - 1) / alignment * alignment }
        elementOffset = roundedUp(MemoryLayout<SlotKey>.stride, to: MemoryLayout<Element>.alignment)
        slotStride = roundedUp(elementOffset + MemoryLayout<Element>.stride, to: Self.slotAlignment)
        Self.checkMemory(forSlots: capacity, of: slotStride)
        for lane in 0..<laneCount {
            let share = capacity / laneCount + (lane < capacity % laneCount ? 1 : 0)
            word(Self.capacityWord, of: lane).pointee.store(share, ordering: .relaxed)
            word(Self.lastOrderWord, of: lane).pointee.store(origin, ordering: .relaxed)
        }
        // Every lane's memory now, committed, so that no `track` pays for it: a
        // lane allocated by its first append paged its memory in inside that call
        // (20 ms for a lane of 250,000 events).
        for lane in 0..<laneCount { (storage + lane).initialize(to: committedSlots(count: self.capacity(lane))) }
    }

    deinit {
        for lane in 0..<laneCount {
            for position in head(lane)..<tail(lane) { element(lane, position % capacity(lane)).deinitialize(count: 1) }
            storage[lane].deallocate()
        }
        storage.deinitialize(count: laneCount)
        storage.deallocate()
        words.deinitialize(count: laneCount * Self.wordsPerLane + Self.wordsPerLane)
        words.deallocate()
    }

    // MARK: Counts

    /// Word `index` of a lane's control block.
    @inline(__always)
    private func word(_ index: Int, of lane: Int) -> UnsafeMutablePointer<Atomic<Int>> { words + lane * Self.wordsPerLane + index }

    private func tail(_ lane: Int) -> Int { word(Self.tailWord, of: lane).pointee.load(ordering: .sequentiallyConsistent) }
    private func head(_ lane: Int) -> Int { word(Self.headWord, of: lane).pointee.load(ordering: .sequentiallyConsistent) }
    private func capacity(_ lane: Int) -> Int { word(Self.capacityWord, of: lane).pointee.load(ordering: .relaxed) }

    /// Elements appended so far.
    var appended: Int { (0..<laneCount).reduce(0) { $0 + tail($1) } }
    /// Elements in the lanes now.
    var count: Int { (0..<laneCount).reduce(0) { $0 + tail($1) - head($1) } }
    /// ``count``, plus one for each lane locked now: an element may be on its way
    /// in. A producer's lock comes before its look at whether the worker sleeps,
    /// and the worker announces its sleep before this, so one of the two sees the
    /// other (see `EventBuffer.waitForEvents`).
    var countWithAppendsUnderWay: Int {
        (0..<laneCount).reduce(0) { count, lane in
            let locked = word(Self.lockWord, of: lane).pointee.load(ordering: .sequentiallyConsistent)
            return count + tail(lane) - head(lane) + locked
        }
    }
    var isFull: Bool { count >= capacity }
    var isSealed: Bool { words[sealedWord].load(ordering: .sequentiallyConsistent) != 0 }

    // MARK: Locks

    @inline(__always)
    private func tryLock(_ lane: Int) -> Bool {
        let lock = word(Self.lockWord, of: lane)
        // Look before writing: a failed exchange would take the line from its holder.
        // Sequentially consistent: see `countWithAppendsUnderWay`.
        return lock.pointee.load(ordering: .relaxed) == 0 && lock.pointee.exchange(1, ordering: .sequentiallyConsistent) == 0
    }

    @inline(__always)
    private func unlock(_ lane: Int) {
        word(Self.lockWord, of: lane).pointee.store(0, ordering: .releasing)
    }

    /// For the consumer and the seal, which must have this very lane. Its holder
    /// is a few instructions from done unless it was descheduled; then let it run.
    private func lockWaiting(_ lane: Int) {
        var spins = 0
        while !tryLock(lane) {
            spins += 1
            if spins % 64 == 0 { sched_yield() }
        }
    }

    // MARK: Appending

    /// A claimed slot: the lane stays locked until ``publish(_:)``.
    struct Ticket {
        let lane: Int
        let position: Int
        /// `position` modulo the lane's capacity, worked out once: a division
        /// costs as much as a cache hit or two.
        let index: Int
        /// Unique among every element this instance ever holds, and grows with each
        /// append on one thread: the order key (counted from when this was made)
        /// and the lane. Below 2⁶¹ for the first 2⁶¹ ns >> lane bits of this
        /// instance's life (four years with 16 lanes).
        let serial: Int
        /// The wall clock, read as the claim began.
        let clockNanoseconds: Int
        /// The oldest element of all was dropped to make room (see ``claim(dropOldest:)``).
        let droppedOldest: Bool
    }

    enum Claim {
        case claimed(Ticket)
        /// Every lane is full (and the oldest was not to be dropped).
        case full
        /// ``sealIfEmpty()`` succeeded: nothing more is taken in.
        case closed
    }

    /// Claims a slot. A busy lane is passed over for the next, full ones without
    /// locking them; it waits (briefly, see `claimFromAnyLane`) only when the
    /// one lane with room is busy. After `.claimed`, the caller initializes
    /// ``slot(for:)`` and then calls ``publish(_:)``, without delay: the lane is
    /// locked until then.
    ///
    /// - Parameter dropOldest: when every lane is full, destroy the oldest element
    ///   to make room, instead of returning `.full`. Finding the oldest means
    ///   locking every lane in turn, so this waits for each lane's holder to
    ///   finish (another producer's append, or the worker's take from that lane).
    @inline(__always)
    func claim(dropOldest: Bool) -> Claim {
        // Read before taking a lock: the clock read waits for what is under way
        // to finish, and under the lock that includes the lock's own write.
        let clock = Timestamp.nanosecondsSinceEpochNow()
        let thread = ProducerThread.current()
        let hint = thread.pointee.laneHint
        let preferred = hint < laneCount ? hint : thread.pointee.spreadLane(among: laneCount)
        while true {
            if let claimed = claimFromAnyLane(startingAt: preferred, clock: clock, thread: thread) { return claimed }
            guard dropOldest else { return .full }
            if let claimed = claimDroppingOldest(clock: clock, thread: thread) { return claimed }
        }
    }

    /// A slot of the first lane, from `preferred` on, that has room and is not
    /// busy; `nil` if every lane is full. A lane with room that is busy (the
    /// worker taking from it, or another thread's append) is waited for only
    /// while no other lane has room: a buffer with room never drops. The wait
    /// is the holder's: an append's few instructions, or the worker's hold of one
    /// chunk of that lane (the waiting count makes it let the producer in before
    /// its next chunk).
    @inline(__always)
    private func claimFromAnyLane(startingAt preferred: Int, clock: Int, thread: UnsafeMutablePointer<ProducerThread>) -> Claim? {
        var lane = preferred
        var counted = false
        defer { if counted { words[waitingWord].subtract(1, ordering: .relaxed) } }
        while true {
            var sawBusyLaneWithRoom = false
            for _ in 0..<laneCount {
                if tail(lane) - head(lane) < capacity(lane) {
                    if tryLock(lane) {
                        if isSealed {
                            unlock(lane)
                            return .closed
                        }
                        let tail = self.tail(lane)
                        if tail - head(lane) < capacity(lane) {
                            if lane != thread.pointee.laneHint { thread.pointee.laneHint = lane }
                            return .claimed(ticket(lane: lane, position: tail, clock: clock, thread: thread, droppedOldest: false))
                        }
                        unlock(lane)
                    } else {
                        sawBusyLaneWithRoom = true
                    }
                }
                lane = lane + 1 == laneCount ? 0 : lane + 1
            }
            guard sawBusyLaneWithRoom else { return nil }
            if !counted {
                counted = true
                words[waitingWord].add(1, ordering: .relaxed)
            }
            sched_yield()
        }
    }

    /// Drops the element with the smallest key of all (the lane heads' smallest)
    /// and claims its place; `nil` if the lanes changed meanwhile (so try again:
    /// someone made room, or took it).
    private func claimDroppingOldest(clock: Int, thread: UnsafeMutablePointer<ProducerThread>) -> Claim? {
        var oldest: (lane: Int, order: Int)?
        for lane in 0..<laneCount {
            lockWaiting(lane)
            let head = self.head(lane)
            if tail(lane) > head {
                let order = key(lane, head % capacity(lane)).pointee.order
                if oldest == nil || order < oldest!.order { oldest = (lane, order) }
            }
            unlock(lane)
        }
        guard let lane = oldest?.lane else { return nil }
        lockWaiting(lane)
        if isSealed {
            unlock(lane)
            return .closed
        }
        let head = self.head(lane), tail = self.tail(lane)
        guard tail - head >= capacity(lane) else {
            unlock(lane)
            return nil
        }
        _ = moveOut(lane: lane, position: head)
        word(Self.headWord, of: lane).pointee.store(head + 1, ordering: .sequentiallyConsistent)
        return .claimed(ticket(lane: lane, position: tail, clock: clock, thread: thread, droppedOldest: true))
    }

    /// Keys `position` of a lane whose lock the caller holds. The key grows past
    /// both the lane's last and the thread's last, so one thread's keys grow
    /// whatever the clock's resolution, even as it moves from lane to lane.
    @inline(__always)
    private func ticket(lane: Int, position: Int, clock: Int, thread: UnsafeMutablePointer<ProducerThread>,
                        droppedOldest: Bool) -> Ticket {
        let index = position % capacity(lane)
        let lastOrder = word(Self.lastOrderWord, of: lane)
        let order = Swift.max(clock, lastOrder.pointee.load(ordering: .relaxed) + 1, thread.pointee.lastOrder + 1)
        lastOrder.pointee.store(order, ordering: .relaxed)
        thread.pointee.lastOrder = order
        key(lane, index).pointee = SlotKey(round: words[roundWord].load(ordering: .sequentiallyConsistent), order: order)
        // Wraps (harmlessly: ids also carry the millisecond) only if the clock
        // jumps ahead by years while this instance lives.
        return Ticket(lane: lane, position: position, index: index, serial: (order &- origin) &<< laneBits | lane,
                      clockNanoseconds: clock, droppedOldest: droppedOldest)
    }

    /// The slot of a claimed position, for the caller to build the element straight
    /// in it (a value built first and then passed in was copied and destroyed on
    /// the way: a retain and a release of each string it holds).
    @inline(__always)
    func slot(for ticket: Ticket) -> UnsafeMutablePointer<Element> {
        element(ticket.lane, ticket.index)
    }

    /// Makes the element initialized in `slot(for: ticket)` visible, and unlocks its lane.
    @inline(__always)
    func publish(_ ticket: Ticket) {
        word(Self.tailWord, of: ticket.lane).pointee.store(ticket.position + 1, ordering: .releasing)
        unlock(ticket.lane)
    }

    /// Stops with a message that names the setting when the slots would not fit
    /// in the machine's memory: all of it is committed up front, and otherwise
    /// the process would be killed for it with nothing said.
    private static func checkMemory(forSlots count: Int, of stride: Int) {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, pageSize > 0 else { return }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: stride)
        let physical = pages.multipliedReportingOverflow(by: pageSize)
        let available = physical.overflow ? Int.max : physical.partialValue
        precondition(!overflow && bytes <= available,
                     "a buffer of \(count) events needs \(overflow ? "more than \(Int.max)" : "\(bytes)") bytes (\(stride) an event), "
                     + "more than this machine's \(available) bytes of memory: lower AnalyticsConfiguration.bufferCapacity")
    }

    /// Memory for `count` slots, every page written once: untouched, the first lap
    /// round a lane would take a page fault every few events, inside `track`
    /// (microseconds each, the tail of its latency).
    private func committedSlots(count: Int) -> UnsafeMutableRawPointer {
        let slots = UnsafeMutableRawPointer.allocate(byteCount: count * slotStride, alignment: Self.slotAlignment)
        memset(slots, 0, count * slotStride)
        for index in 0..<count {
            (slots + index * slotStride).bindMemory(to: SlotKey.self, capacity: 1)
            (slots + index * slotStride + elementOffset).bindMemory(to: Element.self, capacity: 1)
        }
        return slots
    }

    @inline(__always)
    private func key(_ lane: Int, _ index: Int) -> UnsafeMutablePointer<SlotKey> {
        (storage[lane] + index * slotStride).assumingMemoryBound(to: SlotKey.self)
    }

    @inline(__always)
    private func element(_ lane: Int, _ index: Int) -> UnsafeMutablePointer<Element> {
        (storage[lane] + index * slotStride + elementOffset).assumingMemoryBound(to: Element.self)
    }

    private func moveOut(lane: Int, position: Int) -> Element {
        element(lane, position % capacity(lane)).move()
    }

    // MARK: Taking

    /// Takes up to `max` elements, oldest first (see the type's comment for what
    /// "oldest" means across lanes), passing each to `body`; returns how many.
    /// Elements appended while it runs are left for the next take.
    func take(max: Int, _ body: (consuming Element) -> Void) -> Int {
        guard max > 0 else { return 0 }
        // Elements of this round and earlier; later appends read a later round.
        let round = words[roundWord].add(1, ordering: .sequentiallyConsistent).oldValue
        // 1. Each lane's run of such elements from its head (up to `max`), by key.
        var runs: [(lane: Int, head: Int, orders: [Int])] = []
        // Later keys than this may wait in a lane whose run was cut short.
        var limit = Int.max
        for lane in 0..<laneCount {
            let run = self.run(of: lane, round: round, max: max)
            guard let last = run.orders.last else { continue }
            runs.append((lane, run.head, run.orders))
            if run.cutShort { limit = Swift.min(limit, last) }
        }
        guard !runs.isEmpty else { return 0 }
        // 2. Merge the runs by order key, the first `max` up to `limit`: where each
        //    run's elements go in the output.
        var destinations = [[Int]](repeating: [], count: runs.count)
        var next = [Int](repeating: 0, count: runs.count)
        var output = 0
        while output < max {
            var earliest = -1
            for run in runs.indices where next[run] < runs[run].orders.count {
                if earliest < 0 || runs[run].orders[next[run]] < runs[earliest].orders[next[earliest]] { earliest = run }
            }
            guard earliest >= 0, runs[earliest].orders[next[earliest]] <= limit else { break }
            destinations[earliest].append(output)
            next[earliest] += 1
            output += 1
        }
        // 3. Move them out, lane by lane, into their places, a chunk per hold of
        //    the lane's lock: a producer for whom that lane holds the only room
        //    left waits for one chunk, not for a whole catch-up write's worth.
        //    Only a producer dropping the oldest element moves a head meanwhile;
        //    what it dropped is simply not there.
        let gathered = UnsafeMutablePointer<Element>.allocate(capacity: output)
        var present = [Bool](repeating: false, count: output)
        for (run, placed) in zip(runs, destinations) where !placed.isEmpty {
            let end = run.head + placed.count
            var position = run.head
            while position < end {
                lockWaiting(run.lane)
                position = Swift.max(head(run.lane), position)
                let chunkEnd = Swift.min(end, position + moveOutChunk)
                if position < chunkEnd {
                    for taken in position..<chunkEnd {
                        let destination = placed[taken - run.head]
                        (gathered + destination).initialize(to: moveOut(lane: run.lane, position: taken))
                        present[destination] = true
                    }
                    position = chunkEnd
                    word(Self.headWord, of: run.lane).pointee.store(position, ordering: .sequentiallyConsistent)
                }
                unlock(run.lane)
                if position < end { letWaitingProducersIn() }
            }
        }
        var taken = 0
        for index in 0..<output where present[index] {
            body((gathered + index).move())
            taken += 1
        }
        gathered.deallocate()
        return taken
    }

    /// The order keys of a lane's elements from its head that belong to `round`
    /// or an earlier one, up to `max` of them, read a chunk per hold of the lane's
    /// lock (so a producer waiting for that lane waits for one chunk). Every lane
    /// is read under its lock: a look at its count without the lock is not
    /// ordered after the round's increment in every memory model.
    ///
    /// `cutShort`: the lane may hold more such elements, with later keys, than
    /// were read (`max` of them were, or a producer dropping the oldest moved the
    /// head between two chunks), so no other lane's element with a later key may
    /// be taken before them.
    private func run(of lane: Int, round: Int, max: Int) -> (head: Int, orders: [Int], cutShort: Bool) {
        lockWaiting(lane)
        let head = self.head(lane)
        var orders: [Int] = []
        var position = head
        while true {
            let tail = self.tail(lane)
            let end = Swift.min(tail, position + Swift.min(moveOutChunk, max - orders.count))
            while position < end {
                let key = self.key(lane, position % capacity(lane)).pointee
                guard key.round <= round else {
                    unlock(lane)
                    return (head, orders, false)
                }
                orders.append(key.order)
                position += 1
            }
            if position == tail || orders.count == max {
                unlock(lane)
                return (head, orders, orders.count == max)
            }
            unlock(lane)
            letWaitingProducersIn()
            lockWaiting(lane)
            guard self.head(lane) == head else {
                unlock(lane)
                return (head, orders, true)
            }
        }
    }

    /// Between two chunks of a take: gives a producer waiting for a busy lane
    /// (perhaps the one just let go, the only one with room) a few turns to take
    /// it before the worker locks a lane again. Unlocked, the lane is free only
    /// for the few instructions before the next lock, and a waiting producer,
    /// between two `sched_yield`s, all but never tries it then.
    private func letWaitingProducersIn() {
        var turns = 0
        while turns < 64, words[waitingWord].load(ordering: .relaxed) > 0 {
            sched_yield()
            turns += 1
        }
    }

    /// Refuses every later append, if nothing is left; `false` (and nothing
    /// changes) otherwise. Holds every lane's lock while it looks, so no append is
    /// half done.
    func sealIfEmpty() -> Bool {
        if isSealed { return true }
        for lane in 0..<laneCount { lockWaiting(lane) }
        defer { for lane in 0..<laneCount { unlock(lane) } }
        guard count == 0 else { return false }
        words[sealedWord].store(1, ordering: .sequentiallyConsistent)
        return true
    }
}

/// What a producing thread remembers between appends, shared by every
/// ``ProducerLanes`` of the process: the lane it last wrote into (so it keeps to
/// one lane and its cache lines) and its last order key (so its keys grow even
/// when the clock reads the same twice, as a microsecond clock does). Allocated
/// on a thread's first append, freed as the thread exits.
fileprivate struct ProducerThread {
    /// `Int.max` until the thread has written.
    var laneHint = Int.max
    var lastOrder = Int.min

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { free($0) }
        precondition(status == 0, "pthread_key_create failed (\(status))")
        return key
    }()

    @inline(__always)
    static func current() -> UnsafeMutablePointer<ProducerThread> {
        if let stored = pthread_getspecific(key) { return stored.assumingMemoryBound(to: ProducerThread.self) }
        return makeCurrent()
    }

    private static func makeCurrent() -> UnsafeMutablePointer<ProducerThread> {
        guard let memory = malloc(MemoryLayout<ProducerThread>.stride) else { fatalError("out of memory") }
        let state = memory.bindMemory(to: ProducerThread.self, capacity: 1)
        state.initialize(to: ProducerThread())
        pthread_setspecific(key, state)
        return state
    }

    /// A lane picked by the thread's address, so threads spread out from the start.
    func spreadLane(among laneCount: Int) -> Int {
        #if canImport(Darwin)
        let identity = UInt64(UInt(bitPattern: Int(bitPattern: pthread_self())))
        #else
        let identity = UInt64(pthread_self())
        #endif
        return Int((identity &* 0x9E37_79B9_7F4A_7C15) >> 33) % laneCount
    }
}
