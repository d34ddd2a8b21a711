import Hummingbird
import Tally

/// Raw events (paged by cursor), trends, and streamed exports; read key.
struct EventRoutes: Sendable {
    let access: KeyAuthenticator
    let events: any EventQueries

    func register(on router: Router<BasicRequestContext>) {
        router.get("/v1/events") { request, _ in
            _ = try await access.require(.read, for: request)
            let parameters = QueryParameters(request)
            let filter = try Self.filter(parameters)
            let limit = try parameters.int("limit", default: 100, range: 1...1_000)
            let cursor = try Self.cursor(parameters)
            let page = try await events.events(matching: filter, after: cursor, limit: limit)
            let next: JSONValue = page.count == limit ? page.last.map { .string(EventCursor(after: $0).description) } ?? .null : .null
            return JSONResponse.make(["events": .array(page.map { .object($0.wireJSON) }), "next_cursor": next])
        }

        router.get("/v1/trends") { request, _ in
            _ = try await access.require(.read, for: request)
            let parameters = QueryParameters(request)
            guard let event = parameters.string("event") else {
                throw APIError.badParameter("event", "is required: the event type to count, e.g. event=task_completed")
            }
            let (from, to) = try parameters.range()
            let breakdown = parameters.string("breakdown")
            if let breakdown, !TrendQuery.isValidPropertyName(breakdown) {
                throw APIError.badParameter("breakdown", "must be a property name of letters, digits, '_' or '-', not '\(breakdown)'")
            }
            let query = TrendQuery(
                eventType: event, from: from, to: to,
                interval: try parameters.choice("interval", default: TrendQuery.Interval.day),
                measure: try parameters.choice("measure", default: TrendQuery.Measure.count),
                service: parameters.string("service"), breakdown: breakdown,
                limit: try parameters.int("limit", default: 10, range: 1...100))
            let points = try await events.trend(query)
            return JSONResponse.make([
                "event": .string(event), "from": from.jsonTime, "to": to.jsonTime,
                "interval": .string(query.interval.rawValue), "measure": .string(query.measure.rawValue),
                "breakdown": breakdown.map { .string($0) } ?? .null,
                "points": .array(points.map { point in
                    var object: JSONObject = ["bucket": point.bucket.jsonTime, "value": .int(point.count)]
                    if breakdown != nil { object["breakdown_value"] = point.value.map { .string($0) } ?? .null }
                    return .object(object)
                }),
            ])
        }

        router.get("/v1/export") { request, _ in
            _ = try await access.require(.read, for: request)
            let parameters = QueryParameters(request)
            let filter = try Self.filter(parameters)
            let format = try parameters.choice("format", default: EventExportFormat.ndjson)
            return Response(
                status: .ok,
                headers: [.contentType: format.contentType, .contentDisposition: "attachment; filename=\"tally-events.\(format.rawValue)\""],
                body: ResponseBody { writer in
                    try await ExportStream(events: events, filter: filter, format: format).write(to: &writer)
                    try await writer.finish(nil)
                })
        }
    }

    static func filter(_ parameters: QueryParameters) throws(APIError) -> EventFilter {
        EventFilter(from: try parameters.time("from"), to: try parameters.time("to", endOfDay: true),
                    userID: parameters.string("user_id"), eventType: parameters.string("event"), service: parameters.string("service"))
    }

    static func cursor(_ parameters: QueryParameters) throws(APIError) -> EventCursor? {
        guard let text = parameters.string("cursor") else { return nil }
        guard let cursor = EventCursor(text) else {
            throw APIError.badParameter("cursor", "is not a cursor this API returned; pass next_cursor from the previous page as it is")
        }
        return cursor
    }
}
