import ArgumentParser
import Foundation
import Tally

/// Durable throughput of the client → worker → SQLite pipeline against the
/// baseline of DESIGN.md §8: the `sqlite3` shell's `.import` of the same rows
/// into the same schema, measured in the same run.
///
///     swift build -c release --package-path Benchmarks
///     Benchmarks/.build/release/tally-bench --events 1000000
@main
struct TallyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tally-bench",
        abstract: "Durable events/s of Tally's pipeline into SQLite, as a ratio of sqlite3's .import of the same rows.")

    @Option(help: "How many demo events every run writes.")
    var events = 1_000_000

    @Option(name: .customLong("batch-size"), help: "Worker batch sizes to measure with submit(), one run each.")
    var batchSizes: [Int] = [100, 1_000]

    @Option(help: "Concurrent tasks calling track() in the end-to-end run (0 skips it).")
    var tasks = 4

    @Option(name: .customLong("calls-per-sample"),
            help: "Consecutive track() calls timed together, each latency sample their mean (1: every call timed alone).")
    var callsPerSample = 1

    @Option(name: .customLong("catch-up"), help: "The worker's catchUpBatches (how many waiting batches one write may take; default: the library's).")
    var catchUpBatches: Int?

    @Option(help: "The buffer capacity of the submit runs (default: the library's; the track run holds every event).")
    var buffer: Int?

    @Option(name: .customLong("cache-mib"), help: "SQLite page cache of every run, in MiB (the baseline's PRAGMA cache_size).")
    var cacheMiB = 256

    @Option(help: "The sqlite3 shell for the baseline.")
    var sqlite3 = "/usr/bin/sqlite3"

    @Option(help: "Where the CSV and the databases go (a fresh temporary directory by default).")
    var directory: String?

    @Flag(help: "Keep the CSV and the databases afterwards.")
    var keepFiles = false

    func validate() throws {
        guard events > 0 else { throw ValidationError("--events must be positive") }
        guard batchSizes.allSatisfy({ $0 > 0 }) else { throw ValidationError("--batch-size must be positive") }
        guard tasks >= 0 else { throw ValidationError("--tasks must be 0 or more") }
        guard callsPerSample > 0 else { throw ValidationError("--calls-per-sample must be positive") }
        guard (catchUpBatches ?? 1) > 0, (buffer ?? 1) > 0 else { throw ValidationError("--catch-up and --buffer must be positive") }
    }

    func run() async throws {
        let commandLine = CommandLine.arguments.joined(separator: " ")
        let createdDirectory = directory == nil
        let workDirectory = directory
            ?? FileManager.default.temporaryDirectory.path + "/tally-bench-\(ProcessInfo.processInfo.processIdentifier)"
        try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
        defer {
            if !keepFiles {
                try? FileManager.default.removeItem(atPath: workDirectory + "/tally-bench-events.csv")
                if createdDirectory { try? FileManager.default.removeItem(atPath: workDirectory) }
            }
        }
        let cacheKiB = cacheMiB * 1024
        let tuning = WorkerTuning(catchUpBatches: catchUpBatches, bufferCapacity: buffer)

        note("generating \(events.formatted()) demo events…")
        let rows = DemoRows(count: events)
        let csvPath = workDirectory + "/tally-bench-events.csv"
        let csv = try rows.writeCSV(to: csvPath)
        note("wrote \(csvPath): \(csv.bytes.formatted()) bytes, \(csv.averageRowBytes) B a row, data JSON \(csv.averageDataBytes) B")

        // Every run writes into its own fresh file, then the file is removed, so
        // each starts from the same empty schema.
        let shell = SQLiteShell(executable: sqlite3)
        var results: [RunResult] = []

        note("baseline: sqlite3 .import…")
        let baselinePath = workDirectory + "/tally-bench-baseline.sqlite"
        let baseline = try shell.importCSV(csvPath, into: baselinePath, cacheKiB: cacheKiB)
        results.append(RunResult(name: "sqlite3 shell .import (baseline)", seconds: baseline.seconds,
                                 events: baseline.rows, detail: "one transaction, synchronous=\(baseline.synchronous)"))
        if baseline.rows != events {
            note("warning: the baseline stored \(baseline.rows) rows of \(events): \(baseline.errors)")
        }
        removeDatabase(baselinePath)

        note("Tally: SQLiteEventStore.write(prepared:) alone, batches of 1,000…")
        let storePath = workDirectory + "/tally-bench-store.sqlite"
        let storeRun = try await PipelineRun.storeOnly(rows.events, databasePath: storePath, batchSize: 1_000, cacheKiB: cacheKiB)
        results.append(RunResult(name: "SQLiteEventStore.write alone, batch 1000", seconds: storeRun.seconds,
                                 events: storeRun.stored, detail: storeRun.detail))
        removeDatabase(storePath)

        for batchSize in batchSizes {
            note("Tally: submit → worker → SQLiteEventStore, batch \(batchSize)…")
            let path = workDirectory + "/tally-bench-submit-\(batchSize).sqlite"
            let run = try await PipelineRun.submit(rows.events, databasePath: path, batchSize: batchSize, cacheKiB: cacheKiB,
                                                  tuning: tuning)
            results.append(RunResult(name: "Tally submit → worker → SQLite, batch \(batchSize)", seconds: run.seconds,
                                     events: run.stored, detail: run.detail))
            removeDatabase(path)
        }

        var latency: LatencySummary?
        if tasks > 0 {
            note("Tally: track() from \(tasks) tasks → worker → SQLiteEventStore, batch 100…")
            let path = workDirectory + "/tally-bench-track.sqlite"
            let run = try await PipelineRun.track(rows.events, tasks: tasks, callsPerSample: callsPerSample, databasePath: path, cacheKiB: cacheKiB, tuning: tuning)
            results.append(RunResult(name: "Tally track() ×\(tasks) tasks → worker → SQLite, batch 100", seconds: run.seconds,
                                     events: run.stored, detail: run.detail))
            latency = run.latency
            removeDatabase(path)
        }

        print(Report(commandLine: commandLine, events: events, csv: csv, sqliteVersion: baseline.version,
                     cacheMiB: cacheMiB, results: results, latency: latency,
                     clockOverhead: LatencySummary.clockReadOverhead()).text)
    }

    private func removeDatabase(_ path: String) {
        guard !keepFiles else { return }
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }
}

/// Progress goes to standard error, so standard output is the report alone.
func note(_ text: String) {
    FileHandle.standardError.write(Data("tally-bench: \(text)\n".utf8))
}

struct RunResult {
    var name: String
    var seconds: Double
    var events: Int
    var detail: String

    var eventsPerSecond: Double { Double(events) / seconds }
}

struct Report {
    var commandLine: String
    var events: Int
    var csv: CSVSummary
    var sqliteVersion: String
    var cacheMiB: Int
    var results: [RunResult]
    var latency: LatencySummary?
    var clockOverhead: Double

    var text: String {
        var lines: [String] = []
        lines.append("tally-bench: \(events.formatted()) demo events, \(csv.averageRowBytes) B a CSV row (data JSON \(csv.averageDataBytes) B), "
            + "SQLite \(sqliteVersion), WAL, cache \(cacheMiB) MiB, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        lines.append("command: \(commandLine)")
        lines.append("")
        let baseline = results.first?.eventsPerSecond ?? 1
        let nameWidth = max(4, results.map(\.name.count).max() ?? 0)
        lines.append("| " + "run".padding(nameWidth) + " |  seconds |   events/s | vs baseline | notes")
        lines.append("|" + String(repeating: "-", count: nameWidth + 2) + "|---------:|-----------:|------------:|------")
        for result in results {
            lines.append("| " + result.name.padding(nameWidth)
                + " | " + String(format: "%8.2f", result.seconds)
                + " | " + Int(result.eventsPerSecond.rounded()).formatted().leftPadding(10)
                + " | " + String(format: "%10.2fx", result.eventsPerSecond / baseline)
                + " | " + "\(result.events.formatted()) stored; \(result.detail)")
        }
        if let latency {
            lines.append("")
            let sampled = latency.callsPerSample == 1
                ? "\(latency.samples.formatted()) calls, each timed"
                : "\(latency.samples.formatted()) samples, each the mean of \(latency.callsPerSample) consecutive calls timed together"
            lines.append("track() latency per call from \(latency.tasks) concurrent tasks (\(sampled) "
                + "with two clock reads costing \(String(format: "%.0f", clockOverhead)) ns together):")
            lines.append("  median \(latency.ns(0.5)) ns, p99 \(latency.ns(0.99)) ns, p99.9 \(latency.ns(0.999)) ns, "
                + "p99.99 \(latency.ns(0.9999)) ns, max \(latency.ns(1)) ns")
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
    func leftPadding(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
