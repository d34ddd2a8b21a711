import Hummingbird
import HummingbirdTesting
import Tally
import TallyServer
import TallyTesting
import Testing

/// DESIGN.md §9: an acknowledged event is never lost while the database is down.
@Suite("Durability")
struct DurabilityTests {
    @Test("while the store fails, a batch still gets 200 (queued) and the worker replays it once the store is back", arguments: StoreKind.allCases)
    func spillAndReplay(_ kind: StoreKind) async throws {
        let failure = FailureSwitch()
        try await ServerHarness.with(kind, failure: failure) { harness in
            let key = try await harness.makeKey(.write, service: "billing")
            let time = Timestamp.now().adding(microseconds: -3_000_000)
            let messages = (0..<12).map { i in
                Messages.track("invoice_sent", properties: ["invoice": .string("inv_\(i)")], at: time.adding(microseconds: Int64(i)))
            }
            try await harness.live { client in
                failure.set(true)
                let response = try await client.send(.post, "/v1/batch", key: key, json: Messages.batch(messages))
                #expect(response.status == .ok, "\(response.text)")
                let body = try response.json()
                #expect(body["queued"] == 12)
                #expect(body["stored"] == nil)
                #expect(body["accepted"] == 12)
                // Durable in the spill queue, not (yet) in the store.
                #expect(try await harness.spill.count() == 12)
                #expect(try await harness.store.count() == 0)

                // A second request while still down: queued too, nothing lost.
                let late = Messages.track("invoice_sent", properties: ["invoice": "inv_late"], at: time.adding(microseconds: 100))
                let second = try await client.send(.post, "/v1/track", key: key, json: late)
                #expect(try second.json()["queued"] == 1)

                // Still down a while: the worker's replay attempts fail and keep everything queued.
                try await Task.sleep(for: .milliseconds(500))
                #expect(try await harness.store.count() == 0)
                #expect(try await harness.spill.count() == 13)

                failure.set(false)
                let replayed = try await eventually(timeout: .seconds(60)) {
                    let stored = try await harness.store.count()
                    let queued = try await harness.spill.count()
                    return stored == 13 && queued == 0
                }
                #expect(replayed, "the worker replayed the spilled events into the store")
            }
            let stored = try await harness.storedEvents()
            #expect(stored.count == 13)
            #expect(Set(stored.map(\.eventID.uuidString)).count == 13)
            #expect(stored.allSatisfy { $0.service == "billing" && $0.name == "invoice_sent" })
            #expect(Set(stored.compactMap { $0.properties["invoice"]?.stringValue }) == Set((0..<12).map { "inv_\($0)" } + ["inv_late"]))
        }
    }
}
