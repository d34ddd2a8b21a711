import Foundation
import Logging
import ServiceLifecycle
import Tally
import TallySQLite

/// A process for the crash test: it tracks events forever through a client and
/// worker whose sink is unreachable, so every batch spills to the durable queue
/// at the path it is given, and prints `durable <event id>` for each event the
/// worker reports durable. The test kills it with SIGKILL at a random moment
/// and checks that every printed id is delivered after a restart.
///
/// Usage: `tally-crash-probe QUEUE.sqlite`
@main
struct CrashProbe {
    struct Unreachable: EventSink {
        struct Down: Error, CustomStringConvertible { var description: String { "collector unreachable" } }
        func write(_ events: [EnrichedEvent]) async throws -> Int { throw Down() }
    }

    static func main() async throws {
        guard CommandLine.arguments.count == 2 else {
            FileHandle.standardError.write(Data("usage: tally-crash-probe QUEUE.sqlite\n".utf8))
            exit(2)
        }
        let database = try SQLiteDatabase(path: CommandLine.arguments[1])
        try await Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget(database: database)).migrate(phases: [.pre])

        var configuration = AnalyticsConfiguration(service: "probe", sink: Unreachable())
        configuration.durableQueue = SQLiteEventQueue(database: database)
        configuration.batchSize = 20
        configuration.flushInterval = .milliseconds(20)
        configuration.retry.attemptsBeforeSpilling = 1
        configuration.retry.probeInterval = .seconds(3_600)
        configuration.logger.logLevel = .critical
        configuration.onDurable = { ids in
            // One write per batch: a line is on the pipe before the next batch is taken.
            let lines = ids.map { "durable \($0)\n" }.joined()
            FileHandle.standardOutput.write(Data(lines.utf8))
        }
        let pipeline = AnalyticsPipeline(configuration: configuration)
        var logger = Logger(label: "tally.crash-probe")
        logger.logLevel = .critical
        let group = ServiceGroup(configuration: .init(services: [pipeline.worker], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var n = 0
            while true {
                pipeline.client.track(.pageView(path: "/crash/\(n)"))
                n += 1
                if n % 10 == 0 { try await Task.sleep(for: .milliseconds(1)) }
            }
        }
    }
}
