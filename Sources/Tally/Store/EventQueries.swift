/// The reads and the erase that `tally serve` needs from the raw events, beyond
/// writing them: pages by cursor, trends, and a user's data for privacy requests.
///
/// Every backend answers the same query with the same rows; ``MemoryEventStore``'s
/// plain-Swift answer is the reference the behavioural tests compare against.
public protocol EventQueries: Sendable {
    /// Events matching `filter`, oldest first (ties by event id), starting after
    /// `cursor`; at most `limit`.
    func events(matching filter: EventFilter, after cursor: EventCursor?, limit: Int) async throws -> [EnrichedEvent]

    /// Counts or unique users of one event type per bucket, optionally broken
    /// down by one property.
    func trend(_ query: TrendQuery) async throws -> [TrendPoint]

    /// Deletes every raw event whose `user_id` or `anonymous_id` is `userID`, in one
    /// transaction, and marks the days they fell on dirty so the aggregates are
    /// recomputed without them.
    func eraseUser(_ userID: String) async throws -> UserErasure
}

/// Which raw events a query wants. `nil` means "any".
public struct EventFilter: Sendable, Hashable {
    /// Inclusive lower bound of the event time.
    public var from: Timestamp?
    /// Exclusive upper bound of the event time.
    public var to: Timestamp?
    /// Matches `user_id` or `anonymous_id`: the person, however they were identified.
    public var userID: String?
    public var eventType: String?
    public var service: String?

    public init(from: Timestamp? = nil, to: Timestamp? = nil, userID: String? = nil,
                eventType: String? = nil, service: String? = nil) {
        self.from = from; self.to = to; self.userID = userID; self.eventType = eventType; self.service = service
    }

    public func matches(_ event: EnrichedEvent) -> Bool {
        if let from, event.timestamp < from { return false }
        if let to, event.timestamp >= to { return false }
        if let userID, event.userID != userID && event.anonymousID != userID { return false }
        if let eventType, event.name != eventType { return false }
        if let service, event.service != service { return false }
        return true
    }
}

/// Where a page of events ended: the sort key of its last event. Its text form,
/// `<microseconds>_<event id>`, is opaque to API users.
public struct EventCursor: Sendable, Hashable, CustomStringConvertible {
    public var timestamp: Timestamp
    public var eventID: EventID

    public init(timestamp: Timestamp, eventID: EventID) {
        self.timestamp = timestamp; self.eventID = eventID
    }

    public init(after event: EnrichedEvent) {
        self.init(timestamp: event.timestamp, eventID: event.eventID)
    }

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "_", maxSplits: 1)
        guard parts.count == 2, let micros = Int64(parts[0]), let id = EventID(parts[1]) else { return nil }
        self.init(timestamp: Timestamp(microsecondsSinceEpoch: micros), eventID: id)
    }

    public var description: String { "\(timestamp.microsecondsSinceEpoch)_\(eventID.uuidString)" }

    /// Whether `event` sorts after this cursor.
    public func precedes(_ event: EnrichedEvent) -> Bool {
        (timestamp, eventID) < (event.timestamp, event.eventID)
    }
}

/// A trends question: how often (or by how many people) `eventType` happened per
/// bucket in `[from, to)`.
public struct TrendQuery: Sendable, Hashable {
    public enum Interval: String, Sendable, CaseIterable {
        case hour, day
        /// ISO weeks, starting Monday 00:00 UTC.
        case week
    }

    public enum Measure: String, Sendable, CaseIterable {
        case count
        /// Distinct `user_id`, or `anonymous_id` for events without one.
        case uniqueUsers = "unique_users"
    }

    public var eventType: String
    public var from: Timestamp
    public var to: Timestamp
    public var interval: Interval
    public var measure: Measure
    public var service: String?
    /// A top-level property name to break the series down by.
    public var breakdown: String?
    /// With a breakdown: keep the `limit` values with the most events.
    public var limit: Int

    public init(eventType: String, from: Timestamp, to: Timestamp, interval: Interval = .day, measure: Measure = .count,
                service: String? = nil, breakdown: String? = nil, limit: Int = 10) {
        self.eventType = eventType; self.from = from; self.to = to; self.interval = interval; self.measure = measure
        self.service = service; self.breakdown = breakdown; self.limit = limit
    }

    /// Property names a breakdown accepts: they are spliced into a JSON path, so
    /// only letters, digits, `_` and `-`, 1–128 bytes.
    public static func isValidPropertyName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 128
            && name.utf8.allSatisfy { $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || ($0 >= 48 && $0 <= 57) || ($0 | 0x20 >= 97 && $0 | 0x20 <= 122) }
    }

    /// The bucket `time` falls in.
    public func bucket(of time: Timestamp) -> Timestamp {
        switch interval {
        case .hour:
            let us = time.microsecondsSinceEpoch
            let hours = us >= 0 ? us / Timestamp.microsecondsPerHour : (us - Timestamp.microsecondsPerHour + 1) / Timestamp.microsecondsPerHour
            return Timestamp(microsecondsSinceEpoch: hours * Timestamp.microsecondsPerHour)
        case .day:
            return time.startOfDay
        case .week:
            // 1970-01-01 was a Thursday: day 0 is 3 days after a Monday.
            let day = time.startOfDay.microsecondsSinceEpoch / Timestamp.microsecondsPerDay
            let monday = ((day + 3) >= 0 ? (day + 3) / 7 : (day + 3 - 6) / 7) * 7 - 3
            return Timestamp(microsecondsSinceEpoch: monday * Timestamp.microsecondsPerDay)
        }
    }

    /// The text a property value is grouped under: strings as themselves, other
    /// values as their JSON; missing and `null` are `nil`.
    public static func breakdownValue(_ value: JSONValue?) -> String? {
        switch value {
        case nil, .null?: nil
        case .string(let s)?: s
        case let other?: other.serialized()
        }
    }
}

/// One bucket of a trend (and one breakdown value, when there is a breakdown).
public struct TrendPoint: Sendable, Hashable {
    public var bucket: Timestamp
    /// The property's value, or `nil` for events without it (or without a breakdown).
    public var value: String?
    public var count: Int

    public init(bucket: Timestamp, value: String?, count: Int) {
        self.bucket = bucket; self.value = value; self.count = count
    }
}

/// What erasing a user removed.
public struct UserErasure: Sendable, Hashable {
    public var deletedEvents: Int
    /// The UTC days the deleted events fell on, now marked dirty.
    public var days: [Timestamp]

    public init(deletedEvents: Int, days: [Timestamp]) {
        self.deletedEvents = deletedEvents; self.days = days
    }
}

private struct TrendKey: Hashable {
    let bucket: Timestamp
    let value: String?
}

extension TrendQuery {
    /// The reference answer over events already filtered to the query's type,
    /// service and range: what every backend must return.
    public func referenceAnswer(over events: [EnrichedEvent]) -> [TrendPoint] {
        typealias Key = TrendKey
        let query = self
        var counts: [Key: Int] = [:]
        var users: [Key: Set<String>] = [:]
        var totals: [String?: Int] = [:]
        for event in events {
            let value = query.breakdown.map { TrendQuery.breakdownValue(event.properties[$0]) } ?? nil
            let key = Key(bucket: query.bucket(of: event.timestamp), value: value)
            totals[value, default: 0] += 1
            switch query.measure {
            case .count: counts[key, default: 0] += 1
            case .uniqueUsers:
                if let person = event.userID ?? event.anonymousID { users[key, default: []].insert(person) }
                else { users[key, default: []] = users[key] ?? [] }
            }
        }
        let kept: Set<String?>? = query.breakdown == nil ? nil : Set(
            totals.sorted { $0.value != $1.value ? $0.value > $1.value : TrendPoint.valueOrdered($0.key, $1.key) }
                .prefix(query.limit).map(\.key))
        let points: [TrendPoint] = switch query.measure {
        case .count: counts.map { TrendPoint(bucket: $0.key.bucket, value: $0.key.value, count: $0.value) }
        case .uniqueUsers: users.map { TrendPoint(bucket: $0.key.bucket, value: $0.key.value, count: $0.value.count) }
        }
        return points.filter { kept?.contains($0.value) ?? true }.sorted(by: TrendPoint.ordered)
    }
}

extension TrendPoint {
    /// The order every backend returns points in: by bucket, then value (`nil` first).
    public static func ordered(_ a: TrendPoint, _ b: TrendPoint) -> Bool {
        a.bucket != b.bucket ? a.bucket < b.bucket : valueOrdered(a.value, b.value)
    }

    /// Breakdown values in byte order, `nil` first (how SQL's `ORDER BY value NULLS FIRST`
    /// with a binary collation sorts them).
    public static func valueOrdered(_ a: String?, _ b: String?) -> Bool {
        switch (a, b) {
        case (nil, nil): return false
        case (nil, _): return true
        case (_, nil): return false
        case let (x?, y?): return Array(x.utf8).lexicographicallyPrecedes(Array(y.utf8))
        }
    }
}

/// A query the store refuses before running it.
public enum QueryError: Error, CustomStringConvertible {
    case invalidProperty(String)

    public var description: String {
        switch self {
        case .invalidProperty(let name):
            "breakdown property \"\(name)\" is not a valid property name: use 1–128 letters, digits, '_' or '-'"
        }
    }
}
