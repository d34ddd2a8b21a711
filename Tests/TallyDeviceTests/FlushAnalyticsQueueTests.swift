import Foundation
import Tally
import TallyGzip
import TallyDevice
import TallySQLite
import TallyTesting
import Testing

@Suite("Flushing the device queue over HTTP")
struct FlushAnalyticsQueueTests {
    @Test("500, then 429 with Retry-After, then 413, then 200: nothing lost, nothing sent twice")
    func failureSequence() async throws {
        let fixture = try await DeviceFixture.make()
        defer { fixture.remove() }
        let server = try LocalHTTPServer(responses: [
            .init(status: 500, body: "database down"),
            .init(status: 429, headers: [(name: "Retry-After", value: "10")]),
            .init(status: 413),
            .init(status: 413),
            .init(status: 200, body: #"{"success":true}"#),
        ])
        defer { server.stop() }
        let queued = try await fixture.queueEvents(10)
        // Backoffs of 5–10 s (with jitter) and Retry-After: 10, on a clock the test
        // moves: no waiting, and "early" is exactly early.
        let clock = ManualFlushClock()
        let flush = fixture.flush(to: server, initialBackoff: .seconds(10), clock: clock.clock)

        // 500: nothing removed, the attempt noted on every row, a retry scheduled.
        let first = await flush.execute()
        #expect(first.status == .retryScheduled(reason: "the collector answered 500"))
        #expect(first.sent == 0 && first.remaining == 10)
        #expect(try await fixture.queue.peek(limit: 100).map(\.attempts) == Array(repeating: 1, count: 10))
        let firstRetry = try #require(first.nextRetryAt)

        #expect(firstRetry >= clock.now.adding(microseconds: 5_000_000) && firstRetry <= clock.now.adding(microseconds: 10_000_000))

        // Before the deadline, up to its last microsecond: nothing is sent.
        let early = await flush.execute()
        #expect(early.status == .backingOff)
        #expect(early.nextRetryAt == firstRetry)
        clock.move(to: firstRetry.adding(microseconds: -1))
        #expect(await flush.execute().status == .backingOff)
        #expect(server.requests.count == 1)

        // 429 with Retry-After: 10 → no retry for at least ten seconds.
        clock.move(to: firstRetry.adding(microseconds: 1_000))
        let beforeSecond = clock.now
        let second = await flush.execute()
        #expect(second.status == .retryScheduled(reason: "the collector answered 429"))
        let secondRetry = try #require(second.nextRetryAt)
        #expect(secondRetry >= beforeSecond.adding(microseconds: 10_000_000))
        #expect(try await fixture.queue.peek(limit: 100).map(\.attempts) == Array(repeating: 2, count: 10))
        #expect(server.requests.count == 2)

        clock.move(to: beforeSecond.adding(microseconds: 9_999_000))
        #expect(await flush.execute().status == .backingOff, "part way through Retry-After")
        #expect(server.requests.count == 2)

        // 413 on 10 → halves of 5; 413 on the first half → 2 + 3; then 200 for the rest.
        clock.move(to: secondRetry.adding(microseconds: 1_000))
        let third = await flush.execute()
        #expect(third.status == .drained)
        #expect(third.sent == 10 && third.dropped == 0 && third.remaining == 0)
        #expect(try await fixture.queue.count() == 0)

        let requests = server.requests
        #expect(requests.map(\.answeredStatus) == [500, 429, 413, 413, 200, 200, 200])
        #expect(try requests.map { try $0.messageIDs().count } == [10, 10, 10, 5, 2, 3, 5])
        let delivered = try requests.filter { $0.answeredStatus == 200 }.flatMap { try $0.messageIDs() }
        #expect(delivered.count == queued.count, "each event delivered exactly once")
        #expect(Set(delivered) == Set(queued.map(\.uuidString)))
        #expect(delivered == queued.map(\.uuidString), "in queue order")

        // A later flush has nothing to send and sends nothing.
        let after = await flush.execute()
        #expect(after.status == .drained && after.requests == 0)
        #expect(server.requests.count == 7)

        for request in requests {
            #expect(request.path == "/v1/batch")
            #expect(request.header("Content-Encoding") == "gzip")
            let json = try request.json()
            #expect(json["sentAt"]?.stringValue != nil)
            for message in json["batch"]?.arrayValue ?? [] {
                #expect(message["type"] == "track")
                #expect(message["event"] == "search_performed")
                #expect(message["properties"]?["query_length"] == 3)
                #expect(message["timestamp"]?.stringValue.flatMap { Timestamp(iso8601: $0) } != nil)
                #expect(message["userId"] == "u_device_1")
            }
        }
    }

    @Test("400: the rows are dropped for good and counted; the flush goes on")
    func permanentRejection() async throws {
        let fixture = try await DeviceFixture.make()
        defer { fixture.remove() }
        let server = try LocalHTTPServer(responses: [
            .init(status: 400, body: #"{"error":"batch[0].event: must be a string"}"#),
            .init(status: 200),
        ])
        defer { server.stop() }
        _ = try await fixture.queueEvents(5)
        let kept = try await fixture.queueEvents(3)
        let flush = fixture.flush(to: server, batchSize: 5)

        let report = await flush.execute()

        #expect(report.status == .drained)
        #expect(report.droppedRejected == 5)
        #expect(report.sent == 3)
        #expect(report.remaining == 0)
        #expect(server.requests.map(\.answeredStatus) == [400, 200])
        #expect(try server.requests[1].messageIDs() == kept.map(\.uuidString))
        // Dropped for good: another flush does not send them again.
        #expect(await flush.execute().requests == 0)
        #expect(server.requests.count == 2)
    }

    @Test("a network error keeps the rows and records the attempt")
    func networkError() async throws {
        let fixture = try await DeviceFixture.make()
        defer { fixture.remove() }
        let server = try LocalHTTPServer(responses: [.init(status: 200)])
        server.stop()  // the port is now closed: connections are refused
        let queued = try await fixture.queueEvents(4)
        let flush = fixture.flush(to: server)

        let report = await flush.execute()

        guard case .retryScheduled(let reason) = report.status else {
            Issue.record("expected a scheduled retry, got \(report.status)")
            return
        }
        #expect(reason.contains("network error"))
        #expect(report.sent == 0 && report.dropped == 0 && report.remaining == 4)
        #expect(report.nextRetryAt != nil)
        let rows = try await fixture.queue.peek(limit: 10)
        #expect(rows.map(\.event.eventID) == queued)
        #expect(rows.allSatisfy { $0.attempts == 1 })
    }

    @Test("the collector coming back after a network error gets everything once")
    func recovery() async throws {
        let fixture = try await DeviceFixture.make()
        defer { fixture.remove() }
        let server = try LocalHTTPServer(responses: [.init(status: 200)])
        defer { server.stop() }
        let queued = try await fixture.queueEvents(250)
        // A port nothing listens on, then the real server: same queue, two transports.
        let closed = try LocalHTTPServer(responses: [.init(status: 200)])
        closed.stop()
        #expect(await fixture.flush(to: closed).execute().remaining == 250)

        let report = await fixture.flush(to: server, batchSize: 100).execute()

        #expect(report.sent == 250 && report.remaining == 0)
        #expect(try server.requests.map { try $0.messageIDs().count } == [100, 100, 50])
        #expect(try server.requests.flatMap { try $0.messageIDs() } == queued.map(\.uuidString))
    }

    @Test("a single event still too large after splitting is dropped and counted")
    func tooLargeAlone() async throws {
        let fixture = try await DeviceFixture.make()
        defer { fixture.remove() }
        let server = try LocalHTTPServer(responses: [.init(status: 413)])
        defer { server.stop() }
        _ = try await fixture.queueEvents(3)

        let report = await fixture.flush(to: server).execute()

        #expect(report.droppedTooLarge == 3)
        #expect(report.sent == 0 && report.remaining == 0)
        // 3 → 1 + 2 → 1 + 1: five requests, each single event tried alone once.
        #expect(try server.requests.map { try $0.messageIDs().count } == [3, 1, 2, 1, 1])
    }

    @Test("requests stay under the request size limit")
    func requestSizeLimit() async throws {
        let fixture = try await DeviceFixture.make()
        defer { fixture.remove() }
        let server = try LocalHTTPServer(responses: [.init(status: 200)])
        defer { server.stop() }
        // ~20 KB of random text each (so gzip cannot shrink the bodies much): 30 events
        // are ~600 KB, more than one request of 500 KB.
        let enqueue = fixture.enqueue()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789 ")
        for i in 0..<30 {
            let chunk = String((0..<20_000).map { _ in alphabet.randomElement()! })
            let properties: JSONObject = ["chunk": .string(chunk), "index": .int(i)]
            #expect(try await enqueue.execute(CustomEvent("bulk_export", properties: properties)).eventID != nil)
        }

        let report = await fixture.flush(to: server).execute()

        #expect(report.sent == 30)
        #expect(server.requests.count == 2)
        for request in server.requests {
            #expect(try Gzip.decompress(request.body).count <= 500 * 1024)
            #expect(request.body.count > 50 * 1024, "large bodies arrive whole")
        }
        #expect(try server.requests.map { try $0.messageIDs().count }.reduce(0, +) == 30)
    }

    @Test("a flush started while one is running returns at once and sends nothing")
    func concurrentFlush() async throws {
        let fixture = try await DeviceFixture.make()
        defer { fixture.remove() }
        let server = try LocalHTTPServer(responses: [.init(status: 200, delay: .milliseconds(700))])
        defer { server.stop() }
        _ = try await fixture.queueEvents(5)
        let flush = fixture.flush(to: server)

        async let first = flush.execute()
        #expect(await eventually(timeout: .seconds(10)) { server.requests.count == 1 })
        let second = await flush.execute()

        #expect(second.status == .alreadyRunning)
        #expect(second.requests == 0)
        #expect(await first.sent == 5)
        #expect(server.requests.count == 1)
    }
}
