import Tally
import Testing

@Suite("DayAggregates")
struct DayAggregatesTests {
    static let day = Timestamp(iso8601: "2026-11-20T00:00:00Z")!

    /// A fact of `type` with every property set, so any aggregate that reads the type counts it.
    static func fact(_ type: String) -> EventFact {
        EventFact(timestamp: day.adding(microseconds: 3_600_000_000), eventType: type, service: "api", userID: "u_1",
                  durationMs: 12.5, statusCode: 503, method: "GET", route: "/v1/x", provider: "github",
                  errorType: "timeout", cocoonID: "c_1", success: true)
    }

    @Test("an event of a type outside Accumulator.eventTypes adds only its user, and every type inside adds more",
          arguments: AnalyticsEvent.catalogue.map(\.name) + ["not_in_the_catalogue"])
    func eventTypesAreExactlyTheAggregatedOnes(type: String) {
        var full = DayAggregates.Accumulator(day: Self.day)
        full.add(Self.fact(type))
        var usersOnly = DayAggregates.Accumulator(day: Self.day)
        usersOnly.addUser("u_1", service: "api")
        let a = full.aggregates(), b = usersOnly.aggregates()
        #expect(a.users == b.users)
        var same = a.taskStats == b.taskStats && a.apiLatency == b.apiLatency
        same = same && a.integrationHealth == b.integrationHealth && a.authEvents == b.authEvents
        same = same && a.cocoonActivity == b.cocoonActivity && a.errors == b.errors
        #expect(same == !DayAggregates.Accumulator.eventTypes.contains(type))
    }

    @Test("the accumulator gives what init(day:facts:) gives over the same facts")
    func accumulatorEqualsInit() {
        let facts = AnalyticsEvent.catalogue.map { Self.fact($0.name) } + [Self.fact("api_request"), Self.fact("task_completed")]
        var accumulator = DayAggregates.Accumulator(day: Self.day)
        for fact in facts { accumulator.add(fact) }
        let a = accumulator.aggregates(), b = DayAggregates(day: Self.day, facts: facts)
        Self.expectSameRows(a, b)
        #expect(a.apiLatency.first?.requests == 2)
    }

    @Test("accumulators of two parts of a day, merged, give what one accumulator of the whole day gives",
          arguments: [2, 3])
    func mergedPartsEqualOnePass(parts: Int) {
        // Every catalogue type, in two services, over three hours, with varied
        // users, durations, statuses, providers, outcomes and cocoons, so that
        // every key and counter is met in more than one part.
        let types = AnalyticsEvent.catalogue.map(\.name) + ["not_in_the_catalogue"]
        var facts: [EventFact] = []
        for i in 0..<600 {
            let type = types[i % types.count]
            facts.append(EventFact(
                timestamp: Self.day.adding(microseconds: Int64(i % 3) * 3_600_000_000 + Int64(i)),
                eventType: type, service: i % 4 == 0 ? "web" : "api", userID: i % 7 == 0 ? nil : "u_\(i % 157)",
                durationMs: Double(i % 97) * 1.5, statusCode: [200, 404, 503][i % 3], method: i % 2 == 0 ? "GET" : "POST",
                route: "/v1/\(i % 5)", provider: i % 3 == 0 ? "github" : "slack", errorType: "e\(i % 4)",
                cocoonID: "c_\(i % 101)", success: i % 5 != 0))
        }
        var whole = DayAggregates.Accumulator(day: Self.day)
        for fact in facts { whole.add(fact) }
        var partials = Array(repeating: DayAggregates.Accumulator(day: Self.day), count: parts)
        // Scattered, so that each type lands in every part (`i % parts` would
        // keep a type in one part whenever `parts` divides the number of types).
        for (i, fact) in facts.enumerated() { partials[Int((UInt32(i) &* 2_654_435_761) >> 20) % parts].add(fact) }
        var merged = partials[0]
        for part in partials.dropFirst() { merged.merge(part) }

        let a = merged.aggregates(), b = whole.aggregates()
        Self.expectSameRows(a, b)
        // The facts met every aggregate.
        #expect(!b.taskStats.isEmpty && !b.apiLatency.isEmpty && !b.integrationHealth.isEmpty)
        #expect(!b.authEvents.isEmpty && b.cocoonActivity != nil && !b.errors.isEmpty)
    }

    /// Every aggregate's rows, and the users, are the same in `a` and `b`.
    static func expectSameRows(_ a: DayAggregates, _ b: DayAggregates, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.users == b.users, sourceLocation: sourceLocation)
        #expect(a.taskStats == b.taskStats, sourceLocation: sourceLocation)
        #expect(a.apiLatency == b.apiLatency, sourceLocation: sourceLocation)
        #expect(a.integrationHealth == b.integrationHealth, sourceLocation: sourceLocation)
        #expect(a.authEvents == b.authEvents, sourceLocation: sourceLocation)
        #expect(a.cocoonActivity == b.cocoonActivity, sourceLocation: sourceLocation)
        #expect(a.errors == b.errors, sourceLocation: sourceLocation)
    }
}
