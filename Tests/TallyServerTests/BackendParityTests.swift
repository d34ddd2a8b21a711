import Hummingbird
import HummingbirdTesting
import Tally
import TallyServer
import TallyTesting
import Testing

/// The same ingest, dedupe and query basics on every backend `tally serve` runs on.
@Suite("Backends")
struct BackendParityTests {
    @Test("ingest, dedupe, cursor pages, metrics, trends, export and erase", arguments: StoreKind.allCases)
    func basics(_ kind: StoreKind) async throws {
        // The server's refresher follows the traffic (as `tally serve` does for its
        // dashboard); the test waits for it rather than refreshing beside it.
        try await ServerHarness.with(kind, configure: { $0.refresh.dirtyInterval = .milliseconds(100) }) { harness in
            let write = try await harness.makeKey(.write, service: "api")
            let read = try await harness.makeKey(.read)
            let admin = try await harness.makeKey(.admin)
            let day = testDay()
            let range = "from=\(day.dateString)&to=\(day.dateString)"
            let messages = Fixture.events(on: day).map(Messages.wire) + Fixture.checkoutMessages(on: day)
            try await harness.live { client in
                let first = try await client.send(.post, "/v1/batch", key: write, json: Messages.batch(messages))
                #expect(first.status == .ok, "\(first.text)")
                #expect(try first.json()["stored"] == .int(messages.count))
                let again = try await client.send(.post, "/v1/batch", key: write, json: Messages.batch(messages))
                #expect(try again.json()["stored"] == 0)
                #expect(try again.json()["duplicates"] == .int(messages.count))
                // A single route, gzip-free, with the key in the body.
                var single = Messages.track("report_exported", properties: ["format": "csv"], userId: "u_a",
                                            at: day.adding(microseconds: 13 * Timestamp.microsecondsPerHour)).objectValue!
                single["writeKey"] = .string(write)
                #expect(try await client.send(.post, "/v1/track", json: .object(single)).status == .ok)
                #expect(try await harness.store.count() == messages.count + 1)

                try await harness.waitForRefresh()

                var seen: [String] = []
                var cursor: String?
                repeat {
                    let page = try await client.get("/v1/events?limit=10" + (cursor.map { "&cursor=\($0)" } ?? ""), key: read).json()
                    seen += (page["events"]?.arrayValue ?? []).compactMap { $0["messageId"]?.stringValue }
                    cursor = page["next_cursor"]?.stringValue
                } while cursor != nil && seen.count < 1_000
                #expect(seen.count == messages.count + 1)
                #expect(Set(seen) == Set(try await harness.storedEvents().map(\.eventID.uuidString)))

                let tasks = try await client.get("/v1/metrics/tasks?\(range)", key: read).json()
                #expect(tasks.rows.first?["completed"] == 2)
                #expect(tasks.rows.first?["failed"] == 1)
                let active = try await client.get("/v1/metrics/active-users?\(range)&service=api", key: read).json()
                #expect(active.rows.first?["dau"] == 7)
                let latency = try await client.get("/v1/metrics/api-latency?\(range)", key: read).json()
                #expect(latency["summary"]?["requests"] == 2)
                #expect(latency["summary"]?["errors_5xx"] == 1)

                let trend = try await client.get("/v1/trends?event=checkout_started&\(range)&breakdown=plan&measure=unique_users", key: read).json()
                let points = Dictionary(uniqueKeysWithValues: (trend["points"]?.arrayValue ?? []).map {
                    ($0["breakdown_value"]?.stringValue ?? "(none)", $0["value"]?.intValue ?? -1)
                })
                #expect(points == ["pro": 2, "free": 2, "(none)": 1])

                let csv = try await client.get("/v1/export?format=csv", key: read)
                #expect(csv.text.split(separator: "\n").count == messages.count + 2)

                let erase = try await client.send(.delete, "/v1/users/\(Fixture.secondUser)", key: admin).json()
                #expect(erase["deleted_events"] == 3)
                // The erase marked the day dirty in its transaction and woke the refresher.
                try await harness.waitForRefresh()
                let afterErase = try await client.get("/v1/metrics/active-users?\(range)&service=api", key: read).json()
                #expect(afterErase.rows.first?["dau"] == 6)
                #expect(try await client.get("/v1/users/\(Fixture.secondUser)/events", key: admin).text.isEmpty)
            }
        }
    }

    /// `tally refresh` next to `tally serve`, or an erase's recompute next to the
    /// scheduled pass: two refreshes of the same day at once must both succeed.
    @Test("two refreshes of the same day at the same time both succeed", arguments: StoreKind.allCases)
    func concurrentRefreshes(_ kind: StoreKind) async throws {
        try await ServerHarness.with(kind) { harness in
            let day = testDay()
            try await harness.store.write(Fixture.events(on: day))
            let refresher = harness.server.refresher
            var failures: [String] = []
            for _ in 0..<10 {
                let outcomes = await withTaskGroup(of: String?.self) { group in
                    for _ in 0..<2 {
                        group.addTask {
                            do {
                                try await refresher.refresh(from: day, to: day.adding(days: 1))
                                return nil
                            } catch {
                                return "\(error)"
                            }
                        }
                    }
                    return await group.reduce(into: [String]()) { if let failure = $1 { $0.append(failure) } }
                }
                failures += outcomes
            }
            let summary = "\(failures.count) of 20 refreshes failed: \(failures.first ?? "")"
            let noFailures = failures.isEmpty
            #expect(noFailures, "\(summary)")
            // Whatever happened, a last refresh leaves the right rows.
            try await refresher.refresh(from: day, to: day.adding(days: 1))
            let tasks = try await harness.aggregates.taskStats(from: day, to: day.adding(days: 1), service: nil)
            #expect(tasks.map(\.completed) == [2])
        }
    }
}
