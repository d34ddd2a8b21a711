import Synchronization
import Tally

/// The time a message without a `timestamp` was first received, by messageId, so
/// a retry of it lands on the same (timestamp, event_id) and is stored once.
///
/// A UUIDv7 messageId needs no memory (its own time is used); for other ids the
/// server remembers the most recent `capacity`…2×`capacity` messages, in two
/// generations so memory stays bounded. Retries across a restart, or after that
/// many newer untimed messages, are not caught: SDKs that send `timestamp` (all
/// of Segment's do) are deduplicated by the store whatever the delay.
final class FirstSeenTimes: Sendable {
    private struct Generations {
        var current: [String: Timestamp] = [:]
        var previous: [String: Timestamp] = [:]
    }

    let capacity: Int
    private let generations = Mutex(Generations())

    init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    /// The timestamp for an untimed message: its UUIDv7's time, else the time it was first seen.
    func timestamp(for messageID: String, eventID: EventID, receivedAt: Timestamp) -> Timestamp {
        if eventID.version == 7 {
            return Timestamp(microsecondsSinceEpoch: eventID.milliseconds * 1_000)
        }
        return generations.withLock { g in
            if let seen = g.current[messageID] { return seen }
            let seen = g.previous[messageID] ?? receivedAt
            if g.current.count >= capacity {
                g.previous = g.current
                g.current = [:]
            }
            g.current[messageID] = seen
            return seen
        }
    }
}
