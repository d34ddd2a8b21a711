import Foundation
import Tally
import TallySQLite
import TallyTesting
import Testing

/// Aggregates checked against the same quantities computed directly from raw
/// events by a separate, deliberately plain implementation (the oracle).
@Suite("Aggregates on SQLite")
struct AggregateTests {
    static let end = Timestamp(iso8601: "2026-11-20T18:00:00Z")!
    static let days = 12

    struct Fixture {
        let directory: TemporaryDirectory
        let store: SQLiteEventStore
        let aggregates: SQLiteAggregateStore
        let refresher: AggregateRefresher
        let raw: [EnrichedEvent]
    }

    /// Demo traffic (5% of it late) written straight to a migrated SQLite file, then refreshed.
    static func fixture() async throws -> Fixture {
        let directory = try TemporaryDirectory()
        let database = try await migratedDatabase(in: directory)
        let store = SQLiteEventStore(database: database)
        var configuration = DemoTraffic.Configuration(end: end)
        configuration.users = 80
        configuration.days = days
        configuration.lateFraction = 0.05
        let traffic = DemoTraffic(configuration: configuration)
        var raw: [EnrichedEvent] = []
        for day in 0..<days { raw += traffic.events(forDay: day) }
        try await store.write(raw)
        let aggregates = SQLiteAggregateStore(database: database)
        let refresher = AggregateRefresher(store: aggregates)
        try await refresher.refresh(from: traffic.startOfDay(0), to: end, now: end)
        return Fixture(directory: directory, store: store, aggregates: aggregates, refresher: refresher, raw: raw)
    }

    /// A new `tally.sqlite` in `directory`, with every migration applied.
    static func migratedDatabase(in directory: TemporaryDirectory) async throws -> SQLiteDatabase {
        let database = try SQLiteDatabase(path: directory.file("tally.sqlite"))
        try await Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget(database: database)).migrate(phases: [.pre, .post])
        return database
    }

    static var from: Timestamp { end.startOfDay.adding(days: -(days - 1)) }
    static var to: Timestamp { end.startOfDay.adding(days: 1) }

    // MARK: the oracle

    static func percentile(_ p: Double, _ values: [Double]) -> Double? {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return nil }
        let rank = p * Double(sorted.count - 1)
        let lo = Int(rank), hi = min(lo + 1, sorted.count - 1)
        return sorted[lo] + (rank - Double(lo)) * (sorted[hi] - sorted[lo])
    }

    static func close(_ a: Double?, _ b: Double?) -> Bool {
        switch (a, b) {
        case (nil, nil): true
        case let (x?, y?): abs(x - y) <= 1e-9 * max(1, abs(y))
        default: false
        }
    }

    static func number(_ event: EnrichedEvent, _ key: String) -> Double? { event.properties[key]?.doubleValue }
    static func text(_ event: EnrichedEvent, _ key: String) -> String? { event.properties[key]?.stringValue }

    @Test("every row of every aggregate equals the same quantity computed from raw events")
    func oracle() async throws {
        let f = try await Self.fixture()
        defer { f.directory.remove() }
        let raw = f.raw
        // Grouped once so the checks below stay linear; the grouping is by the raw
        // timestamps, independent of the engine under test.
        let byDay = Dictionary(grouping: raw) { $0.timestamp.startOfDay }
        let byHour = Dictionary(grouping: raw) { $0.timestamp.startOfHour }
        #expect(raw.contains { $0.receivedAt.microsecondsSinceEpoch - $0.timestamp.microsecondsSinceEpoch > Timestamp.microsecondsPerDay },
                "the fixture includes late events")

        // Active users: distinct user_id per day and service, and over 7- and 30-day windows.
        let active = try await f.aggregates.activeUsers(from: Self.from, to: Self.to, service: nil)
        #expect(!active.isEmpty)
        for row in active {
            func users(_ window: Int) -> Int {
                let events = (0..<window).flatMap { byDay[row.day.adding(days: -$0)] ?? [] }
                return Set(events.filter { e in
                    e.userID != nil && (row.service == ActiveUsersRow.allServices || e.service == row.service)
                }.map(\.userID)).count
            }
            #expect((row.dau, row.wau, row.mau) == (users(1), users(7), users(30)), "\(row.day.dateString) \(row.service)")
        }

        // Task stats.
        let tasks = try await f.aggregates.taskStats(from: Self.from, to: Self.to, service: nil)
        #expect(!tasks.isEmpty)
        for row in tasks {
            let day = (byDay[row.day] ?? []).filter { $0.service == row.service }
            func n(_ name: String) -> Int { day.filter { $0.name == name }.count }
            let actual: [Int] = [row.created, row.started, row.completed, row.failed, row.cancelled]
            let expected: [Int] = [n("task_created"), n("task_started"), n("task_completed"), n("task_failed"), n("task_cancelled")]
            #expect(actual == expected)
            let durations = day.filter { $0.name == "task_completed" }.compactMap { Self.number($0, "duration_ms") }
            #expect(Self.close(row.durationP50, Self.percentile(0.5, durations)))
            #expect(Self.close(row.durationP95, Self.percentile(0.95, durations)))
            let finished = n("task_completed") + n("task_failed")
            #expect(Self.close(row.successRate, finished == 0 ? nil : Double(n("task_completed")) / Double(finished)))
        }
        #expect(tasks.reduce(0) { $0 + $1.created } == raw.filter { $0.name == "task_created" }.count)

        // API latency per hour, service, method and route.
        let api = try await f.aggregates.apiLatency(from: Self.from, to: Self.to, service: nil)
        let requests = raw.filter { $0.name == "api_request" }
        #expect(api.reduce(0) { $0 + $1.requests } == requests.count)
        for row in api {
            let bucket = (byHour[row.hour] ?? []).filter {
                $0.name == "api_request" && $0.service == row.service
                    && Self.text($0, "method") == row.method && Self.text($0, "route") == row.route
            }
            let statuses = bucket.compactMap { $0.properties["status_code"]?.intValue }
            let latencies = bucket.compactMap { Self.number($0, "duration_ms") }
            #expect(row.requests == bucket.count)
            #expect(row.errors4xx == statuses.filter { (400...499).contains($0) }.count)
            #expect(row.errors5xx == statuses.filter { $0 >= 500 }.count)
            #expect(Self.close(row.latencyP50, Self.percentile(0.5, latencies)))
            #expect(Self.close(row.latencyP95, Self.percentile(0.95, latencies)))
            #expect(Self.close(row.latencyP99, Self.percentile(0.99, latencies)))
            #expect(Self.close(row.latencyMax, latencies.max()))
        }

        // Integration health per day and provider.
        let integrations = try await f.aggregates.integrationHealth(from: Self.from, to: Self.to, provider: nil)
        #expect(!integrations.isEmpty)
        for row in integrations {
            let day = (byDay[row.day] ?? []).filter { Self.text($0, "provider") == row.provider }
            func n(_ name: String) -> Int { day.filter { $0.name == name }.count }
            let actual: [Int] = [row.connected, row.disconnected, row.used, row.errors, row.oauthStarted, row.oauthCompleted]
            let expected: [Int] = [n("integration_connected"), n("integration_disconnected"), n("integration_used"), n("integration_error"),
                        n("oauth_flow_started"), n("oauth_flow_completed")]
            #expect(actual == expected)
        }

        // Auth per day and service.
        let auth = try await f.aggregates.authEvents(from: Self.from, to: Self.to, service: nil)
        #expect(!auth.isEmpty)
        for row in auth {
            let day = (byDay[row.day] ?? []).filter { $0.service == row.service }
            func n(_ name: String) -> Int { day.filter { $0.name == name }.count }
            let logins = day.filter { $0.name == "auth_login_attempt" }
            let successes = logins.filter { $0.properties["success"]?.boolValue == true }.count
            let actual: [Int] = [row.loginAttempts, row.loginSuccesses, row.loginFailures, row.codesVerified, row.tokenRefreshes, row.sessionsValidated, row.logouts]
            let expected: [Int] = [logins.count, successes, logins.count - successes, n("auth_code_verified"), n("auth_token_refresh"),
                        n("auth_session_validated"), n("auth_logout")]
            #expect(actual == expected)
        }

        // Cocoon activity per day.
        let cocoons = try await f.aggregates.cocoonActivity(from: Self.from, to: Self.to)
        #expect(cocoons.count == Self.days)
        for row in cocoons {
            let day = (byDay[row.day] ?? []).filter { $0.name.hasPrefix("cocoon_") }
            func n(_ name: String) -> Int { day.filter { $0.name == name }.count }
            let actual: [Int] = [row.registered, row.connected, row.disconnected, row.claimed, row.setupTokensCreated, row.setupTokensUsed, row.activeCocoons]
            let expected: [Int] = [n("cocoon_registered"), n("cocoon_connected"), n("cocoon_disconnected"), n("cocoon_claimed"),
                        n("cocoon_setup_token_created"), n("cocoon_setup_token_used"), Set(day.compactMap { Self.text($0, "cocoon_id") }).count]
            #expect(actual == expected)
        }

        // Errors per hour, service and type.
        let errors = try await f.aggregates.errors(from: Self.from, to: Self.to, service: nil)
        var expected: [String: Int] = [:]
        for e in raw {
            let type: String? = switch e.name {
            case "application_error": Self.text(e, "error_type")
            case "api_request": (e.properties["status_code"]?.intValue ?? 0) >= 500 ? "http_5xx" : nil
            case "task_failed": "task_failed"
            case "integration_error": "integration_error"
            default: nil
            }
            if let type { expected["\(e.timestamp.startOfHour) \(e.service) \(type)", default: 0] += 1 }
        }
        #expect(Dictionary(uniqueKeysWithValues: errors.map { ("\($0.hour) \($0.service) \($0.errorType)", $0.errors) }) == expected)
    }

    @Test("a late event for a bucket 10 days old appears in its aggregate after the next refresh")
    func lateEventMarksItsDayDirty() async throws {
        let f = try await Self.fixture()
        defer { f.directory.remove() }
        let now = Self.end
        let oldDay = now.startOfDay.adding(days: -10)
        let before = try await f.aggregates.taskStats(from: oldDay, to: oldDay.adding(days: 1), service: "late-service")
        #expect(before.isEmpty)
        _ = try await f.refresher.refreshDue(now: now)   // clears the marks of the initial load

        let late = CatalogueExamples.event(.taskCreated(taskID: "t_late", command: "build"), at: oldDay.adding(microseconds: 3_600_000_000),
                                           receivedAt: now, service: "late-service")
        try await f.store.write([late])
        #expect(try await f.aggregates.dirtyDays().map(\.day).contains(oldDay))

        let report = try await f.refresher.refreshDue(now: now)
        #expect(report.days.contains(oldDay))
        let after = try await f.aggregates.taskStats(from: oldDay, to: oldDay.adding(days: 1), service: "late-service")
        #expect(after.map(\.created) == [1])
        #expect(try await f.aggregates.dirtyDays().isEmpty)
    }

    @Test("percentiles over 7 days from merged sketches are within 1% of the exact value")
    func sketchesOverAWeek() async throws {
        let f = try await Self.fixture()
        defer { f.directory.remove() }
        let weekStart = Self.end.startOfDay.adding(days: -6)
        let latencies = f.raw.filter { $0.name == "api_request" && $0.timestamp >= weekStart && $0.timestamp < Self.to }
            .compactMap { Self.number($0, "duration_ms") }
        let fromSketches = try await f.aggregates.apiLatencyPercentiles(from: weekStart, to: Self.to)
        #expect(fromSketches.count == UInt64(latencies.count))
        for (p, estimate) in [(0.5, fromSketches.p50), (0.95, fromSketches.p95), (0.99, fromSketches.p99)] {
            let exact = try #require(Self.percentile(p, latencies))
            let value = try #require(estimate)
            #expect(abs(value - exact) / exact <= 0.01, "p\(Int(p * 100)): sketch \(value) vs exact \(exact)")
        }
        // One route of one service: the store filters in SQL; the same as filtering the rows.
        let rows = try await f.aggregates.apiLatency(from: weekStart, to: Self.to, service: nil)
        let busiest = try #require(Dictionary(grouping: rows) { [$0.service, $0.method, $0.route] }.max { $0.value.count < $1.value.count })
        let oneRoute = try await f.aggregates.apiLatencyPercentiles(from: weekStart, to: Self.to, service: busiest.key[0],
                                                                   method: busiest.key[1], route: busiest.key[2])
        #expect(oneRoute == RangePercentiles(merging: busiest.value.map(\.latencySketch)))
        #expect(oneRoute.count > 0 && oneRoute.count < fromSketches.count)
        let durations = f.raw.filter { $0.name == "task_completed" && $0.timestamp >= weekStart }.compactMap { Self.number($0, "duration_ms") }
        let taskP95 = try await f.aggregates.taskDurationPercentiles(from: weekStart, to: Self.to).p95
        let exact = try #require(Self.percentile(0.95, durations))
        #expect(abs(try #require(taskP95) - exact) / exact <= 0.01)
    }

    /// Every row of every aggregate between `from` and `to`.
    struct Snapshot: Equatable {
        var active: [ActiveUsersRow], tasks: [TaskStatsRow], api: [APILatencyRow], integrations: [IntegrationHealthRow]
        var auth: [AuthEventsRow], cocoons: [CocoonActivityRow], errors: [ErrorsRow]

        init(_ a: SQLiteAggregateStore) async throws {
            active = try await a.activeUsers(from: AggregateTests.from, to: AggregateTests.to, service: nil)
            tasks = try await a.taskStats(from: AggregateTests.from, to: AggregateTests.to, service: nil)
            api = try await a.apiLatency(from: AggregateTests.from, to: AggregateTests.to, service: nil)
            integrations = try await a.integrationHealth(from: AggregateTests.from, to: AggregateTests.to, provider: nil)
            auth = try await a.authEvents(from: AggregateTests.from, to: AggregateTests.to, service: nil)
            cocoons = try await a.cocoonActivity(from: AggregateTests.from, to: AggregateTests.to)
            errors = try await a.errors(from: AggregateTests.from, to: AggregateTests.to, service: nil)
        }
    }

    @Test("the streaming refresh writes exactly the rows of the shared aggregation over the day's facts, and counts its events")
    func sqlRefreshEqualsFacts() async throws {
        let f = try await Self.fixture()
        defer { f.directory.remove() }
        let bySQL = try await Snapshot(f.aggregates)
        #expect(!bySQL.active.isEmpty && !bySQL.tasks.isEmpty && !bySQL.api.isEmpty && !bySQL.integrations.isEmpty)
        #expect(!bySQL.auth.isEmpty && !bySQL.cocoons.isEmpty && !bySQL.errors.isEmpty)
        var days: [Timestamp] = []
        var day = Self.from
        while day < Self.to {
            let facts = try await f.aggregates.facts(onDay: day)
            #expect(try await f.aggregates.refreshDay(day) == facts.count, "events of \(day.dateString)")
            try await f.aggregates.replace(DayAggregates(day: day, facts: facts))
            days.append(day)
            day = day.adding(days: 1)
        }
        try await f.aggregates.recomputeActiveUsers(days: days)
        let byFacts = try await Snapshot(f.aggregates)
        #expect(bySQL.active == byFacts.active)
        #expect(bySQL.tasks == byFacts.tasks)
        #expect(bySQL.api == byFacts.api)
        #expect(bySQL.integrations == byFacts.integrations)
        #expect(bySQL.auth == byFacts.auth)
        #expect(bySQL.cocoons == byFacts.cocoons)
        #expect(bySQL.errors == byFacts.errors)
    }

    @Test("the facts read back from stored rows are those of the events written, text past 15 bytes and beyond ASCII included")
    func factsReadBack() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try await Self.migratedDatabase(in: directory)
        let day = Timestamp(iso8601: "2026-11-20T00:00:00Z")!
        var events = CatalogueExamples.enrichedAll(startingAt: day.adding(microseconds: 3_600_000_000))
        // Each twice, so that repeated texts are also read back a second time.
        let unusual: [(AnalyticsEvent, service: String, user: String?)] = [
            (.apiRequest(method: "PATCH", route: "/v1/équipes/:id/membres-actifs", statusCode: 503, durationMs: 12.25),
             "facturation-service-européen", "utilisateur-ünïcödé-0042"),
            (.integrationConnected(provider: "google_drive_enterprise"), "integrations-backend", nil),
            (.applicationError(errorType: "ÜberlaufFehlerImPuffer", severity: .critical, message: "voll"), "worker", "u_1"),
            (.cocoonRegistered(cocoonID: "c_büro-mac-mini-übersee-2"), "cocoon-gateway", "u_2"),
            (.taskCompleted(taskID: "t_1", durationMs: 0), "api", "u_3"),
        ]
        for round in 0..<2 {
            for (offset, example) in unusual.enumerated() {
                let time = day.adding(microseconds: Int64(7_200_000_000 + round * 60_000_000 + offset * 1_000_000))
                events.append(CatalogueExamples.event(example.0, at: time, service: example.service, userID: example.user))
            }
        }
        try await SQLiteEventStore(database: database).write(events)

        // What each aggregate reads, per DESIGN.md §5: a property is read only for
        // the event types whose aggregate uses it.
        func expected(_ event: EnrichedEvent) -> EventFact {
            var fact = EventFact(event)
            let type = event.name
            if !["api_request", "task_completed"].contains(type) { fact.durationMs = nil }
            if type != "api_request" { (fact.statusCode, fact.method, fact.route) = (nil, nil, nil) }
            if !(type.hasPrefix("integration_") || type.hasPrefix("oauth_flow_")) { fact.provider = nil }
            if type != "application_error" { fact.errorType = nil }
            if !type.hasPrefix("cocoon_") { fact.cocoonID = nil }
            if type != "auth_login_attempt" { fact.success = nil }
            return fact
        }
        let read = try await SQLiteAggregateStore(database: database).facts(onDay: day).sorted { $0.timestamp < $1.timestamp }
        let written = events.map(expected).sorted { $0.timestamp < $1.timestamp }
        #expect(read.count == written.count)
        for (got, want) in zip(read, written) { #expect(got == want) }
        #expect(read.contains { $0.route == "/v1/équipes/:id/membres-actifs" && $0.statusCode == 503 && $0.durationMs == 12.25 })
    }

    @Test("refresh is idempotent: running it twice leaves the same rows")
    func idempotent() async throws {
        let f = try await Self.fixture()
        defer { f.directory.remove() }
        let first = try await f.aggregates.apiLatency(from: Self.from, to: Self.to, service: nil)
        let users = try await f.aggregates.activeUsers(from: Self.from, to: Self.to, service: nil)
        try await f.refresher.refresh(from: Self.from, to: Self.to, now: Self.end)
        #expect(try await f.aggregates.apiLatency(from: Self.from, to: Self.to, service: nil) == first)
        #expect(try await f.aggregates.activeUsers(from: Self.from, to: Self.to, service: nil) == users)
    }
}
