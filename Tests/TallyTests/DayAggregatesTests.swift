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
        #expect(a.users == b.users)
        #expect(a.taskStats == b.taskStats)
        #expect(a.apiLatency == b.apiLatency)
        #expect(a.integrationHealth == b.integrationHealth)
        #expect(a.authEvents == b.authEvents)
        #expect(a.cocoonActivity == b.cocoonActivity)
        #expect(a.errors == b.errors)
        #expect(a.apiLatency.first?.requests == 2)
    }
}
