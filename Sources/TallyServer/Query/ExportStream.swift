import Hummingbird
import Tally

/// How `/v1/export` writes events.
enum ExportFormat: String, CaseIterable, Sendable {
    /// One Segment-shaped JSON event per line.
    case ndjson
    /// One row per event; properties and context as JSON text in their columns.
    case csv

    var contentType: String {
        switch self {
        case .ndjson: "application/x-ndjson; charset=utf-8"
        case .csv: "text/csv; charset=utf-8"
        }
    }
}

/// Streams every event matching a filter, a page at a time, so memory stays
/// constant however many there are.
struct ExportStream: Sendable {
    let events: any EventQueries
    let filter: EventFilter
    let format: ExportFormat
    var pageSize = 1_000

    static let csvHeader = "event_id,timestamp,received_at,event_type,service,user_id,anonymous_id,session_id,properties,context\n"

    func write(to writer: inout any ResponseBodyWriter) async throws {
        if format == .csv { try await writer.write(ByteBuffer(string: Self.csvHeader)) }
        var cursor: EventCursor?
        while true {
            let page = try await events.events(matching: filter, after: cursor, limit: pageSize)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(page.count * 600)
            for event in page { append(event, to: &bytes) }
            if !bytes.isEmpty { try await writer.write(ByteBuffer(bytes: bytes)) }
            guard page.count == pageSize, let last = page.last else { return }
            cursor = EventCursor(after: last)
        }
    }

    func append(_ event: EnrichedEvent, to bytes: inout [UInt8]) {
        switch format {
        case .ndjson:
            JSONValue.object(event.wireJSON).serialize(into: &bytes)
        case .csv:
            let fields: [String?] = [event.eventID.uuidString, event.timestamp.iso8601, event.receivedAt.iso8601, event.name,
                                     event.service, event.userID, event.anonymousID, event.sessionID,
                                     JSONValue.object(event.properties).serialized(), JSONValue.object(event.context.json).serialized()]
            for (i, field) in fields.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                if let field { Self.appendCSV(field, to: &bytes) }
            }
        }
        bytes.append(UInt8(ascii: "\n"))
    }

    /// RFC 4180: quoted when it holds a comma, quote or line break; quotes doubled.
    static func appendCSV(_ field: String, to bytes: inout [UInt8]) {
        let needsQuotes = field.utf8.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 10 || $0 == 13 }
        guard needsQuotes else { bytes.append(contentsOf: field.utf8); return }
        bytes.append(UInt8(ascii: "\""))
        for byte in field.utf8 {
            if byte == UInt8(ascii: "\"") { bytes.append(byte) }
            bytes.append(byte)
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
