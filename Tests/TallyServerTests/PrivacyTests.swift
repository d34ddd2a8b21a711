import Hummingbird
import HummingbirdTesting
import Tally
import TallyServer
import TallyTesting
import Testing

@Suite("Privacy")
struct PrivacyTests {
    @Test("DELETE /v1/users/{id} erases the user's events, their access request is then empty, and the aggregates forget them")
    func eraseUser() async throws {
        try await ServerHarness.with { harness in
            let admin = try await harness.makeKey(.admin)
            let read = try await harness.makeKey(.read)
            let day = testDay()
            let user = Fixture.secondUser
            let range = "from=\(day.dateString)&to=\(day.dateString)"
            try await harness.live { client in
                try await Fixture.ingest(client, harness: harness, day: day)
                func metricsRow(_ name: String) async throws -> JSONValue? {
                    try await client.get("/v1/metrics/\(name)?\(range)", key: read).json().rows.first
                }
                #expect(try await metricsRow("active-users")?["dau"] == 7)
                #expect(try await metricsRow("tasks")?["completed"] == 2)
                #expect(try await metricsRow("auth")?["login_attempts"] == 2)

                // The access request lists what is stored about them.
                let before = try await client.get("/v1/users/\(user)/events", key: admin)
                #expect(before.status == .ok)
                let lines = before.text.split(separator: "\n")
                #expect(lines.count == 3)
                #expect(try lines.allSatisfy { try JSONValue(parsing: String($0))["userId"] == .string(user) })

                let erase = try await client.send(.delete, "/v1/users/\(user)", key: admin)
                #expect(erase.status == .ok, "\(erase.text)")
                let body = try erase.json()
                #expect(body["user_id"] == .string(user))
                #expect(body["deleted_events"] == 3)
                #expect(body["days_recomputed"] == [.string(day.dateString)])

                let after = try await client.get("/v1/users/\(user)/events", key: admin)
                #expect(after.status == .ok)
                #expect(after.text.isEmpty, "\(after.text)")
                let afterCSV = try await client.get("/v1/users/\(user)/events?format=csv", key: admin)
                #expect(afterCSV.text.split(separator: "\n").count == 1, "only the header")

                try await harness.server.refresher.refresh(from: day, to: day.adding(days: 1))
                #expect(try await metricsRow("active-users")?["dau"] == 6)
                #expect(try await metricsRow("tasks")?["completed"] == 1)
                #expect(try await metricsRow("auth")?["login_attempts"] == 1)
                let latency = try await client.get("/v1/metrics/api-latency?\(range)", key: read).json()
                #expect(latency["summary"]?["requests"] == 1)
                #expect(latency["summary"]?["errors_5xx"] == 0)
            }
            let stored = try await harness.storedEvents()
            #expect(stored.count == Fixture.count - 3)
            #expect(!stored.contains { $0.userID == user || $0.anonymousID == user })
            #expect(try await harness.storedEvents(EventFilter(userID: CatalogueExamples.userID)).count == CatalogueExamples.all.count)
        }
    }

    @Test("an erase also removes the user's events still waiting in the spill queue, so the replay never writes them back")
    func eraseReachesTheSpillQueue() async throws {
        let failure = FailureSwitch()
        try await ServerHarness.with(failure: failure) { harness in
            let write = try await harness.makeKey(.write, service: "billing")
            let admin = try await harness.makeKey(.admin)
            let time = Timestamp.now().adding(microseconds: -3_000_000)
            let messages = (0..<5).map { i in
                Messages.track("invoice_sent", properties: ["invoice": .string("inv_\(i)")],
                               userId: i < 3 ? "u_leaving" : "u_staying", at: time.adding(microseconds: Int64(i)))
            }
            try await harness.live { client in
                // The store is down: the batch is acknowledged from the spill queue.
                failure.set(true)
                let accepted = try await client.send(.post, "/v1/batch", key: write, json: Messages.batch(messages))
                #expect(try accepted.json()["queued"] == 5)
                #expect(try await harness.spill.count() == 5)

                let erase = try await client.send(.delete, "/v1/users/u_leaving", key: admin)
                #expect(erase.status == .ok, "\(erase.text)")
                #expect(try erase.json()["deleted_queued_events"] == 3)
                #expect(try erase.json()["deleted_events"] == 0)
                #expect(try await harness.spill.count() == 2)

                failure.set(false)
                let replayed = try await eventually(timeout: .seconds(60)) {
                    let queued = try await harness.spill.count()
                    let stored = try await harness.store.count()
                    return queued == 0 && stored == 2
                }
                #expect(replayed, "the worker replayed what was left in the spill queue")
            }
            let stored = try await harness.storedEvents()
            #expect(stored.compactMap(\.userID) == ["u_staying", "u_staying"])
        }
    }

    @Test("a read key (or a write key) cannot erase or read a user's data: 403, and nothing is deleted")
    func onlyAdminKeys() async throws {
        try await ServerHarness.with { harness in
            let read = try await harness.makeKey(.read)
            let write = try await harness.makeKey(.write)
            let user = Fixture.secondUser
            try await harness.live { client in
                try await Fixture.ingest(client, harness: harness)
                for key in [read, write] {
                    let erase = try await client.send(.delete, "/v1/users/\(user)", key: key)
                    #expect(erase.status == .forbidden)
                    #expect(erase.errorCode == "wrong_scope")
                    let access = try await client.get("/v1/users/\(user)/events", key: key)
                    #expect(access.status == .forbidden)
                }
                let anonymous = try await client.send(.delete, "/v1/users/\(user)")
                #expect(anonymous.status == .unauthorized)
            }
            #expect(try await harness.storedEvents(EventFilter(userID: user)).count == 3)
            #expect(try await harness.store.count() == Fixture.count)
        }
    }
}
