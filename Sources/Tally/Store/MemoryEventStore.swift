/// A store that keeps events in memory, with the same dedupe rule as the real
/// ones. For tests and for trying Tally out; everything is gone when it is.
public actor MemoryEventStore: EventStore {
    private struct Key: Hashable {
        let timestamp: Timestamp
        let eventID: EventID
    }

    private var events: [Key: EnrichedEvent] = [:]

    public init() {}

    @discardableResult
    public func write(_ batch: [EnrichedEvent]) async throws -> Int {
        var inserted = 0
        for event in batch {
            let key = Key(timestamp: event.timestamp, eventID: event.eventID)
            if events[key] == nil {
                events[key] = event
                inserted += 1
            }
        }
        return inserted
    }

    public func count() async throws -> Int { events.count }

    public func events(in range: Range<Timestamp>, limit: Int) async throws -> [EnrichedEvent] {
        Array(events.values
            .filter { range.contains($0.timestamp) }
            .sorted { ($0.timestamp, $0.eventID) < ($1.timestamp, $1.eventID) }
            .prefix(limit))
    }

    public func dailyCounts() async throws -> [DailyEventCount] {
        var counts: [DailyEventCount] = []
        let grouped = Dictionary(grouping: events.values) { [$0.timestamp.startOfDay.microsecondsSinceEpoch.description, $0.name] }
        for (_, group) in grouped {
            counts.append(DailyEventCount(day: group[0].timestamp.startOfDay, eventType: group[0].name, count: group.count))
        }
        return counts.sorted { ($0.day, $0.eventType) < ($1.day, $1.eventType) }
    }
}

extension MemoryEventStore: EventQueries {
    public func events(matching filter: EventFilter, after cursor: EventCursor?, limit: Int) async throws -> [EnrichedEvent] {
        Array(events.values
            .filter { filter.matches($0) && (cursor?.precedes($0) ?? true) }
            .sorted { ($0.timestamp, $0.eventID) < ($1.timestamp, $1.eventID) }
            .prefix(limit))
    }

    public func trend(_ query: TrendQuery) async throws -> [TrendPoint] {
        if let property = query.breakdown, !TrendQuery.isValidPropertyName(property) { throw QueryError.invalidProperty(property) }
        let filter = EventFilter(from: query.from, to: query.to, eventType: query.eventType, service: query.service)
        return query.referenceAnswer(over: events.values.filter(filter.matches))
    }

    public func eraseUser(_ userID: String) async throws -> UserErasure {
        let person = EventFilter(userID: userID)
        let doomed = events.filter { person.matches($0.value) }
        for key in doomed.keys { events[key] = nil }
        return UserErasure(deletedEvents: doomed.count, days: Set(doomed.keys.map(\.timestamp.startOfDay)).sorted())
    }
}
