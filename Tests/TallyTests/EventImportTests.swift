import Tally
import Testing

@Suite("EventImporter")
struct EventImportTests {
    static let longValue = String(repeating: "a", count: 300 * 1024)
    static let largeValue = String(repeating: "b", count: 40 * 1024)

    /// A byte order mark, CRLF and LF endings, a line longer than the line limit,
    /// a message over 32 KB, and a last line without a newline.
    static let file: [UInt8] = [0xEF, 0xBB, 0xBF] + Array((
        #"{"type":"track","event":"app_opened","messageId":"m-1","userId":"u_1","timestamp":"2026-11-02T10:00:00Z"}"# + "\r\n"
        + #"{"type":"identify","userId":"u_1","timestamp":"2026-11-02T10:00:01Z","traits":{"plan":"pro"}}"# + "\n"
        + #"{"event":"big","timestamp":"2026-11-02T10:00:02Z","properties":{"p":""# + longValue + #""}}"# + "\n"
        + #"{"event":"large","timestamp":"2026-11-02T10:00:03Z","properties":{"p":""# + largeValue + #""}}"# + "\r\n"
        + "\n"
        + #"{"event":"app_closed","userId":"u_2","timestamp":"2026-11-02T10:00:04Z"}"#
    ).utf8)

    @Test("lines split anywhere across chunks import the same way", arguments: [1, 3, 7, 64, 4_096, 1 << 20])
    func chunkBoundaries(chunkSize: Int) async throws {
        let store = MemoryEventStore()
        var importer = EventImporter(sink: store, defaultService: "backfill", batchSize: 2)
        var offset = 0
        while offset < Self.file.count {
            try await importer.consume(Self.file[offset..<min(offset + chunkSize, Self.file.count)])
            offset += chunkSize
        }
        let report = try await importer.finish()
        #expect(report.lines == 5, "the blank line is not counted")
        #expect(report.stored == 3)
        #expect(report.rejectedCount == 2)
        #expect(report.rejected.map(\.line) == [3, 4])
        #expect(report.rejected.first?.reason.contains("longer than 256 KB") == true, "\(report.rejected)")
        #expect(report.rejected.last?.reason.contains("a message may be at most 32 KB") == true, "\(report.rejected)")
        #expect(report.timeRange == Timestamp(iso8601: "2026-11-02T10:00:00Z")!...Timestamp(iso8601: "2026-11-02T10:00:04Z")!)

        let stored = try await store.events(in: Timestamp(iso8601: "2026-11-01T00:00:00Z")!..<Timestamp(iso8601: "2026-11-03T00:00:00Z")!, limit: 10)
        #expect(stored.map(\.name) == ["app_opened", "identify", "app_closed"])
        #expect(stored.allSatisfy { $0.service == "backfill" })
        #expect(stored[0].eventID == .derived(fromMessageID: "m-1"))
        #expect(stored[1].properties["plan"] == "pro")
        // Ids of lines without a messageId come from the line's bytes: the same in every chunking.
        #expect(stored[1].eventID == .derived(fromMessageID: "import:"
            + #"{"type":"identify","userId":"u_1","timestamp":"2026-11-02T10:00:01Z","traits":{"plan":"pro"}}"#))
    }

    @Test("importing the same lines again stores nothing and counts them as already stored")
    func reimport() async throws {
        let store = MemoryEventStore()
        for round in 0..<2 {
            var importer = EventImporter(sink: store)
            try await importer.consume(Self.file)
            let report = try await importer.finish()
            #expect(report.stored == (round == 0 ? 3 : 0))
            #expect(report.alreadyStored == (round == 0 ? 0 : 3))
        }
        #expect(try await store.count() == 3)
    }
}
