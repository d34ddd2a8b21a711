import Tally
import TallyDevice
import TallySQLite
import TallyTesting
import Testing

@Suite("Opting out of analytics on the device")
struct OptOutTests {
    @Test("opted out: enqueue writes nothing, flush sends nothing, queued rows stay; opting back in sends them")
    func optOutAndBackIn() async throws {
        let fixture = try await DeviceFixture.make()
        defer { fixture.remove() }
        let server = try LocalHTTPServer(responses: [.init(status: 200)])
        defer { server.stop() }
        let enqueue = fixture.enqueue()
        let flush = fixture.flush(to: server)
        let pending = PendingAnalyticsCountUseCase(queue: fixture.queue)
        #expect(try await fixture.settings.isEnabled(), "enabled by default")
        let before = try await fixture.queueEvents(3, using: enqueue)

        try await fixture.settings.setEnabled(false)
        #expect(try await fixture.settings.isEnabled() == false)
        let skipped = try await enqueue.execute(AnalyticsEvent.pageView(path: "/settings/privacy", referrer: nil))
        let skippedCustom = try await enqueue.execute(CustomEvent("opted_out_event"), userID: "u_device_1")

        #expect(skipped == .skippedAnalyticsDisabled)
        #expect(skippedCustom == .skippedAnalyticsDisabled)
        #expect(try await pending.execute() == 3, "nothing written while opted out")

        let report = await flush.execute()
        #expect(report.status == .analyticsDisabled)
        #expect(report.sent == 0 && report.remaining == 3)
        #expect(server.requests.isEmpty, "the collector saw no request")
        #expect(try await fixture.queue.peek(limit: 10).map(\.event.eventID) == before, "rows queued before opting out are kept")

        // The setting is persisted: a fresh handle on the same file still sees it.
        let reopened = SQLiteAnalyticsSettings(database: try SQLiteDatabase(path: fixture.database.path))
        #expect(try await reopened.isEnabled() == false)

        try await fixture.settings.setEnabled(true)
        let resumed = await flush.execute()
        #expect(resumed.status == .drained)
        #expect(resumed.sent == 3 && resumed.remaining == 0)
        #expect(server.requests.count == 1)
        #expect(try server.requests[0].messageIDs() == before.map(\.uuidString))
    }

    @Test("opting out mid-flush stops before the next request")
    func optOutBetweenBatches() async throws {
        let fixture = try await DeviceFixture.make()
        defer { fixture.remove() }
        let server = try LocalHTTPServer(responses: [.init(status: 200, delay: .milliseconds(500))])
        defer { server.stop() }
        _ = try await fixture.queueEvents(30)
        let flush = fixture.flush(to: server, batchSize: 10)

        async let report = flush.execute()
        #expect(await eventually(timeout: .seconds(10)) { server.requests.count == 1 })
        try await fixture.settings.setEnabled(false)
        let finished = await report

        #expect(finished.status == .analyticsDisabled)
        #expect(finished.sent == 10 && finished.remaining == 20)
        #expect(server.requests.count == 1)
    }
}
