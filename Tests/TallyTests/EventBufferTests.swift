import Synchronization
@testable import Tally
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The lanes under `track`, driven directly: many producers against one
/// consumer on lanes small enough to wrap and fill thousands of times.
@Suite("Event buffer")
struct EventBufferTests {
    @Test("producers moving between threads, and one consumer: each element taken exactly once, each producer's in order",
          arguments: [3, ProducerLanes<Int>.defaultMoveOutChunk])
    func lanesExactlyOnceInOrder(moveOutChunk: Int) async {
        // Small lanes, so they fill, wrap and send producers on to other lanes
        // thousands of times; the yields move producers from thread to thread.
        // A chunk of 3 makes the consumer let go of a lane and take it again
        // several times in each take, while producers append.
        let lanes = ProducerLanes<Int>(capacity: 64, lanes: 4, moveOutChunk: moveOutChunk)
        let producers = 4, perProducer = 50_000
        let taken = Collected<Int>()
        await withTaskGroup(of: Void.self) { group in
            for producer in 0..<producers {
                group.addTask {
                    for n in 0..<perProducer {
                        while true {
                            if case .claimed(let ticket) = lanes.claim(dropOldest: false) {
                                lanes.slot(for: ticket).initialize(to: producer << 32 | n)
                                lanes.publish(ticket)
                                break
                            }
                            await Task.yield()   // full: let the consumer run
                        }
                        if n % 100 == 0 { await Task.yield() }
                    }
                }
            }
            group.addTask {
                var mine: [Int] = []
                while mine.count < producers * perProducer {
                    if lanes.take(max: 50, { mine.append($0) }) == 0 { await Task.yield() }
                }
                taken.items.withLock { $0 = mine }
            }
        }
        let all = taken.items.withLock { $0 }
        #expect(all.count == producers * perProducer)
        #expect(Set(all).count == all.count)
        for producer in 0..<producers {
            let sequence = all.filter { $0 >> 32 == producer }.map { $0 & 0xFFFF_FFFF }
            #expect(sequence == Array(0..<perProducer))
        }
        #expect(lanes.count == 0)
        #expect(lanes.appended == producers * perProducer)
    }

    @Test("one thread alone fills every lane, and takes give its elements back in the order it appended them")
    func oneThreadFillsEveryLane() {
        let lanes = ProducerLanes<Int>(capacity: 12, lanes: 4)
        var serials: [Int] = []
        func append(_ value: Int) -> Bool {
            guard case .claimed(let ticket) = lanes.claim(dropOldest: false) else { return false }
            lanes.slot(for: ticket).initialize(to: value)
            lanes.publish(ticket)
            serials.append(ticket.serial)
            return true
        }
        for value in 0..<12 { #expect(append(value), "the buffer holds 12") }
        #expect(serials == serials.sorted() && Set(serials).count == 12, "one thread's serials grow from lane to lane")
        #expect(!append(12), "a thirteenth finds every lane full")
        var taken: [Int] = []
        #expect(lanes.take(max: 5, { taken.append($0) }) == 5)
        for value in 12..<15 { #expect(append(value)) }
        while lanes.take(max: 4, { taken.append($0) }) > 0 {}
        #expect(taken == Array(0..<15))
    }

    @Test("dropOldest under concurrent producers and a consumer: what was taken plus what was dropped is what was tracked, none twice",
          arguments: [2, ProducerLanes<BufferedEvent>.defaultMoveOutChunk])
    func dropOldestAccounting(moveOutChunk: Int) async {
        // A chunk of 2: producers dropping the oldest move a lane's head between
        // the consumer's holds of it, in the middle of a take.
        let buffer = EventBuffer(capacity: 16, lanes: 4, moveOutChunk: moveOutChunk, batchSize: 8,
                                 overflowPolicy: .dropOldest, service: "api", context: EventContext())
        let producers = 4, perProducer = 10_000
        let done = Collected<Never>()
        let taken = Collected<EnrichedEvent>()
        await withTaskGroup(of: Void.self) { group in
            for producer in 0..<producers {
                group.addTask {
                    for n in 0..<perProducer {
                        let now = Timestamp.now()
                        buffer.append(tracked: .catalogue(.pageView(path: "/\(producer)/\(n)")), timestamp: now,
                                      userID: nil, scope: nil)
                        if n % 64 == 0 { await Task.yield() }
                    }
                    done.finished.add(1, ordering: .sequentiallyConsistent)
                }
            }
            group.addTask {
                var mine: [EnrichedEvent] = []
                while done.finished.load(ordering: .sequentiallyConsistent) < producers || buffer.count > 0 {
                    let batch = buffer.take(max: 8)
                    if batch.isEmpty { await Task.yield() }
                    mine += batch
                }
                taken.items.withLock { $0 = mine }
            }
        }
        let events = taken.items.withLock { $0 }
        let counters = buffer.counters
        #expect(counters.accepted == producers * perProducer)
        #expect(events.count + counters.droppedFull == producers * perProducer)
        #expect(Set(events.map(\.eventID)).count == events.count)
        #expect(events.allSatisfy { $0.service == "api" })
        // What survived of each producer is still in its order.
        for producer in 0..<producers {
            let numbers = events.compactMap { event -> Int? in
                guard let parts = event.properties["path"]?.stringValue?.split(separator: "/"), parts[0] == "\(producer)" else { return nil }
                return Int(parts[1])
            }
            #expect(numbers == numbers.sorted())
        }
    }

    @Test("once the worker has drained and closed the buffer, a late track or submit is refused and counted, not left behind")
    func closedAfterDrain() async {
        let buffer = EventBuffer(capacity: 4, batchSize: 8, overflowPolicy: .dropOldest, service: "api", context: EventContext())
        func track(_ n: Int) -> Bool {
            let now = Timestamp.now()
            return buffer.append(tracked: .catalogue(.pageView(path: "/\(n)")), timestamp: now, userID: nil, scope: nil)
        }
        for n in 0..<3 { #expect(track(n)) }
        #expect(!buffer.sealIfDrained())
        #expect(buffer.take(max: 10).count == 3)
        #expect(buffer.sealIfDrained())
        // A `track` and a `submit` that saw no shutdown yet and reach the ring
        // after the worker's last look (the worker may have been cancelled
        // without a graceful shutdown, so the flag is not set). More than the
        // capacity: dropOldest must not count them a second time as full.
        for n in 3..<10 { #expect(!track(n)) }
        let now = Timestamp.now()
        let imported = EnrichedEvent(eventID: EventID.generate(at: now), payload: .catalogue(.pageView(path: "/x")), timestamp: now,
                                     receivedAt: now, service: "api")
        #expect(await !buffer.appendWaitingForSpace(imported))
        #expect(buffer.counters == EventBuffer.Counters(accepted: 3, droppedFull: 0, droppedAfterShutdown: 7))
        #expect(buffer.count == 0)
    }

    @Test("the capacity is exact when it does not divide among the lanes, or is smaller than their number",
          arguments: [(13, 4), (3, 4), (1, 16)])
    func unevenCapacity(capacity: Int, lanes laneCount: Int) {
        let lanes = ProducerLanes<Int>(capacity: capacity, lanes: laneCount)
        var appended = 0
        while case .claimed(let ticket) = lanes.claim(dropOldest: false) {
            lanes.slot(for: ticket).initialize(to: appended)
            lanes.publish(ticket)
            appended += 1
            if appended > capacity { break }
        }
        #expect(appended == capacity)
        #expect(lanes.count == capacity && lanes.isFull)
        var taken: [Int] = []
        while lanes.take(max: 5, { taken.append($0) }) > 0 {}
        #expect(taken == Array(0..<capacity))
    }

    @Test("a capacity beyond the machine's memory stops with a message naming bufferCapacity, before allocating")
    func capacityBeyondMemory() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = ProducerLanes<Int>(capacity: Int.max / 8, lanes: 4)
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("lower AnalyticsConfiguration.bufferCapacity"))
    }

    @Test("lanes released with elements still in them destroy each of them once")
    func deinitDestroysWhatIsLeft() {
        let destroyed = Collected<Never>()
        do {
            let lanes = ProducerLanes<Tracker>(capacity: 6, lanes: 2)
            func append() {
                guard case .claimed(let ticket) = lanes.claim(dropOldest: false) else { Issue.record("lanes full"); return }
                lanes.slot(for: ticket).initialize(to: Tracker(destroyed))
                lanes.publish(ticket)
            }
            // Eight appends into lanes of three, so the leftovers straddle a wrap.
            for _ in 0..<4 { append() }
            #expect(lanes.take(max: 3, { _ in }) == 3)
            for _ in 0..<4 { append() }
            #expect(lanes.count == 5)
            #expect(destroyed.finished.load(ordering: .relaxed) == 3)
        }
        #expect(destroyed.finished.load(ordering: .relaxed) == 8)
    }

    @Test("tracked events get the client's service and context from the worker; submitted ones keep their own")
    func serviceAndContextFilledOnTake() async {
        let context = EventContext(libraryName: "tally-swift", appVersion: "9.9")
        let buffer = EventBuffer(capacity: 16, batchSize: 8, overflowPolicy: .dropNewest, service: "api", context: context)
        let now = Timestamp.now()
        buffer.append(tracked: .catalogue(.pageView(path: "/a")), timestamp: now, userID: "u_1",
                      scope: AnalyticsContext(sessionID: "s_1", service: "worker"))
        buffer.append(tracked: .catalogue(.pageView(path: "/b")), timestamp: now, userID: nil, scope: nil)
        let imported = EnrichedEvent(eventID: EventID.generate(at: now), payload: .catalogue(.pageView(path: "/c")), timestamp: now,
                                     receivedAt: now, service: "web", context: EventContext(libraryName: "analytics-js"))
        #expect(await buffer.appendWaitingForSpace(imported))
        let events = buffer.take(max: 10)
        #expect(events.map(\.service) == ["worker", "api", "web"])
        #expect(events.map(\.userID) == ["u_1", nil, nil])
        #expect(events.map(\.sessionID) == ["s_1", nil, nil])
        #expect(events.map(\.context.libraryName) == ["tally-swift", "tally-swift", "analytics-js"])
        #expect(events[2].eventID == imported.eventID)
        #expect(events[0].eventID < events[1].eventID && events[0].eventID.version == 7)
    }
}

/// What a consumer task collected, and how many producers finished, shared with the test.
private final class Collected<Item: Sendable>: Sendable {
    let items = Mutex<[Item]>([])
    let finished = Atomic<Int>(0)
}

/// Counts its own destruction.
private final class Tracker: Sendable {
    let destroyed: Collected<Never>
    init(_ destroyed: Collected<Never>) { self.destroyed = destroyed }
    deinit { destroyed.finished.add(1, ordering: .relaxed) }
}
