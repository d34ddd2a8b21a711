import Foundation
import Tally

/// `count` realistic events from ``DemoTraffic``, oldest first: whole days of a
/// fixed seed and end, so every run of the benchmark writes the same rows.
struct DemoRows {
    let events: [EnrichedEvent]

    init(count: Int) {
        let days = 30
        // About 12 events a user a day; grow the population until the days hold enough.
        var users = max(100, count / (days * 11))
        while true {
            var configuration = DemoTraffic.Configuration(end: Timestamp(iso8601: "2026-10-31T23:59:59Z")!)
            configuration.users = users
            configuration.days = days
            let traffic = DemoTraffic(configuration: configuration)
            var events: [EnrichedEvent] = []
            events.reserveCapacity(count)
            for day in 0..<days where events.count < count {
                events.append(contentsOf: traffic.events(forDay: day).prefix(count - events.count))
            }
            if events.count == count {
                self.events = events
                return
            }
            users = users * 3 / 2 + 1
        }
    }

    /// Writes the rows as the columns of `analytics_events`, exactly as
    /// `SQLiteEventStore` binds them, in CSV without a header. A missing id is an
    /// empty field: the shell's `.import` has no NULL, so it stores ''.
    func writeCSV(to path: String) throws -> CSVSummary {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        guard let file = FileHandle(forWritingAtPath: path) else {
            throw ShellError(message: "cannot write \(path)")
        }
        defer { try? file.close() }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(8 << 20)
        var total = 0
        var dataBytes = 0
        for event in events {
            let data = JSONValue.object(event.data).serialized()
            dataBytes += data.utf8.count
            let start = buffer.count
            Self.field(event.eventID.uuidString, into: &buffer)
            buffer.append(UInt8(ascii: ","))
            Self.field(String(event.timestamp.microsecondsSinceEpoch), into: &buffer)
            buffer.append(UInt8(ascii: ","))
            Self.field(String(event.receivedAt.microsecondsSinceEpoch), into: &buffer)
            buffer.append(UInt8(ascii: ","))
            Self.field(event.name, into: &buffer)
            buffer.append(UInt8(ascii: ","))
            Self.field(event.service, into: &buffer)
            buffer.append(UInt8(ascii: ","))
            Self.field(event.userID ?? "", into: &buffer)
            buffer.append(UInt8(ascii: ","))
            Self.field(event.anonymousID ?? "", into: &buffer)
            buffer.append(UInt8(ascii: ","))
            Self.field(event.sessionID ?? "", into: &buffer)
            buffer.append(UInt8(ascii: ","))
            Self.field(data, into: &buffer)
            buffer.append(UInt8(ascii: "\n"))
            total += buffer.count - start
            if buffer.count >= 8 << 20 {
                try file.write(contentsOf: buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        try file.write(contentsOf: buffer)
        return CSVSummary(bytes: total, averageRowBytes: total / max(1, events.count),
                          averageDataBytes: dataBytes / max(1, events.count))
    }

    /// RFC 4180: quoted when it holds a comma, quote or line break, quotes doubled.
    private static func field(_ text: String, into buffer: inout [UInt8]) {
        let bytes = text.utf8
        let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\""), newline: UInt8 = 10, carriageReturn: UInt8 = 13
        let needsQuotes = bytes.contains { (byte: UInt8) -> Bool in
            byte == comma || byte == quote || byte == newline || byte == carriageReturn
        }
        guard needsQuotes else {
            buffer.append(contentsOf: bytes)
            return
        }
        buffer.append(UInt8(ascii: "\""))
        for byte in bytes {
            if byte == UInt8(ascii: "\"") { buffer.append(byte) }
            buffer.append(byte)
        }
        buffer.append(UInt8(ascii: "\""))
    }
}

struct CSVSummary {
    var bytes: Int
    var averageRowBytes: Int
    var averageDataBytes: Int
}
