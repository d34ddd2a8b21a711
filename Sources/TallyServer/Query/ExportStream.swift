import Hummingbird
import Tally

extension EventExportFormat {
    var contentType: String {
        switch self {
        case .ndjson: "application/x-ndjson; charset=utf-8"
        case .csv: "text/csv; charset=utf-8"
        }
    }
}

/// The core's ``EventExporter`` writing into a response body: a page at a time,
/// so memory stays constant however many events there are.
struct ExportStream: Sendable {
    let events: any EventQueries
    let filter: EventFilter
    let format: EventExportFormat

    func write(to writer: inout any ResponseBodyWriter) async throws {
        let exporter = EventExporter(events: events, filter: filter, format: format)
        var body = writer
        try await exporter.run { bytes in try await body.write(ByteBuffer(bytes: bytes)) }
        writer = body
    }
}
