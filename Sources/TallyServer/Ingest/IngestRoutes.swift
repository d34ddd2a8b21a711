import Hummingbird
import Tally

/// `POST /v1/batch`, `/v1/track`, `/v1/identify`, `/v1/page`, `/v1/screen`,
/// `/v1/group`, `/v1/alias`: Segment's HTTP tracking API.
///
/// A 200 means every accepted event is durable. Invalid events do not fail the
/// request: they are listed by index in the response while the valid ones are
/// stored, as Segment's SDKs expect (they retry only 429 and 5xx).
struct IngestRoutes: Sendable {
    let access: KeyAuthenticator
    let rateLimiter: RateLimiter
    let writer: IngestWriter
    let metrics: ServerMetrics
    let limits: EventLimits
    let policy: PIIPolicy
    let firstSeen = FirstSeenTimes()

    func register(on router: Router<BasicRequestContext>) {
        for route in IngestRoute.allCases {
            router.post("/v1/\(route.rawValue)") { request, context in
                try await ingest(request, route: route)
            }
        }
    }

    func ingest(_ request: Request, route: IngestRoute) async throws -> Response {
        let receivedAt = Timestamp.now()
        // A key in the header is checked before the body is read; one in the body after.
        var key: APIKeyRecord?
        if KeyAuthenticator.credential(in: request) != nil {
            key = try await admitted(request, bodyWriteKey: nil)
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: IngestRequest.maxBodyBytes)
        } catch {
            throw IngestRequest.tooLarge(decompressed: false)
        }
        let gzipped = request.headers[.contentEncoding]?.lowercased().contains("gzip") ?? false
        let parsed = try IngestRequest.parse(Array(buffer: body), gzipped: gzipped, route: route)
        if key == nil {
            key = try await admitted(request, bodyWriteKey: parsed.writeKey)
        }
        let service = key?.service ?? "default"

        var events: [EnrichedEvent] = []
        var rejected: [JSONValue] = []
        events.reserveCapacity(parsed.messages.count)
        var contexts = EventContextReader()
        for (index, message) in parsed.messages.enumerated() {
            do {
                events.append(try SegmentMessage.event(from: message, size: parsed.messageSizes[index], route: route,
                                                       batch: parsed, receivedAt: receivedAt, service: service,
                                                       firstSeen: firstSeen, limits: limits, policy: policy,
                                                       contexts: &contexts))
            } catch {
                rejected.append(Self.describe(error.at(index: index), messageID: message["messageId"]))
            }
        }
        let outcome = try await writer.write(events)
        metrics.recordIngest(received: parsed.messages.count, rejected: rejected.count, outcome: outcome, accepted: events.count)

        var response: JSONObject = [
            "success": .bool(rejected.isEmpty),
            "received": .int(parsed.messages.count),
            "accepted": .int(events.count),
            "rejected": .array(rejected),
        ]
        switch outcome {
        case .stored(let newlyStored):
            response["stored"] = .int(newlyStored)
            response["duplicates"] = .int(events.count - newlyStored)
        case .queued:
            response["queued"] = .int(events.count)
        }
        return JSONResponse.make(.object(response))
    }

    /// The key, checked for the write scope and the rate.
    private func admitted(_ request: Request, bodyWriteKey: String?) async throws -> APIKeyRecord {
        let key = try await access.require(.write, for: request, bodyWriteKey: bodyWriteKey)
        if let wait = rateLimiter.admit(key.id) {
            let seconds = max(1, Int((Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18).rounded(.up)))
            throw APIError(.tooManyRequests, code: "rate_limited",
                           "key \(key.id) is over its rate of \(Int(rateLimiter.configuration.requestsPerSecond)) requests a second; retry after \(seconds) s",
                           headers: [.retryAfter: String(seconds)])
        }
        return key
    }

    /// One rejected event for the response: where, what and why — never the value.
    static func describe(_ error: EventValidationError, messageID: JSONValue?) -> JSONValue {
        var entry: JSONObject = [
            "index": .int(error.index ?? 0),
            "event": .string(error.event),
            "code": .string(error.code.description),
            "message": .string(error.description),
        ]
        if let field = error.field { entry["field"] = .string(field) }
        if case .string(let id)? = messageID { entry["messageId"] = .string(id) }
        return .object(entry)
    }
}
