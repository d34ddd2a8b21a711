import Foundation
import Synchronization
import Tally
import TallySQLite
import TallyTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Crash safety")
struct CrashTests {
    static var probe: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tally-crash-probe")
    }

    @Test("SIGKILL at a random point: every event reported durable is delivered after restart", arguments: [1, 2, 3])
    func killNine(round: Int) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let queuePath = directory.file("queue.sqlite")
        let killAfter = Int.random(in: 50...3_000)

        let process = Process()
        process.executableURL = Self.probe
        process.arguments = [queuePath]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()

        // Read `durable <id>` lines until the chosen count, then kill without warning.
        var reported: [EventID] = []
        var pending = Data()
        let reader = output.fileHandleForReading
        while reported.count < killAfter {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            pending.append(chunk)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending.removeSubrange(pending.startIndex...newline)
                if line.hasPrefix("durable "), let id = EventID(line.dropFirst(8)) { reported.append(id) }
            }
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(reported.count >= killAfter, "the probe reported \(reported.count) durable events before it was killed")

        // Restart: a worker with a working sink replays the queue the dead process left.
        let database = try SQLiteDatabase(path: queuePath)
        let queue = SQLiteEventQueue(database: database)
        let store = MemoryEventStore()
        var configuration = AnalyticsConfiguration(service: "probe", sink: store)
        configuration.durableQueue = queue
        configuration.batchSize = 200
        let pipeline = AnalyticsPipeline(configuration: configuration)
        let services = RunningServices([pipeline.worker])
        let drained = try await eventually(timeout: .seconds(60)) { try await queue.count() == 0 }
        try await services.shutDown()
        #expect(drained)

        let stored = Set(try await store.events(in: Timestamp(microsecondsSinceEpoch: 0)..<Timestamp.now().adding(days: 1), limit: 1_000_000).map(\.eventID))
        let missing = reported.filter { !stored.contains($0) }
        #expect(missing.isEmpty, "\(missing.count) of \(reported.count) acknowledged events were lost")
    }
}
