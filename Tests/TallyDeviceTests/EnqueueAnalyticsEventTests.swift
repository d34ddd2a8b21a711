import Tally
import TallyDevice
import TallySQLite
import TallyTesting
import Testing

@Suite("Queueing events on the device")
struct EnqueueAnalyticsEventTests {
    @Test("an event is validated, enriched and queued durably")
    func enrichesAndQueues() async throws {
        let fixture = try await DeviceFixture.make()
        defer { fixture.remove() }
        let enqueue = fixture.enqueue()
        let before = Timestamp.now()

        let result = try await AnalyticsContext.$current.withValue(AnalyticsContext(userID: "u_ctx_7", sessionID: "s_42")) {
            try await enqueue.execute(AnalyticsEvent.taskStarted(taskID: "t_8f3k2m"))
        }

        let id = try #require(result.eventID)
        #expect(result.trimmed == 0)
        #expect(id.version == 7)
        let row = try #require(try await fixture.queue.peek(limit: 10).first)
        #expect(row.event.eventID == id)
        #expect(row.event.name == "task_started")
        #expect(row.event.properties == ["task_id": "t_8f3k2m"])
        #expect(row.event.userID == "u_ctx_7", "user from the task-local context")
        #expect(row.event.sessionID == "s_42")
        #expect(row.event.service == "ios-app")
        #expect(row.event.context.appVersion == "2.4.1")
        #expect(row.event.timestamp >= before && row.event.timestamp <= .now())
        #expect(row.attempts == 0)

        // An explicit user wins over the context.
        let explicit = try await AnalyticsContext.$current.withValue(AnalyticsContext(userID: "u_ctx_7")) {
            try await enqueue.execute(CustomEvent("report_exported", properties: ["rows": 120]), userID: "u_arg_1")
        }
        let rows = try await fixture.queue.peek(limit: 10)
        #expect(rows.last?.event.eventID == explicit.eventID)
        #expect(rows.last?.event.userID == "u_arg_1")
    }

    @Test("an invalid event is reported, not thrown, and not queued")
    func invalid() async throws {
        let fixture = try await DeviceFixture.make()
        defer { fixture.remove() }
        let enqueue = fixture.enqueue()

        let pii = try await enqueue.execute(CustomEvent("invite_sent", properties: ["to": "jane.doe@example.com"]))
        let badStatus = try await enqueue.execute(
            AnalyticsEvent.apiRequest(method: "GET", route: "/v1/tasks", statusCode: 999, durationMs: 1))
        let badUser = try await enqueue.execute(CustomEvent("x_event"), userID: "has spaces")

        guard case .invalid(let piiError) = pii, case .invalid(let statusError) = badStatus, case .invalid(let userError) = badUser else {
            Issue.record("expected three invalid results, got \(pii), \(badStatus), \(badUser)")
            return
        }
        #expect(piiError.code == .personalData)
        #expect(statusError.field == "properties.status_code")
        #expect(userError.field == "userId")
        #expect(try await PendingAnalyticsCountUseCase(queue: fixture.queue).execute() == 0)
    }

    @Test("beyond maxQueueSize the oldest entries are trimmed and counted")
    func boundedBySize() async throws {
        let fixture = try await DeviceFixture.make()
        defer { fixture.remove() }
        let enqueue = fixture.enqueue(maxQueueSize: 5)
        var ids: [EventID] = []
        var trimmed: [Int] = []
        for i in 0..<8 {
            let result = try await enqueue.execute(AnalyticsEvent.searchPerformed(resultsCount: i, queryLength: 1))
            ids.append(try #require(result.eventID))
            trimmed.append(result.trimmed)
        }

        #expect(trimmed == [0, 0, 0, 0, 0, 1, 1, 1])
        #expect(try await fixture.queue.count() == 5)
        #expect(try await fixture.queue.peek(limit: 10).map(\.event.eventID) == Array(ids.suffix(5)), "the newest five are kept")
    }

    @Test("entries older than maxAge are trimmed and counted")
    func boundedByAge() async throws {
        let fixture = try await DeviceFixture.make()
        defer { fixture.remove() }
        // Wide margins: each enqueue also trims, so the three must land well within
        // maxAge even on a loaded 2-core machine (3 s was seen to be too short).
        let enqueue = fixture.enqueue(maxAge: .seconds(10))
        _ = try await fixture.queueEvents(3, using: enqueue)
        try await Task.sleep(for: .milliseconds(10_200))

        let result = try await enqueue.execute(AnalyticsEvent.authLogout)

        #expect(result.trimmed == 3)
        #expect(try await fixture.queue.peek(limit: 10).map(\.event.eventID) == [try #require(result.eventID)])
    }

    @Test("the pending count follows enqueue and flush")
    func pendingCount() async throws {
        let fixture = try await DeviceFixture.make()
        defer { fixture.remove() }
        let server = try LocalHTTPServer(responses: [.init(status: 200)])
        defer { server.stop() }
        let pending = PendingAnalyticsCountUseCase(queue: fixture.queue)
        #expect(try await pending.execute() == 0)

        _ = try await fixture.queueEvents(7)
        #expect(try await pending.execute() == 7)

        let report = await fixture.flush(to: server, batchSize: 3).execute()
        #expect(report.sent == 7)
        #expect(try await pending.execute() == 0)
    }
}
