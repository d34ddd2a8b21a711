import Logging
import PostgresNIO
import Tally

extension PostgresEventStore {
    /// How a batch reaches `analytics_events`.
    public enum WriteMethod: String, Sendable, Hashable, CaseIterable {
        /// One `INSERT … SELECT FROM unnest($1…$9) ON CONFLICT DO NOTHING`: one round trip.
        case unnest
        /// `COPY` into a temporary staging table, then `INSERT … SELECT … ON CONFLICT
        /// DO NOTHING` from it, in one transaction: five round trips. Kept to
        /// measure against `unnest` (see the README's Performance section).
        case copyStaging = "copy"
    }

    /// COPY into a per-connection staging table, then an idempotent insert from it.
    func writeViaCopy(_ events: [EnrichedEvent]) async throws -> Int {
        let sorted = events.sorted { ($0.timestamp, $0.eventID) < ($1.timestamp, $1.eventID) }
        var buffer = ByteBufferAllocator().buffer(capacity: sorted.count * 512)
        for event in sorted { Self.appendCopyText(event, to: &buffer) }
        let logger = database.logger
        let rows = buffer
        return try await database.withConnection { connection in
            try await connection.exec("BEGIN", logger: logger)
            do {
                try await connection.exec("""
                    CREATE TEMPORARY TABLE IF NOT EXISTS tally_staging
                        (LIKE analytics_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
                    """, logger: logger)
                try await connection.copyFrom(table: "tally_staging", logger: logger) { writer in
                    try await writer.write(rows)
                }
                var inserted = 0
                for try await row in try await connection.query("""
                    WITH inserted AS (
                        INSERT INTO analytics_events SELECT * FROM tally_staging
                        ON CONFLICT (timestamp, event_id) DO NOTHING RETURNING 1
                    )
                    SELECT count(*)::int8 FROM inserted
                    """, logger: logger) {
                    inserted = Int(try row.decode(Int64.self))
                }
                // In the same transaction as the insert, as ``insertSQL`` does.
                try await connection.exec(PostgresQuery(unsafeSQL: Self.markDirtySQL("SELECT timestamp FROM tally_staging")), logger: logger)
                try await connection.exec("COMMIT", logger: logger)
                return inserted
            } catch {
                try? await connection.exec("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// One event as a line of COPY's text format, columns in table order.
    public static func appendCopyText(_ event: EnrichedEvent, to buffer: inout ByteBuffer) {
        buffer.writeString(event.eventID.uuidString)
        buffer.writeInteger(UInt8(ascii: "\t"))
        buffer.writeString(event.timestamp.iso8601)
        buffer.writeInteger(UInt8(ascii: "\t"))
        buffer.writeString(event.receivedAt.iso8601)
        for text in [event.name, event.service] {
            buffer.writeInteger(UInt8(ascii: "\t"))
            appendEscaped(Array(text.utf8), to: &buffer)
        }
        for text in [event.userID, event.anonymousID, event.sessionID] {
            buffer.writeInteger(UInt8(ascii: "\t"))
            if let text { appendEscaped(Array(text.utf8), to: &buffer) } else { buffer.writeStaticString("\\N") }
        }
        buffer.writeInteger(UInt8(ascii: "\t"))
        var json: [UInt8] = []
        event.serializeData(into: &json)
        appendEscaped(json, to: &buffer)
        buffer.writeInteger(UInt8(ascii: "\n"))
    }

    /// COPY text escaping: backslash, tab, newline and carriage return.
    private static func appendEscaped(_ bytes: [UInt8], to buffer: inout ByteBuffer) {
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
            case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
            case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
            default: buffer.writeInteger(byte)
            }
        }
    }
}
