/// The file formats raw events are exported in (`tally export`, `GET /v1/export`).
public enum EventExportFormat: String, CaseIterable, Sendable {
    /// One Segment-shaped `track` message per line: what `tally import` and
    /// `POST /v1/batch` read back.
    case ndjson
    /// One row per event; properties and context as JSON text in their columns.
    case csv

    /// The first line of the file, if the format has one.
    public var header: String? {
        switch self {
        case .ndjson: nil
        case .csv: "event_id,timestamp,received_at,event_type,service,user_id,anonymous_id,session_id,properties,context\n"
        }
    }

    /// One event as a line of this format, newline included.
    public func append(_ event: EnrichedEvent, to bytes: inout [UInt8]) {
        switch self {
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

/// Streams every event matching a filter, a page at a time and oldest first, so
/// memory stays constant however many there are.
///
/// ```swift
/// let exporter = EventExporter(events: store, filter: EventFilter(userID: "u_1"), format: .ndjson)
/// let count = try await exporter.run { bytes in try await output.write(bytes) }
/// ```
public struct EventExporter: Sendable {
    public let events: any EventQueries
    public let filter: EventFilter
    public let format: EventExportFormat
    public var pageSize: Int

    public init(events: any EventQueries, filter: EventFilter, format: EventExportFormat, pageSize: Int = 1_000) {
        self.events = events
        self.filter = filter
        self.format = format
        self.pageSize = pageSize
    }

    /// Hands each page's bytes to `write` (the header first) and returns how many
    /// events were written. `progress` gets the running count after each page.
    @discardableResult
    public func run(
        _ write: ([UInt8]) async throws -> Void,
        progress: (Int) -> Void = { _ in }
    ) async throws -> Int {
        if let header = format.header { try await write(Array(header.utf8)) }
        var cursor: EventCursor?
        var written = 0
        while true {
            let page = try await events.events(matching: filter, after: cursor, limit: pageSize)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(page.count * 600)
            for event in page { format.append(event, to: &bytes) }
            if !bytes.isEmpty { try await write(bytes) }
            written += page.count
            progress(written)
            guard page.count == pageSize, let last = page.last else { return written }
            cursor = EventCursor(after: last)
        }
    }
}
