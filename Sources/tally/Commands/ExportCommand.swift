import ArgumentParser
import Foundation
import Tally

extension EventExportFormat: ExpressibleByArgument {}

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write raw events as NDJSON or CSV, oldest first, streamed in constant memory.",
        discussion: """
            NDJSON lines are Segment track messages that `tally import` reads back. Progress goes \
            to standard error, so the events can go to standard output.
            """
    )

    @OptionGroup var options: DatabaseOptions

    @Option(help: "ndjson or csv.")
    var format = EventExportFormat.ndjson

    @Option(name: .shortAndLong, help: "The file to write, or - for standard output.")
    var output = "-"

    @Option(help: "First day (2026-11-01) or time (2026-11-01T12:00:00Z), inclusive.")
    var from: String?

    @Option(help: "Last day, inclusive, or a time, exclusive.")
    var to: String?

    @Option(help: "Only this person's events (user id or anonymous id).")
    var user: String?

    @Option(help: "Only events of this type, e.g. task_completed.")
    var type: String?

    @Option(help: "Only events of this service.")
    var service: String?

    func run() async throws {
        let filter = EventFilter(from: try Self.time(from, option: "--from"), to: try Self.time(to, option: "--to", endOfDay: true),
                                 userID: user, eventType: type, service: service)
        if let from = filter.from, let to = filter.to, from >= to { throw ValidationError("--from must be before --to") }
        if case .sqlite(let path) = try options.backend(), !FileManager.default.fileExists(atPath: path) {
            throw CommandError("there is no database at \(path): give --database the SQLite file or postgres:// URL to export from.")
        }
        let format = format
        let destination = try OutputFile(path: output)
        let count: Int
        do {
            count = try await ServerBackends.withBackend(options, migrating: false) { backend in
                let progress = ProgressBar(total: nil, unit: "events")
                let count = try await EventExporter(events: backend.events, filter: filter, format: format).run { bytes in
                    try destination.append(bytes)
                } progress: { progress.update($0) }
                progress.finish(count)
                return count
            }
        } catch {
            destination.discard()
            throw error
        }
        try destination.commit()
        if output != "-" { printError("Exported \(Format.count(count)) events to \(output).") }
    }

    /// `2026-11-23` (a day; as `--to`, the end of that day) or a full ISO-8601 time.
    static func time(_ text: String?, option: String, endOfDay: Bool = false) throws -> Timestamp? {
        guard let text else { return nil }
        guard let time = Timestamp(dayOrTime: text, endOfDay: endOfDay) else {
            throw ValidationError("\(option) must be a day such as 2026-11-01 or a time such as 2026-11-01T12:00:00Z, not '\(text)'")
        }
        return time
    }
}
