import Logging
import PostgresNIO
import Tally

extension PostgresEventStore {
    /// How a batch reaches `analytics_events`.
    public enum WriteMethod: String, Sendable, Hashable, CaseIterable {
        /// `COPY` straight into `analytics_events`, as fast as `psql \copy`, and
        /// the marks of its days, in one transaction; a batch that meets an event
        /// already stored (a re-sent batch) fails whole on the unique key, is
        /// rolled back, and goes again through ``unnest``, which skips the
        /// duplicates. Four round trips (BEGIN, COPY, marks, COMMIT) whatever the
        /// number of batches grouped in it. The default.
        case optimisticCopy = "optimistic-copy"
        /// One `INSERT … SELECT FROM unnest($1…$9) ON CONFLICT DO NOTHING`: one
        /// round trip, but a speculative insertion per row.
        case unnest
        /// `COPY` into a temporary staging table, then `INSERT … SELECT … ON CONFLICT
        /// DO NOTHING` from it, in one transaction: five round trips. Kept to
        /// measure against `unnest` (see the README's Performance section).
        case copyStaging = "copy"
    }

    /// COPY into a per-connection staging table, then an idempotent insert from it.
    func writeViaCopy(_ events: [EnrichedEvent]) async throws -> Int {
        let logger = database.logger
        let rows = Self.copyText(events)
        return try await database.withConnection { connection in
            try await connection.exec("BEGIN", logger: logger)
            do {
                try await connection.exec("""
                    CREATE TEMPORARY TABLE IF NOT EXISTS tally_staging
                        (LIKE analytics_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
                    """, logger: logger)
                try await connection.copyFrom(table: "tally_staging", columns: Self.columns, logger: logger) { writer in
                    try await writer.write(rows)
                }
                var inserted = 0
                for try await row in try await connection.query(PostgresQuery(unsafeSQL: """
                    WITH inserted AS (
                        INSERT INTO analytics_events SELECT * FROM tally_staging
                        ON CONFLICT (timestamp, event_id) DO NOTHING RETURNING timestamp
                    ), marked AS (
                        \(Self.markDirtySQL("SELECT timestamp FROM inserted"))
                    )
                    SELECT count(*)::int8 FROM inserted
                    """), logger: logger) {
                    inserted = Int(try row.decode(Int64.self))
                }
                try await connection.exec("COMMIT", logger: logger)
                return inserted
            } catch {
                try? await connection.exec("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// The columns every COPY names, in the order ``appendCopyText(_:to:)`` writes them.
    static let columns = ["event_id", "timestamp", "received_at", "event_type", "service",
                          "user_id", "anonymous_id", "session_id", "data"]

    /// The batch as COPY text, rows in (timestamp, event_id) order so that two
    /// writers of overlapping batches lock rows in the same order.
    static func copyText(_ events: [EnrichedEvent]) -> ByteBuffer {
        let order = events.indices.sorted { (events[$0].timestamp, events[$0].eventID) < (events[$1].timestamp, events[$1].eventID) }
        var buffer = ByteBufferAllocator().buffer(capacity: events.count * 512)
        var json: [UInt8] = []
        json.reserveCapacity(1_024)
        for index in order { appendCopyText(events[index], to: &buffer, scratch: &json) }
        return buffer
    }

    /// One event as a line of COPY's text format, columns in ``columns`` order.
    public static func appendCopyText(_ event: EnrichedEvent, to buffer: inout ByteBuffer) {
        var json: [UInt8] = []
        appendCopyText(event, to: &buffer, scratch: &json)
    }

    static func appendCopyText(_ event: EnrichedEvent, to buffer: inout ByteBuffer, scratch json: inout [UInt8]) {
        buffer.writeString(event.eventID.uuidString)
        buffer.writeInteger(UInt8(ascii: "\t"))
        buffer.writeString(event.timestamp.iso8601)
        buffer.writeInteger(UInt8(ascii: "\t"))
        buffer.writeString(event.receivedAt.iso8601)
        for text in [event.name, event.service] {
            buffer.writeInteger(UInt8(ascii: "\t"))
            appendEscaped(text, to: &buffer)
        }
        for text in [event.userID, event.anonymousID, event.sessionID] {
            buffer.writeInteger(UInt8(ascii: "\t"))
            if let text { appendEscaped(text, to: &buffer) } else { buffer.writeStaticString("\\N") }
        }
        buffer.writeInteger(UInt8(ascii: "\t"))
        json.removeAll(keepingCapacity: true)
        // jsonb keeps its own key order: no need to sort.
        event.serializeData(into: &json, sortedKeys: false)
        json.withUnsafeBufferPointer { appendEscaped($0, to: &buffer) }
        buffer.writeInteger(UInt8(ascii: "\n"))
    }

    private static func appendEscaped(_ text: String, to buffer: inout ByteBuffer) {
        var text = text
        text.withUTF8 { appendEscaped($0, to: &buffer) }
    }

    /// COPY text escaping: backslash, tab, newline and carriage return. Runs of
    /// ordinary bytes are copied whole.
    private static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to buffer: inout ByteBuffer) {
        var runStart = 0
        for (index, byte) in bytes.enumerated() {
            let escape: StaticString
            switch byte {
            case UInt8(ascii: "\\"): escape = "\\\\"
            case UInt8(ascii: "\t"): escape = "\\t"
            case UInt8(ascii: "\n"): escape = "\\n"
            case UInt8(ascii: "\r"): escape = "\\r"
            default: continue
            }
            buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[runStart..<index])))
            buffer.writeStaticString(escape)
            runStart = index + 1
        }
        buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count])))
    }
}
