import Foundation
import Tally
import TallyDevice
import TallyTesting
import Testing

@Suite("HTTP collector transport")
struct HTTPCollectorTransportTests {
    static let events = CatalogueExamples.enrichedAll(startingAt: Timestamp(iso8601: "2026-11-23T13:00:00Z")!)

    static func transport(_ url: URL, timeout: Duration = .seconds(5)) -> HTTPCollectorTransport {
        var configuration = HTTPCollectorTransport.Configuration(collectorURL: url, writeKey: DeviceFixture.writeKey)
        configuration.timeout = timeout
        return HTTPCollectorTransport(configuration: configuration)
    }

    @Test("posts a gzip Segment batch to /v1/batch with the write key as Basic user and an empty password")
    func requestShape() async throws {
        let server = try LocalHTTPServer(responses: [.init(status: 200, body: #"{"success":true}"#)])
        defer { server.stop() }
        let before = Timestamp.now()

        let outcome = await Self.transport(server.baseURL).send(Self.events)

        #expect(outcome == .delivered)
        let request = try #require(server.requests.first)
        #expect(server.requests.count == 1)
        #expect(request.method == "POST")
        #expect(request.path == "/v1/batch")
        #expect(request.header("Content-Type") == "application/json")
        #expect(request.header("Content-Encoding") == "gzip")
        #expect(request.body.prefix(2) == [0x1F, 0x8B])

        let authorization = try #require(request.header("Authorization"))
        #expect(authorization.hasPrefix("Basic "))
        let credentials = try #require(Data(base64Encoded: String(authorization.dropFirst(6))))
        #expect(String(decoding: credentials, as: UTF8.self) == "\(DeviceFixture.writeKey):")

        let json = try request.json()
        #expect(json["writeKey"] == nil, "the write key travels only in the Authorization header")
        let sentAt = try #require(json["sentAt"]?.stringValue.flatMap { Timestamp(iso8601: $0) })
        #expect(sentAt >= before.adding(microseconds: -1_000))
        let batch = try #require(json["batch"]?.arrayValue)
        #expect(batch.count == Self.events.count)
        for (message, event) in zip(batch, Self.events) {
            #expect(message["type"] == "track")
            #expect(message["event"]?.stringValue == event.name)
            #expect(message["messageId"]?.stringValue == event.eventID.uuidString)
            #expect(message["properties"] == .object(event.properties))
            #expect(message["timestamp"]?.stringValue == event.timestamp.iso8601)
            #expect(message["userId"]?.stringValue == event.userID)
            #expect(message["context"]?["service"]?.stringValue == event.service)
        }
    }

    @Test("a collector URL with a path prefix keeps it")
    func pathPrefix() async throws {
        let server = try LocalHTTPServer(responses: [.init(status: 200)])
        defer { server.stop() }
        _ = await Self.transport(server.baseURL.appendingPathComponent("ingest")).send(Array(Self.events.prefix(1)))
        #expect(server.requests.map(\.path) == ["/ingest/v1/batch"])
    }

    @Test("responses map to outcomes", arguments: [
        (200, [(String, String)](), DeliveryOutcome.delivered),
        (204, [], .delivered),
        (413, [], .tooLarge),
        (429, [("Retry-After", "7")], .retryLater(after: .seconds(7), reason: "the collector answered 429")),
        (503, [], .retryLater(after: nil, reason: "the collector answered 503")),
        (500, [("Retry-After", "soon")], .retryLater(after: nil, reason: "the collector answered 500")),
        (400, [], .rejected(status: 400, message: #"{"error":"bad batch"}"#)),
        (401, [], .rejected(status: 401, message: #"{"error":"bad batch"}"#)),
    ] as [(Int, [(String, String)], DeliveryOutcome)])
    func outcomes(status: Int, headers: [(String, String)], expected: DeliveryOutcome) async throws {
        let server = try LocalHTTPServer(responses: [
            .init(status: status, headers: headers.map { (name: $0.0, value: $0.1) }, body: status >= 400 ? #"{"error":"bad batch"}"# : ""),
        ])
        defer { server.stop() }
        #expect(await Self.transport(server.baseURL).send(Array(Self.events.prefix(2))) == expected)
        #expect(server.requests.count == 1)
    }

    @Test("Retry-After as an HTTP-date is honoured")
    func retryAfterDate() async throws {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let start = Date()
        let date = formatter.string(from: start.addingTimeInterval(30))
        let server = try LocalHTTPServer(responses: [.init(status: 503, headers: [(name: "Retry-After", value: date)])])
        defer { server.stop() }

        let outcome = await Self.transport(server.baseURL).send(Array(Self.events.prefix(1)))

        guard case .retryLater(let after?, _) = outcome else {
            Issue.record("expected retryLater with a delay, got \(outcome)")
            return
        }
        // Whole seconds in the header (up to 1 s lost), and however long the round
        // trip took on this machine passes before the response is read.
        let elapsed = Date().timeIntervalSince(start)
        #expect(after > .seconds(29 - elapsed - 0.05) && after <= .seconds(30), "elapsed \(elapsed) s")
    }

    @Test("a closed port is a transient network error")
    func closedPort() async throws {
        let server = try LocalHTTPServer(responses: [.init(status: 200)])
        server.stop()
        let outcome = await Self.transport(server.baseURL).send(Array(Self.events.prefix(1)))
        guard case .retryLater(nil, let reason) = outcome else {
            Issue.record("expected retryLater without a delay, got \(outcome)")
            return
        }
        #expect(reason.contains("network error"))
    }

    @Test("a collector slower than the timeout is a transient error")
    func timeout() async throws {
        let server = try LocalHTTPServer(responses: [.init(status: 200, delay: .seconds(3))])
        defer { server.stop() }
        let outcome = await Self.transport(server.baseURL, timeout: .milliseconds(500)).send(Array(Self.events.prefix(1)))
        guard case .retryLater(nil, _) = outcome else {
            Issue.record("expected retryLater, got \(outcome)")
            return
        }
    }
}
