import Hummingbird
import Tally

/// `GET /v1/metrics/{aggregate}`: one route per aggregate of DESIGN.md §5, with
/// `from`, `to` and a filter; read key. Rows come from the aggregate tables only.
struct MetricsRoutes: Sendable {
    let access: KeyAuthenticator
    let aggregates: any AggregateStore

    func register(on router: Router<BasicRequestContext>) {
        route(router, "active-users") { q, from, to in
            let rows = try await aggregates.activeUsers(from: from, to: to, service: q.string("service"))
            return ["rows": .array(rows.map(AggregateJSON.row))]
        }
        route(router, "tasks") { q, from, to in
            let rows = try await aggregates.taskStats(from: from, to: to, service: q.string("service"))
            var summary = AggregateJSON.percentiles(RangePercentiles(merging: rows.map(\.durationSketch)), prefix: "duration")
            for (key, value) in [("created", \TaskStatsRow.created), ("started", \.started), ("completed", \.completed),
                                 ("failed", \.failed), ("cancelled", \.cancelled)] {
                summary[key] = .int(rows.reduce(0) { $0 + $1[keyPath: value] })
            }
            return ["rows": .array(rows.map(AggregateJSON.row)), "summary": .object(summary)]
        }
        route(router, "api-latency") { q, from, to in
            let method = q.string("method"), path = q.string("route")
            let rows = try await aggregates.apiLatency(from: from, to: to, service: q.string("service"))
                .filter { (method == nil || $0.method == method) && (path == nil || $0.route == path) }
            var summary = AggregateJSON.percentiles(RangePercentiles(merging: rows.map(\.latencySketch)), prefix: "latency")
            summary["requests"] = .int(rows.reduce(0) { $0 + $1.requests })
            summary["errors_4xx"] = .int(rows.reduce(0) { $0 + $1.errors4xx })
            summary["errors_5xx"] = .int(rows.reduce(0) { $0 + $1.errors5xx })
            return ["rows": .array(rows.map(AggregateJSON.row)), "summary": .object(summary)]
        }
        route(router, "integrations") { q, from, to in
            let rows = try await aggregates.integrationHealth(from: from, to: to, provider: q.string("provider"))
            return ["rows": .array(rows.map(AggregateJSON.row))]
        }
        route(router, "auth") { q, from, to in
            let rows = try await aggregates.authEvents(from: from, to: to, service: q.string("service"))
            return ["rows": .array(rows.map(AggregateJSON.row))]
        }
        route(router, "cocoons") { _, from, to in
            let rows = try await aggregates.cocoonActivity(from: from, to: to)
            return ["rows": .array(rows.map(AggregateJSON.row))]
        }
        route(router, "errors") { q, from, to in
            let errorType = q.string("error_type")
            let rows = try await aggregates.errors(from: from, to: to, service: q.string("service"))
                .filter { errorType == nil || $0.errorType == errorType }
            return ["rows": .array(rows.map(AggregateJSON.row))]
        }
    }

    private func route(_ router: Router<BasicRequestContext>, _ name: String,
                       _ body: @escaping @Sendable (QueryParameters, Timestamp, Timestamp) async throws -> JSONObject) {
        router.get("/v1/metrics/\(name)") { request, _ in
            _ = try await access.require(.read, for: request)
            let parameters = QueryParameters(request)
            let (from, to) = try parameters.range()
            var object = try await body(parameters, from, to)
            object["aggregate"] = .string(name)
            object["from"] = from.jsonTime
            object["to"] = to.jsonTime
            return JSONResponse.make(.object(object))
        }
    }
}
