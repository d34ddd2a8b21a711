@testable import Tally
import Testing

@Suite("Reading a batch's contexts")
struct EventContextReaderTests {
    static let device: JSONObject = [
        "library": ["name": "analytics-swift", "version": "1.5.11"],
        "os": ["name": "iOS", "version": "18.1"],
        "app": ["version": "2.3.1", "build": "231"],
        "locale": "en-GB",
    ]

    static func message(_ index: Int, context: JSONObject) -> JSONObject {
        ["type": "track", "event": "custom_thing", "messageId": .string("m-\(index)"), "userId": "u_1",
         "timestamp": "2026-11-23T08:00:00Z", "context": .object(context)]
    }

    @Test("messages with equal contexts share one box, equal to reading each alone; a different context gets its own")
    func equalContextsShareOneBox() throws {
        var other = Self.device
        other["locale"] = "de-DE"
        // sessionId and service are left out of the context (and out of the
        // comparison), so they do not stop messages of one device from sharing.
        var withSession = Self.device
        withSession["sessionId"] = "s_2"
        // One field more than the context before; then as many fields as the
        // one before once `service` is left out, but not the same: neither is
        // the context before.
        var wider = Self.device
        wider["timezone"] = "Europe/London"
        var swapped = Self.device
        swapped["locale"] = nil
        swapped["timezone"] = "Europe/London"
        swapped["service"] = "api"
        let contexts: [JSONObject] = [Self.device, withSession, Self.device, other, other, wider, Self.device, swapped]
        let arrival = Timestamp(iso8601: "2026-11-23T08:00:01Z")!

        var reader = EventContextReader()
        let shared = try contexts.enumerated().map { index, context in
            try EnrichedEvent(wire: Self.message(index, context: context), receivedAt: arrival, contexts: &reader)
        }
        let alone = try contexts.enumerated().map { index, context in
            try EnrichedEvent(wire: Self.message(index, context: context), receivedAt: arrival)
        }

        #expect(shared == alone)
        #expect(shared[1].sessionID == "s_2")
        #expect(shared[0].context.sharesStorage(with: shared[1].context))
        #expect(shared[0].context.sharesStorage(with: shared[2].context))
        #expect(!shared[2].context.sharesStorage(with: shared[3].context))
        #expect(shared[3].context.sharesStorage(with: shared[4].context))
        #expect(shared[3].context.locale == "de-DE")
        #expect(!alone[0].context.sharesStorage(with: alone[2].context))
        #expect(!shared[4].context.sharesStorage(with: shared[5].context))
        #expect(!shared[6].context.sharesStorage(with: shared[7].context))
        #expect(shared[7].service == "api")
        #expect(shared[7].context.json["service"] == nil)
    }

    @Test("a context read with other keys left out than the one before is not taken for it")
    func otherLeftOutKeys() {
        var reader = EventContextReader()
        let first = reader.context(from: ["service": "x"])
        let second = reader.context(from: ["service": "x", "locale": "en-GB"], leavingOut: ["service"])
        #expect(!first.sharesStorage(with: second))
        #expect(second.locale == "en-GB")
        #expect(second.json["service"] == nil)
    }
}
