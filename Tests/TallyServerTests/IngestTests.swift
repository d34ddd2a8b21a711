import Foundation
import Hummingbird
import HummingbirdTesting
import Tally
import TallyGzip
import TallyServer
import TallyTesting
import Testing

/// The Segment-compatible ingest routes on a live server over SQLite, checked by
/// what the responses say and by what the store holds afterwards.
@Suite("Ingest")
struct IngestTests {
    @Test("/v1/batch stores every valid event under the write key's service, with its user and properties")
    func batchStoresEvents() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.write, service: "checkout")
            let time = Timestamp.now().adding(microseconds: -5_000_000)
            let messages: [JSONValue] = [
                Messages.track("checkout_started", properties: ["plan": "pro", "seats": 3], userId: "u_buyer_1", at: time),
                Messages.track("checkout_completed", properties: ["plan": "pro", "total_cents": 4_900, "coupon": .null],
                               userId: "u_buyer_2", at: time.adding(microseconds: 1_000)),
                Messages.track("task_completed", properties: ["task_id": "t_8f3k2m", "duration_ms": 1_840.5],
                               userId: "u_buyer_1", at: time.adding(microseconds: 2_000)),
            ]
            let response = try await harness.live { client in
                try await client.send(.post, "/v1/batch", key: key, json: Messages.batch(messages))
            }
            #expect(response.status == .ok)
            let body = try response.json()
            #expect(body["success"] == true)
            #expect(body["received"] == 3)
            #expect(body["accepted"] == 3)
            #expect(body["stored"] == 3)
            #expect(body["duplicates"] == 0)
            #expect(body["rejected"] == [])

            let stored = try await harness.storedEvents()
            #expect(stored.count == 3)
            for (message, event) in zip(messages, stored) {
                #expect(event.eventID.uuidString == message["messageId"]?.stringValue)
                #expect(event.name == message["event"]?.stringValue)
                #expect(event.service == "checkout")
                #expect(event.userID == message["userId"]?.stringValue)
                #expect(event.timestamp.iso8601 == message["timestamp"]?.stringValue)
            }
            #expect(stored[0].properties == ["plan": "pro", "seats": 3])
            #expect(stored[1].properties["total_cents"] == 4_900)
            #expect(stored[1].properties["plan"] == "pro")
            #expect(stored[2].payload == .catalogue(.taskCompleted(taskID: "t_8f3k2m", durationMs: 1_840.5)))
        }
    }

    @Test("a message cannot claim another service than its write key's: context.service is dropped, sessionId kept")
    func keyDecidesService() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.write, service: "checkout")
            let message = Messages.track("checkout_started", properties: ["plan": "pro"], at: Timestamp.now().adding(microseconds: -1_000_000),
                                         context: ["service": "billing", "sessionId": "s_42", "locale": "en-GB"])
            let response = try await harness.live { client in
                try await client.send(.post, "/v1/batch", key: key, json: Messages.batch([message]))
            }
            #expect(response.status == .ok)
            let stored = try await harness.storedEvents()
            #expect(stored.map(\.service) == ["checkout"])
            #expect(stored.first?.sessionID == "s_42")
            #expect(stored.first?.context.locale == "en-GB")
            // Neither is kept in the stored context.
            #expect(stored.first?.context.json.keys.sorted() == ["locale"])
        }
    }

    @Test("context.traits is never stored, whether or not the batch has a context of its own")
    func traitsAreNotStored() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.write)
            let time = Timestamp.now().adding(microseconds: -1_000_000)
            let context: JSONObject = ["traits": ["email": "jane@example.com"], "locale": "de-DE"]
            let alone = Messages.batch([Messages.track("app_opened", at: time, context: context)])
            let underBatch = Messages.batch([Messages.track("app_opened", at: time.adding(microseconds: 1), context: context)],
                                            extra: ["context": ["app": ["version": "3.1.0"]]])
            // One live server for both: the server's services run once.
            let statuses = try await harness.live { client in
                [try await client.send(.post, "/v1/batch", key: key, json: alone).status,
                 try await client.send(.post, "/v1/batch", key: key, json: underBatch).status]
            }
            #expect(statuses == [.ok, .ok])
            let stored = try await harness.storedEvents()
            #expect(stored.count == 2)
            for event in stored {
                #expect(event.context.json["traits"] == nil)
                #expect(event.context.locale == "de-DE")
            }
        }
    }

    @Test("each single route stores one event: track keeps its name; identify, page, screen, group and alias are named after the call")
    func singleRoutes() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.write, service: "web")
            let time = Timestamp.now().adding(microseconds: -2_000_000)
            func stamped(_ fields: JSONObject, offset: Int64) -> JSONValue {
                var message = fields
                message["messageId"] = .string(EventID.generate(at: time).uuidString)
                message["timestamp"] = .string(time.adding(microseconds: offset).iso8601)
                message["userId"] = "u_visitor_9"
                return .object(message)
            }
            let calls: [(route: String, body: JSONValue)] = [
                ("track", stamped(["event": "report_exported", "properties": ["format": "csv", "rows": 120]], offset: 0)),
                ("identify", stamped(["traits": ["plan": "team", "seats": 12]], offset: 1)),
                ("page", stamped(["name": "Pricing", "category": "marketing", "properties": ["path": "/pricing"]], offset: 2)),
                ("screen", stamped(["name": "Settings", "properties": ["tab": "billing"]], offset: 3)),
                ("group", stamped(["groupId": "g_acme", "traits": ["tier": "gold"]], offset: 4)),
                ("alias", stamped(["previousId": "anon_7c1d"], offset: 5)),
            ]
            try await harness.live { client in
                for call in calls {
                    let response = try await client.send(.post, "/v1/\(call.route)", key: key, json: call.body)
                    #expect(response.status == .ok, "\(call.route): \(response.text)")
                    let body = try response.json()
                    #expect(body["received"] == 1, "\(call.route)")
                    #expect(body["stored"] == 1, "\(call.route): \(response.text)")
                }
            }
            let stored = try await harness.storedEvents()
            #expect(stored.map(\.name) == ["report_exported", "identify", "page", "screen", "group", "alias"])
            #expect(stored.allSatisfy { $0.service == "web" && $0.userID == "u_visitor_9" })
            let byName = Dictionary(uniqueKeysWithValues: stored.map { ($0.name, $0.properties) })
            #expect(byName["report_exported"] == ["format": "csv", "rows": 120])
            #expect(byName["identify"] == ["plan": "team", "seats": 12])
            #expect(byName["page"] == ["path": "/pricing", "name": "Pricing", "category": "marketing"])
            #expect(byName["screen"] == ["tab": "billing", "name": "Settings"])
            #expect(byName["group"] == ["tier": "gold", "group_id": "g_acme"])
            #expect(byName["alias"] == ["previous_id": "anon_7c1d"])
        }
    }

    @Test("a re-sent batch is stored once: the second response counts every event as a duplicate")
    func resentBatchIsStoredOnce() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.write)
            let time = Timestamp.now().adding(microseconds: -10_000_000)
            let batch = Messages.batch((0..<8).map { i in
                Messages.track("item_viewed", properties: ["item": .string("sku_\(i)")], at: time.adding(microseconds: Int64(i)))
            })
            let (first, second) = try await harness.live { client in
                (try await client.send(.post, "/v1/batch", key: key, json: batch),
                 try await client.send(.post, "/v1/batch", key: key, json: batch))
            }
            #expect(first.status == .ok)
            #expect(try first.json()["stored"] == 8)
            #expect(try first.json()["duplicates"] == 0)
            #expect(second.status == .ok)
            #expect(try second.json()["stored"] == 0)
            #expect(try second.json()["duplicates"] == 8)
            #expect(try await harness.store.count() == 8)
        }
    }

    @Test("a message over 32 KB is listed as too_large while the rest of its batch is stored")
    func oversizedEvent() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.write)
            let time = Timestamp.now().adding(microseconds: -1_000_000)
            let big = Messages.track("note_saved", properties: ["text": .string(String(repeating: "lorem ipsum ", count: 3_000))], at: time)
            #expect(big.serialized().utf8.count > 32 * 1024)
            let batch = Messages.batch([Messages.track("note_opened", at: time), big, Messages.track("note_closed", at: time.adding(microseconds: 1))])
            let response = try await harness.live { client in
                try await client.send(.post, "/v1/batch", key: key, json: batch)
            }
            #expect(response.status == .ok)
            let body = try response.json()
            #expect(body["stored"] == 2)
            let rejected = body["rejected"]?.arrayValue ?? []
            #expect(rejected.count == 1)
            #expect(rejected.first?["index"] == 1)
            #expect(rejected.first?["code"] == "too_large")
            #expect(try await harness.storedEvents().map(\.name) == ["note_opened", "note_closed"])
        }
    }

    @Test("the 32 KB limit counts the whole message as sent, context included, on /v1/batch and on single routes")
    func oversizedContext() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.write)
            let time = Timestamp.now().adding(microseconds: -1_000_000)
            // Small properties, so only the message's own size can reject it.
            let big = Messages.track("note_saved", at: time, context: ["page": ["title": .string(String(repeating: "x", count: 33_000))]])
            let small = Messages.track("note_opened", at: time)
            let (batch, single) = try await harness.live { client in
                (try await client.send(.post, "/v1/batch", key: key, json: Messages.batch([small, big])),
                 try await client.send(.post, "/v1/track", key: key, json: big))
            }
            for response in [batch, single] {
                #expect(response.status == .ok)
                let rejected = try response.json()["rejected"]?.arrayValue ?? []
                #expect(rejected.count == 1)
                #expect(rejected.first?["code"] == "too_large")
            }
            #expect(try batch.json()["rejected"]?.arrayValue?.first?["index"] == 1)
            #expect(try await harness.storedEvents().map(\.name) == ["note_opened"])
        }
    }

    /// Segment messages may omit `timestamp`; the server then uses the time it
    /// first received the messageId, so a retry lands on the same (timestamp,
    /// event_id) and the store's unique key catches it.
    @Test("a re-sent message without a timestamp is stored once (messageId is the dedupe key)")
    func resentMessageWithoutTimestamp() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.write)
            let message: JSONValue = ["type": "track", "event": "app_opened", "userId": "u_1", "messageId": "ajs-next-1732371591-retry"]
            let responses = try await harness.live { client in
                var responses: [JSONValue] = []
                for _ in 0..<2 {
                    responses.append(try await client.send(.post, "/v1/batch", key: key, json: Messages.batch([message])).json())
                    try await Task.sleep(for: .milliseconds(5))
                }
                return responses
            }
            #expect(responses.first?["stored"] == 1)
            #expect(responses.last?["duplicates"] == 1)
            let stored = try await harness.storedEvents()
            #expect(stored.count == 1)
        }
    }

    @Test("a gzip body (Content-Encoding: gzip) is inflated and stored")
    func gzipBody() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.write)
            let time = Timestamp.now().adding(microseconds: -1_000_000)
            let batch = Messages.batch((0..<20).map { i in
                Messages.track("item_viewed", properties: ["item": .string("sku_\(i)")], at: time.adding(microseconds: Int64(i)))
            })
            let compressed = try Gzip.compress(Array(batch.serialized().utf8))
            let response = try await harness.live { client in
                try await client.send(.post, "/v1/batch", key: key, bytes: compressed,
                                      headers: [.contentEncoding: "gzip", .contentType: "application/json"])
            }
            #expect(response.status == .ok, "\(response.text)")
            #expect(try response.json()["stored"] == 20)
            let stored = try await harness.storedEvents()
            #expect(stored.count == 20)
            #expect(Set(stored.compactMap { $0.properties["item"]?.stringValue }) == Set((0..<20).map { "sku_\($0)" }))
        }
    }

    /// A valid batch of about `bytes` bytes of JSON: if the limit were not
    /// enforced, every one of its events would be stored.
    static func largeBatch(bytes: Int) -> (body: [UInt8], events: Int) {
        let time = Timestamp.now().adding(microseconds: -1_000_000)
        var messages: [JSONValue] = []
        var size = 0
        while size < bytes {
            let message = Messages.track("item_viewed", properties: ["item": .string("sku_\(messages.count)"), "list": "search_results"],
                                         at: time.adding(microseconds: Int64(messages.count)))
            size += message.serialized().utf8.count + 1
            messages.append(message)
        }
        return (Array(Messages.batch(messages).serialized().utf8), messages.count)
    }

    @Test("a 600 KB body gets 413 with a message, and nothing of it is stored")
    func oversizedBody() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.write)
            let (body, events) = Self.largeBatch(bytes: 600 * 1024)
            #expect(body.count > 600 * 1024 && events > 1_000)
            let response = try await harness.live { client in
                try await client.send(.post, "/v1/batch", key: key, bytes: body, headers: [.contentType: "application/json"])
            }
            #expect(response.status == .contentTooLarge)
            #expect(response.errorCode == "body_too_large")
            #expect(response.errorMessage.contains("500 KB"))
            #expect(try await harness.store.count() == 0)
            #expect(try await harness.spill.count() == 0)
        }
    }

    @Test("a gzip body that inflates to more than 500 KB gets 413, and nothing is stored")
    func gzipBombIsRefused() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.write)
            let (body, _) = Self.largeBatch(bytes: 600 * 1024)
            let compressed = try Gzip.compress(body)
            #expect(compressed.count < 500 * 1024)
            let response = try await harness.live { client in
                try await client.send(.post, "/v1/batch", key: key, bytes: compressed, headers: [.contentEncoding: "gzip"])
            }
            #expect(response.status == .contentTooLarge)
            #expect(response.errorCode == "body_too_large")
            #expect(response.errorMessage.contains("decompresses to"))
            #expect(try await harness.store.count() == 0)
        }
    }

    @Test("malformed JSON gets 400 whose message says the line and column")
    func malformedJSON() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.write)
            // Line 3 lacks the comma before "event", at column 22.
            let text = "{\n  \"batch\": [\n    {\"type\": \"track\" \"event\": \"x\"}\n  ]\n}"
            let response = try await harness.live { client in
                try await client.send(.post, "/v1/batch", key: key, bytes: Array(text.utf8))
            }
            #expect(response.status == .badRequest)
            #expect(response.errorCode == "malformed_json")
            #expect(response.errorMessage.contains("line 3, column 22"), "\(response.errorMessage)")
            #expect(try await harness.store.count() == 0)
        }
    }

    @Test("a batch of 100 with 3 invalid events: 200, the 97 valid ones stored, the 3 listed by index and code")
    func invalidEventsAreListed() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.write)
            let time = Timestamp.now().adding(microseconds: -30_000_000)
            var messages: [JSONValue] = (0..<100).map { i in
                Messages.track("item_viewed", properties: ["item": .string("sku_\(i)")], at: time.adding(microseconds: Int64(i)))
            }
            let email = "jane.doe@example.com"
            messages[7] = Messages.track("task_started", properties: ["task_id": "t_1", "colour": "red"], at: time)
            messages[42] = Messages.track("task_completed", properties: ["task_id": "t_1", "duration_ms": "fast"], at: time)
            messages[99] = Messages.track("newsletter_signup", properties: ["contact": .string(email)], at: time)
            let batch = Messages.batch(messages)
            let response = try await harness.live { client in
                try await client.send(.post, "/v1/batch", key: key, json: batch)
            }
            #expect(response.status == .ok)
            let body = try response.json()
            #expect(body["success"] == false)
            #expect(body["received"] == 100)
            #expect(body["accepted"] == 97)
            #expect(body["stored"] == 97)
            let rejected = try #require(body["rejected"]?.arrayValue)
            #expect(rejected.count == 3)
            let byIndex = Dictionary(uniqueKeysWithValues: rejected.compactMap { entry in entry["index"]?.intValue.map { ($0, entry) } })
            #expect(byIndex.keys.sorted() == [7, 42, 99])
            #expect(byIndex[7]?["code"] == "unknown_field")
            #expect(byIndex[7]?["event"] == "task_started")
            #expect(byIndex[7]?["field"] == "properties.colour")
            #expect(byIndex[42]?["code"] == "wrong_type")
            #expect(byIndex[42]?["field"] == "properties.duration_ms")
            #expect(byIndex[99]?["code"] == "personal_data")
            #expect(byIndex[99]?["event"] == "newsletter_signup")
            for index in [7, 42, 99] {
                #expect(byIndex[index]?["messageId"] == messages[index]["messageId"])
                let message = byIndex[index]?["message"]?.stringValue ?? ""
                #expect(!message.isEmpty)
            }
            #expect(!response.text.contains(email), "a rejection never echoes the value")

            let stored = try await harness.storedEvents()
            #expect(stored.count == 97)
            #expect(stored.allSatisfy { $0.name == "item_viewed" })
            let rejectedIDs = Set([7, 42, 99].compactMap { messages[$0]["messageId"]?.stringValue })
            #expect(stored.allSatisfy { !rejectedIDs.contains($0.eventID.uuidString) })
        }
    }

    @Test("writeKey in the body instead of Basic auth")
    func writeKeyInBody() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.write, service: "mobile")
            let time = Timestamp.now().adding(microseconds: -1_000_000)
            let batch = Messages.batch([Messages.track("app_opened", at: time)], extra: ["writeKey": .string(key)])
            let response = try await harness.live { client in
                try await client.send(.post, "/v1/batch", json: batch)
            }
            #expect(response.status == .ok, "\(response.text)")
            #expect(try response.json()["stored"] == 1)
            let stored = try await harness.storedEvents()
            #expect(stored.map(\.service) == ["mobile"])
        }
    }

    @Test("no key: 401 with WWW-Authenticate; an unknown key: 401; nothing stored")
    func missingKey() async throws {
        try await ServerHarness.with { harness in
            let time = Timestamp.now()
            let batch = Messages.batch([Messages.track("app_opened", at: time)])
            let (missing, unknown) = try await harness.live { client in
                (try await client.send(.post, "/v1/batch", json: batch),
                 try await client.send(.post, "/v1/batch", key: APIKey.generate(scope: .write).description, json: batch))
            }
            #expect(missing.status == .unauthorized)
            #expect(missing.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
            #expect(missing.errorCode == "missing_key")
            #expect(unknown.status == .unauthorized)
            #expect(unknown.headers[.wwwAuthenticate] != nil)
            #expect(try await harness.store.count() == 0)
        }
    }

    @Test("a read key cannot send events: 403, nothing stored")
    func readKeyOnIngest() async throws {
        try await ServerHarness.with { harness in
            let readKey = try await harness.makeKey(.read)
            let adminKey = try await harness.makeKey(.admin)
            let batch = Messages.batch([Messages.track("app_opened", at: .now())])
            let (read, admin, bodyKey) = try await harness.live { client in
                (try await client.send(.post, "/v1/batch", key: readKey, json: batch),
                 try await client.send(.post, "/v1/track", key: adminKey, json: Messages.track("app_opened", at: .now())),
                 try await client.send(.post, "/v1/batch",
                                       json: Messages.batch([Messages.track("app_opened", at: .now())], extra: ["writeKey": .string(readKey)])))
            }
            #expect(read.status == .forbidden)
            #expect(read.errorCode == "wrong_scope")
            #expect(admin.status == .forbidden)
            #expect(bodyKey.status == .forbidden)
            #expect(try await harness.store.count() == 0)
        }
    }

    @Test("a revoked key gets 401, in the header and in the body")
    func revokedKey() async throws {
        try await ServerHarness.with { harness in
            // Revoked before its first use, so no cached record can let it through.
            let key = try await harness.makeRevokedKey(.write)
            let (header, body) = try await harness.live { client in
                (try await client.send(.post, "/v1/batch", key: key, json: Messages.batch([Messages.track("app_opened", at: .now())])),
                 try await client.send(.post, "/v1/batch",
                                       json: Messages.batch([Messages.track("app_opened", at: .now())], extra: ["writeKey": .string(key)])))
            }
            #expect(header.status == .unauthorized)
            #expect(header.errorCode == "invalid_key")
            #expect(header.headers[.wwwAuthenticate] != nil)
            #expect(body.status == .unauthorized)
            #expect(try await harness.store.count() == 0)
        }
    }

    @Test("over the key's rate: 429 with Retry-After, and the refused request stores nothing")
    func rateLimit() async throws {
        try await ServerHarness.with(configure: { configuration in
            configuration.rateLimit.requestsPerSecond = 1
            configuration.rateLimit.burst = 2
        }) { harness in
            let key = try await harness.makeKey(.write)
            let otherKey = try await harness.makeKey(.write)
            let time = Timestamp.now().adding(microseconds: -1_000_000)
            let (responses, other) = try await harness.live { client in
                // Sent back to back: refilling at 1 a second, the bucket runs dry
                // unless every request took more than a second.
                var responses: [TestResponse] = []
                for i in 0..<20 {
                    let batch = Messages.batch([Messages.track("app_opened", properties: ["n": .int(i)], at: time.adding(microseconds: Int64(i)))])
                    responses.append(try await client.send(.post, "/v1/batch", key: key, json: batch))
                    if responses.last?.status == .tooManyRequests { break }
                }
                // The limit is per key: another key still gets through.
                let other = try await client.send(.post, "/v1/batch", key: otherKey,
                                                  json: Messages.batch([Messages.track("app_opened", at: time.adding(microseconds: 99))]))
                return (responses, other)
            }
            // A burst of 2 is always admitted.
            #expect(responses[0].status == .ok)
            #expect(responses[1].status == .ok)
            let limited = responses.dropFirst(2).filter { $0.status == .tooManyRequests }
            #expect(!limited.isEmpty, "\(responses.map(\.status))")
            #expect(responses.allSatisfy { $0.status == .ok || $0.status == .tooManyRequests })
            for response in limited {
                let retryAfter = try #require(response.headers[.retryAfter].flatMap { Int($0) })
                #expect(retryAfter >= 1)
                #expect(response.errorCode == "rate_limited")
            }
            #expect(other.status == .ok)
            let admitted = responses.filter { $0.status == .ok }.count
            #expect(try await harness.store.count() == admitted + 1)
        }
    }

    @Test("clock skew: timestamp and sentAt an hour behind are corrected to about now, by whole minutes")
    func clockSkew() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.write)
            let hour: Int64 = 3_600_000_000
            let now = Timestamp.now()
            let deviceNow = now.adding(microseconds: -hour)
            // Happened 5 s before the device sent it, by the device's (slow) clock.
            let batched = deviceNow.adding(microseconds: -5_000_000)
            let single = deviceNow.adding(microseconds: -2_000_000)
            var singleMessage = Messages.track("app_opened", userId: "u_skewed", at: single).objectValue!
            singleMessage["sentAt"] = .string(deviceNow.iso8601)
            let singleBody = JSONValue.object(singleMessage)
            try await harness.live { client async throws in
                let batch = Messages.batch([Messages.track("app_backgrounded", userId: "u_skewed", at: batched)],
                                           extra: ["sentAt": .string(deviceNow.iso8601)])
                #expect(try await client.send(.post, "/v1/batch", key: key, json: batch).status == .ok)
                #expect(try await client.send(.post, "/v1/track", key: key, json: singleBody).status == .ok)
            }
            let after = Timestamp.now()
            let stored = Dictionary(uniqueKeysWithValues: try await harness.storedEvents().map { ($0.name, $0) })
            for (name, sent) in [("app_backgrounded", batched), ("app_opened", single)] {
                let event = try #require(stored[name])
                // Corrected by the skew rounded to whole minutes: exactly one hour here.
                #expect(event.timestamp.microsecondsSinceEpoch - sent.microsecondsSinceEpoch == hour, "\(name)")
                // receivedAt − (sentAt − timestamp), within the 30 s of rounding.
                let ideal = event.receivedAt.microsecondsSinceEpoch - (deviceNow.microsecondsSinceEpoch - sent.microsecondsSinceEpoch)
                #expect(abs(event.timestamp.microsecondsSinceEpoch - ideal) <= 30_000_000, "\(name)")
                #expect(event.timestamp <= after && event.timestamp > now.adding(microseconds: -40_000_000), "\(name): \(event.timestamp)")
                #expect(event.receivedAt >= now && event.receivedAt <= after)
            }
        }
    }

    @Test("context.ip (the message's and the batch's) is never stored; the rest of the context is")
    func ipIsNotStored() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.write)
            let message = Messages.track("app_opened", at: .now().adding(microseconds: -1_000_000), context: [
                "ip": "203.0.113.9",
                "library": ["name": "analytics-node", "version": "6.2.0"],
                "locale": "de-DE",
            ])
            let batch = Messages.batch([message], extra: ["context": ["ip": "198.51.100.7", "app": ["version": "3.1.0"]]])
            let response = try await harness.live { client in
                try await client.send(.post, "/v1/batch", key: key, json: batch)
            }
            #expect(response.status == .ok)
            let stored = try #require(try await harness.storedEvents().first)
            let context = stored.context.json
            #expect(context["ip"] == nil)
            #expect(stored.context.libraryName == "analytics-node")
            #expect(stored.context.locale == "de-DE")
            #expect(stored.context.appVersion == "3.1.0")
            var data: [UInt8] = []
            stored.serializeData(into: &data)
            let text = String(decoding: data, as: UTF8.self) + JSONValue.object(stored.wireJSON).serialized()
            #expect(!text.contains("203.0.113.9"))
            #expect(!text.contains("198.51.100.7"))
        }
    }
}
