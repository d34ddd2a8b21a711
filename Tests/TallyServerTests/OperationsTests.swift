import Hummingbird
import HummingbirdTesting
import Tally
import TallyServer
import TallyTesting
import Testing

@Suite("Operations and dashboard")
struct OperationsTests {
    /// Every route the server registers (TallyServer.router()), as OpenAPI writes paths.
    static let routes: [(method: String, path: String)] = [
        ("post", "/v1/batch"), ("post", "/v1/track"), ("post", "/v1/identify"), ("post", "/v1/page"),
        ("post", "/v1/screen"), ("post", "/v1/group"), ("post", "/v1/alias"),
        ("get", "/v1/metrics/active-users"), ("get", "/v1/metrics/tasks"), ("get", "/v1/metrics/api-latency"),
        ("get", "/v1/metrics/integrations"), ("get", "/v1/metrics/auth"), ("get", "/v1/metrics/cocoons"),
        ("get", "/v1/metrics/errors"),
        ("get", "/v1/trends"), ("get", "/v1/events"), ("get", "/v1/export"),
        ("delete", "/v1/users/{id}"), ("get", "/v1/users/{id}/events"),
        ("get", "/dashboard"), ("get", "/healthz"), ("get", "/readyz"), ("get", "/metrics"), ("get", "/openapi.yaml"),
    ]

    @Test("/healthz and /readyz answer 200 on a migrated store; /metrics counts ingested events")
    func healthReadinessMetrics() async throws {
        try await ServerHarness.with { harness in
            let key = try await harness.makeKey(.write)
            try await harness.live { client in
                let health = try await client.get("/healthz")
                #expect(health.status == .ok)
                #expect(try health.json()["status"] == "ok")

                let ready = try await client.get("/readyz")
                #expect(ready.status == .ok, "\(ready.text)")
                #expect(try ready.json()["status"] == "ready")

                let time = Timestamp.now().adding(microseconds: -1_000_000)
                let batch = Messages.batch((0..<3).map { Messages.track("app_opened", at: time.adding(microseconds: Int64($0))) }
                                           + [Messages.track("signup", properties: ["mail": "a@b.example"], at: time)])
                #expect(try await client.send(.post, "/v1/batch", key: key, json: batch).status == .ok)

                let metrics = try await client.get("/metrics")
                #expect(metrics.status == .ok)
                #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
                let lines = metrics.text.split(separator: "\n").map(String.init)
                #expect(lines.contains(#"tally_ingest_events_total{outcome="received"} 4"#), "\(metrics.text)")
                #expect(lines.contains(#"tally_ingest_events_total{outcome="stored"} 3"#))
                #expect(lines.contains(#"tally_ingest_events_total{outcome="rejected"} 1"#))
                #expect(metrics.text.contains("tally_http_requests_total"))
                #expect(!metrics.text.contains("a@b.example"))
            }
        }
    }

    @Test("/readyz answers 503 when a migration is pending")
    func notReady() async throws {
        try await ServerHarness.with { harness in
            let backend = ServerBackend(description: "not migrated", events: harness.store, aggregates: harness.aggregates,
                                        keys: harness.keys, checkReady: { throw NotMigrated(pending: 1) })
            let server = TallyServer(backend: backend, spill: harness.spill, configuration: harness.server.configuration)
            let ready = try await server.application().test(.live) { client in try await client.get("/readyz") }
            #expect(ready.status == .serviceUnavailable)
            #expect(try ready.json()["status"] == "not_ready")
        }
    }

    @Test("/openapi.yaml describes every route the server registers")
    func openAPI() async throws {
        try await ServerHarness.with { harness in
            let response = try await harness.live { client in try await client.get("/openapi.yaml") }
            #expect(response.status == .ok)
            #expect(response.text.hasPrefix("openapi: 3"))
            let lines = response.text.split(separator: "\n").map(String.init)
            for route in Self.routes {
                let index = lines.firstIndex(of: "  \(route.path):")
                #expect(index != nil, "\(route.path) is not in the OpenAPI document")
                guard let index else { continue }
                // The method is listed under the path, before the next path.
                let block = lines[(index + 1)...].prefix { $0.hasPrefix("   ") || $0.isEmpty }
                #expect(block.contains("    \(route.method):"), "\(route.method.uppercased()) \(route.path)")
            }
        }
    }

    @Test("/dashboard on a loopback server: HTML with SVG charts and the range form, no key needed")
    func dashboardOnLoopback() async throws {
        try await ServerHarness.with { harness in
            let day = testDay()
            let page = try await harness.live { client in
                try await Fixture.ingest(client, harness: harness, day: day)
                return try await client.get("/dashboard?from=\(day.dateString)&to=\(day.dateString)")
            }
            #expect(page.status == .ok)
            #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)
            let html = page.text
            #expect(html.hasPrefix("<!doctype html>"))
            #expect(html.contains("<svg"))
            #expect(html.contains(#"<form method="get" action="/dashboard""#))
            #expect(html.contains(#"name="from" value="\#(day.dateString)""#))
            #expect(html.contains(#"name="to" value="\#(day.dateString)""#))
            #expect(!html.contains("<script"), "no JavaScript")
            #expect(html.contains("/v1/tasks/:id"), "the busiest routes table shows the fixture's route")
        }
    }

    @Test("/dashboard with dashboardRequiresKey: 401 without a key, 403 with a write key, 200 with a read key")
    func dashboardRequiresKey() async throws {
        try await ServerHarness.with(configure: { $0.dashboardRequiresKey = true }) { harness in
            let read = try await harness.makeKey(.read)
            let write = try await harness.makeKey(.write)
            try await harness.live { client in
                let anonymous = try await client.get("/dashboard")
                #expect(anonymous.status == .unauthorized)
                #expect(anonymous.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true, "so a browser prompts")
                #expect(try await client.get("/dashboard", key: write).status == .forbidden)
                let page = try await client.get("/dashboard", key: read)
                #expect(page.status == .ok)
                #expect(page.text.contains("<svg"))
            }
        }
    }

    @Test("/dashboard needs a key by default when the server listens beyond loopback")
    func dashboardOnPublicHost() async throws {
        try await ServerHarness.with(configure: { $0.host = "0.0.0.0" }) { harness in
            let read = try await harness.makeKey(.read)
            try await harness.live { client async throws in
                #expect(try await client.get("/dashboard").status == .unauthorized)
                #expect(try await client.get("/dashboard", key: read).status == .ok)
            }
        }
    }
}
