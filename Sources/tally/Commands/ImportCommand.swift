import ArgumentParser
import Foundation
import Tally

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Backfill raw events from NDJSON, with a progress bar.",
        discussion: """
            One Segment message per line (track, identify, page, screen, group or alias), as \
            `tally export` and Segment's archives write them; each needs a `timestamp`. Lines \
            are validated like live events: a bad line is reported by its number and skipped. \
            Importing the same file again stores nothing twice. The days imported are marked \
            for recompute, so their aggregates follow on the next refresh.
            """
    )

    @OptionGroup var options: DatabaseOptions

    @Argument(help: "The NDJSON file, or - for standard input.")
    var file: String

    @Option(help: "The service of events whose context names none.")
    var service = "import"

    @Option(help: "Events per write.")
    var batchSize = 1_000

    func validate() throws {
        guard (1...10_000).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 10000") }
        guard (1...100).contains(service.utf8.count) else { throw ValidationError("--service must be 1 to 100 bytes long") }
    }

    func run() async throws {
        let input = try InputFile(path: file)
        defer { input.finishReading() }
        let source = file == "-" ? "standard input" : file
        let (service, batchSize) = (service, batchSize)
        let clock = ContinuousClock()
        let start = clock.now
        let (report, destination) = try await ServerBackends.withBackend(options) { backend in
            let progress = ProgressBar(total: input.size, unit: "", format: { Format.bytes(Int64($0)) })
            var importer = EventImporter(sink: backend.events, defaultService: service, batchSize: batchSize)
            var read = 0
            while let chunk = try input.nextChunk() {
                try await importer.consume(chunk)
                read += chunk.count
                progress.update(read)
            }
            let report = try await importer.finish()
            progress.finish(read)
            return (report, backend.description)
        }
        let seconds = (clock.now - start).seconds
        for rejection in report.rejected.prefix(20) { printError("  \(rejection)") }
        if report.rejectedCount > 20 { printError("  … and \(Format.count(report.rejectedCount - 20)) more lines") }
        print("""
            Imported \(Format.count(report.stored)) events from \(source) into \(destination) in \(String(format: "%.2f", seconds)) s: \
            \(Format.count(report.lines)) lines, \(Format.count(report.stored)) stored, \
            \(Format.count(report.alreadyStored)) already stored, \(Format.count(report.rejectedCount)) rejected.
            """)
        if report.stored > 0, let range = report.timeRange {
            let from = String(range.lowerBound.iso8601.prefix(10))
            let to = String(range.upperBound.startOfDay.adding(days: 1).iso8601.prefix(10))
            print("Their days are marked for recompute: a running `tally serve` refreshes them within a minute, "
                  + "or run `tally refresh --from \(from) --to \(to)` now.")
        }
        if report.rejectedCount > 0 {
            throw CommandError("""
                \(Format.count(report.rejectedCount)) lines were not imported (listed above); fix them and run the same \
                import again: the events already stored are skipped.
                """)
        }
    }
}

/// One line on standard error.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
