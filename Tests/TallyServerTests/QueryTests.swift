import Hummingbird
import HummingbirdTesting
import Tally
import TallyServer
import TallyTesting
import Testing

/// Known traffic on one past day, sent through the ingest API.
enum Fixture {
    static let secondUser = "u_second_77aa"

    /// Every catalogue example (user ``CatalogueExamples/userID``, service "api"),
    /// a second user's completed task, login and failing API request, and six
    /// `checkout_started` events for the trends.
    static func events(on day: Timestamp) -> [EnrichedEvent] {
        let start = day.adding(microseconds: 9 * Timestamp.microsecondsPerHour)
        let later = start.adding(microseconds: 2 * Timestamp.microsecondsPerHour)
        var events = CatalogueExamples.enrichedAll(startingAt: start)
        events.append(CatalogueExamples.event(.taskCompleted(taskID: "t_2b", durationMs: 600), at: later, userID: secondUser))
        events.append(CatalogueExamples.event(.authLoginAttempt(success: true, method: "password", failureReason: nil),
                                              at: later.adding(microseconds: 1_000_000), userID: secondUser))
        events.append(CatalogueExamples.event(.apiRequest(method: "GET", route: "/v1/tasks/:id", statusCode: 503, durationMs: 120),
                                              at: later.adding(microseconds: 2_000_000), userID: secondUser))
        return events
    }

    /// (user, plan) of the `checkout_started` events: pro ×3 by 2 users, free ×2 by 2, one without a plan.
    static let checkouts: [(user: String, plan: String?)] = [
        ("u_a", "pro"), ("u_a", "pro"), ("u_b", "pro"), ("u_c", "free"), ("u_d", "free"), ("u_e", nil),
    ]

    static func checkoutMessages(on day: Timestamp) -> [JSONValue] {
        let time = day.adding(microseconds: 12 * Timestamp.microsecondsPerHour)
        return checkouts.enumerated().map { i, checkout in
            Messages.track("checkout_started", properties: checkout.plan.map { ["plan": .string($0)] } ?? [:],
                           userId: checkout.user, at: time.adding(microseconds: Int64(i) * 1_000_000))
        }
    }

    static var count: Int { events(on: testDay()).count + checkouts.count }

    /// Sends the fixture through `/v1/batch` and refreshes that day's aggregates.
    static func ingest(_ client: some TestClientProtocol, harness: ServerHarness, day: Timestamp = testDay()) async throws {
        let key = try await harness.makeKey(.write, service: "api")
        let messages = events(on: day).map(Messages.wire) + checkoutMessages(on: day)
        let response = try await client.send(.post, "/v1/batch", key: key, json: Messages.batch(messages))
        #expect(response.status == .ok)
        #expect(try response.json()["stored"] == .int(messages.count), "\(response.text)")
        try await harness.server.refresher.refresh(from: day, to: day.adding(days: 1))
    }
}

@Suite("Query API")
struct QueryTests {
    @Test("every /v1/metrics route answers from the refreshed aggregates with the values that were sent")
    func metricsRoutes() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.read)
            let day = testDay()
            let range = "from=\(day.dateString)&to=\(day.dateString)"
            try await harness.live { client in
                try await Fixture.ingest(client, harness: harness, day: day)
                func metrics(_ name: String, _ query: String = "") async throws -> JSONValue {
                    let response = try await client.get("/v1/metrics/\(name)?\(range)\(query)", key: key)
                    #expect(response.status == .ok, "\(name): \(response.text)")
                    let body = try response.json()
                    #expect(body["aggregate"] == .string(name))
                    return body
                }

                let active = try await metrics("active-users", "&service=api")
                #expect(active.rows.count == 1)
                #expect(active.rows.first?["day"] == .string(day.dateString))
                #expect(active.rows.first?["service"] == "api")
                // The catalogue user, the second user and the five who started a checkout.
                #expect(active.rows.first?["dau"] == 7)
                let tasks = try await metrics("tasks")
                let taskRow = try #require(tasks.rows.first)
                #expect(taskRow["created"] == 1)
                #expect(taskRow["started"] == 1)
                #expect(taskRow["completed"] == 2)
                #expect(taskRow["failed"] == 1)
                #expect(taskRow["cancelled"] == 1)
                #expect(taskRow["duration_p50"]?.doubleValue == (600 + 1_840.5) / 2)
                #expect(tasks["summary"]?["completed"] == 2)

                let latency = try await metrics("api-latency", "&route=/v1/tasks/:id&method=GET")
                #expect(latency.rows.count == 2, "two hours")
                #expect(latency["summary"]?["requests"] == 2)
                #expect(latency["summary"]?["errors_5xx"] == 1)
                #expect(latency["summary"]?["errors_4xx"] == 0)
                #expect(latency["summary"]?["latency_max"]?.doubleValue == 120)

                let integrations = try await metrics("integrations")
                let providers = Dictionary(uniqueKeysWithValues: integrations.rows.compactMap { row in row["provider"]?.stringValue.map { ($0, row) } })
                #expect(Set(providers.keys) == ["github", "slack", "google"])
                #expect(providers["github"]?["connected"] == 1)
                #expect(providers["github"]?["used"] == 1)
                #expect(providers["slack"]?["disconnected"] == 1)
                #expect(providers["slack"]?["errors"] == 1)
                #expect(providers["google"]?["oauth_started"] == 1)
                #expect(providers["google"]?["oauth_completed"] == 1)
                let onlyGitHub = try await metrics("integrations", "&provider=github")
                #expect(onlyGitHub.rows.compactMap { $0["provider"]?.stringValue } == ["github"])

                let auth = try await metrics("auth")
                let authRow = try #require(auth.rows.first)
                #expect(authRow["login_attempts"] == 2)
                #expect(authRow["login_successes"] == 1)
                #expect(authRow["login_failures"] == 1)
                #expect(authRow["codes_verified"] == 1)
                #expect(authRow["token_refreshes"] == 1)
                #expect(authRow["sessions_validated"] == 1)
                #expect(authRow["logouts"] == 1)

                let cocoons = try await metrics("cocoons")
                let cocoonRow = try #require(cocoons.rows.first)
                for column in ["registered", "connected", "disconnected", "claimed", "setup_tokens_created", "setup_tokens_used"] {
                    #expect(cocoonRow[column] == 1, "\(column)")
                }

                let errors = try await metrics("errors")
                #expect(errors.rows.reduce(0) { $0 + ($1["errors"]?.intValue ?? 0) } == 4)
                let decoding = try await metrics("errors", "&error_type=DecodingError")
                #expect(decoding.rows.count == 1)
                #expect(decoding.rows.first?["errors"] == 1)

                // Another service's filter sees nothing.
                let none = try await metrics("tasks", "&service=nobody")
                #expect(none.rows.isEmpty)
            }
        }
    }

    @Test("bad parameters get 400 naming the parameter; a write key on a read route gets 403; no key gets 401")
    func badRequests() async throws {
        try await ServerHarness.with { harness in
            let read = try await harness.makeKey(.read)
            let write = try await harness.makeKey(.write)
            try await harness.live { client in
                let badFrom = try await client.get("/v1/metrics/tasks?from=yesterday", key: read)
                #expect(badFrom.status == .badRequest)
                #expect(badFrom.errorCode == "invalid_parameter")
                #expect(badFrom.errorMessage.contains("'from'"), "\(badFrom.errorMessage)")

                let reversed = try await client.get("/v1/metrics/auth?from=2026-11-20&to=2026-11-01", key: read)
                #expect(reversed.status == .badRequest)
                #expect(reversed.errorMessage.contains("'from'"))

                let badLimit = try await client.get("/v1/events?limit=0", key: read)
                #expect(badLimit.status == .badRequest)
                #expect(badLimit.errorMessage.contains("'limit'"))

                let badCursor = try await client.get("/v1/events?cursor=nonsense", key: read)
                #expect(badCursor.status == .badRequest)
                #expect(badCursor.errorMessage.contains("'cursor'"))

                let noEvent = try await client.get("/v1/trends", key: read)
                #expect(noEvent.status == .badRequest)
                #expect(noEvent.errorMessage.contains("'event'"))

                let badFormat = try await client.get("/v1/export?format=xml", key: read)
                #expect(badFormat.status == .badRequest)
                #expect(badFormat.errorMessage.contains("'format'"))

                for route in ["/v1/metrics/active-users", "/v1/events", "/v1/trends?event=x", "/v1/export"] {
                    let forbidden = try await client.get(route, key: write)
                    #expect(forbidden.status == .forbidden, "\(route)")
                    #expect(forbidden.errorCode == "wrong_scope", "\(route)")
                    let missing = try await client.get(route)
                    #expect(missing.status == .unauthorized, "\(route)")
                }
            }
        }
    }

    @Test("/v1/trends: count and unique users per day, with a breakdown by a property")
    func trends() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.read)
            let day = testDay()
            try await harness.live { client in
                try await Fixture.ingest(client, harness: harness, day: day)
                func points(_ query: String) async throws -> [JSONValue] {
                    let response = try await client.get("/v1/trends?event=checkout_started&from=\(day.dateString)&to=\(day.dateString)\(query)", key: key)
                    #expect(response.status == .ok, "\(response.text)")
                    let body = try response.json()
                    for point in body["points"]?.arrayValue ?? [] {
                        #expect(point["bucket"] == .string(day.iso8601))
                    }
                    return body["points"]?.arrayValue ?? []
                }
                func values(_ points: [JSONValue]) -> [String: Int] {
                    Dictionary(uniqueKeysWithValues: points.map { ($0["breakdown_value"]?.stringValue ?? "(none)", $0["value"]?.intValue ?? -1) })
                }

                let count = try await points("")
                #expect(count.compactMap { $0["value"]?.intValue } == [6])
                let unique = try await points("&measure=unique_users")
                #expect(unique.compactMap { $0["value"]?.intValue } == [5])
                #expect(values(try await points("&breakdown=plan")) == ["pro": 3, "free": 2, "(none)": 1])
                #expect(values(try await points("&breakdown=plan&measure=unique_users")) == ["pro": 2, "free": 2, "(none)": 1])
                let top = try await points("&breakdown=plan&limit=1")
                #expect(values(top) == ["pro": 3])

                let hourly = try await client.get("/v1/trends?event=task_completed&interval=hour&from=\(day.dateString)&to=\(day.dateString)", key: key)
                let hours = try hourly.json()["points"]?.arrayValue ?? []
                #expect(hours.compactMap { $0["value"]?.intValue } == [1, 1], "the catalogue's at 09:00 and the second user's at 11:00")

                let invalid = try await client.get("/v1/trends?event=checkout_started&breakdown=plan'--", key: key)
                #expect(invalid.status == .badRequest)
                #expect(invalid.errorMessage.contains("'breakdown'"))
            }
        }
    }

    @Test("/v1/events pages by next_cursor and returns every event exactly once")
    func eventPaging() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.read)
            try await harness.live { client in
                try await Fixture.ingest(client, harness: harness)
                var seen: [String] = []
                var cursor: String?
                var pages = 0
                repeat {
                    let uri = "/v1/events?limit=7" + (cursor.map { "&cursor=\($0)" } ?? "")
                    let response = try await client.get(uri, key: key)
                    #expect(response.status == .ok, "\(response.text)")
                    let body = try response.json()
                    let events = body["events"]?.arrayValue ?? []
                    #expect(events.count <= 7)
                    seen += events.compactMap { $0["messageId"]?.stringValue }
                    cursor = body["next_cursor"]?.stringValue
                    pages += 1
                } while cursor != nil && pages < 100
                let stored = try await harness.storedEvents()
                #expect(stored.count == Fixture.count)
                #expect(seen.count == stored.count, "no event twice")
                #expect(Set(seen) == Set(stored.map(\.eventID.uuidString)))
                #expect(seen == stored.map(\.eventID.uuidString), "oldest first")
                #expect(pages == (stored.count + 6) / 7)

                let filtered = try await client.get("/v1/events?event=checkout_started&user_id=u_a", key: key)
                let events = try filtered.json()["events"]?.arrayValue ?? []
                #expect(events.count == 2)
                #expect(events.allSatisfy { $0["event"] == "checkout_started" && $0["userId"] == "u_a" })
            }
        }
    }

    @Test("/v1/export streams every event as NDJSON and as CSV with its header")
    func export() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.read)
            try await harness.live { client in
                try await Fixture.ingest(client, harness: harness)
                let stored = Set(try await harness.storedEvents().map(\.eventID.uuidString))
                #expect(stored.count == Fixture.count)

                let ndjson = try await client.get("/v1/export", key: key)
                #expect(ndjson.status == .ok)
                #expect(ndjson.headers[.contentType]?.hasPrefix("application/x-ndjson") == true)
                let lines = ndjson.text.split(separator: "\n", omittingEmptySubsequences: false)
                #expect(lines.last == "", "ends with a newline")
                let records = try lines.dropLast().map { try JSONValue(parsing: String($0)) }
                #expect(records.count == Fixture.count)
                #expect(Set(records.compactMap { $0["messageId"]?.stringValue }) == stored)

                let csv = try await client.get("/v1/export?format=csv", key: key)
                #expect(csv.status == .ok)
                #expect(csv.headers[.contentType]?.hasPrefix("text/csv") == true)
                let rows = csv.text.split(separator: "\n")
                #expect(rows.first == "event_id,timestamp,received_at,event_type,service,user_id,anonymous_id,session_id,properties,context")
                #expect(rows.count == Fixture.count + 1)
                #expect(Set(rows.dropFirst().map { String($0.prefix(while: { $0 != "," })) }) == stored)

                let oneType = try await client.get("/v1/export?format=csv&event=checkout_started", key: key)
                #expect(oneType.text.split(separator: "\n").count == Fixture.checkouts.count + 1)
            }
        }
    }
}
