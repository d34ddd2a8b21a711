/// Backfills a store from NDJSON: one Segment-shaped message per line (`track`,
/// `identify`, `page`, `screen`, `group` or `alias`), as `tally export` and
/// Segment's own archives write them.
///
/// Every line goes through the same validation as live events; a line that fails
/// is reported by its number and skipped, and never stops the others. Importing
/// a file twice stores nothing twice: the stores skip events already stored by
/// (timestamp, event id), and a line without a `messageId` gets an id derived
/// from its bytes. Each line must say when its event happened (`timestamp`):
/// a backfill without times would land on today.
///
/// ```swift
/// var importer = EventImporter(sink: store)
/// while let chunk = try file.read() { try await importer.consume(chunk) }
/// let report = try await importer.finish()
/// ```
public struct EventImporter {
    /// What an import did.
    public struct Report: Sendable, Hashable {
        /// Lines read, blank ones excluded.
        public var lines = 0
        /// Events stored by this import.
        public var stored = 0
        /// Valid events that were already stored (a re-import, overlapping files).
        public var alreadyStored = 0
        /// Lines that were skipped, with why.
        public var rejected: [Rejection] = []
        /// How many lines were rejected (``rejected`` keeps only the first
        /// ``EventImporter/keptRejections``).
        public var rejectedCount = 0
        /// The earliest and latest event time imported.
        public var timeRange: ClosedRange<Timestamp>?
    }

    /// A line that was not imported.
    public struct Rejection: Sendable, Hashable, CustomStringConvertible {
        /// 1-based, as an editor shows it.
        public var line: Int
        public var reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    /// Only this many rejections are kept in the report; the rest are counted.
    public static let keptRejections = 100
    /// A longer line is rejected unread (it cannot hold a message of 32 KB, even
    /// with every character escaped).
    public static let maxLineBytes = 256 * 1024

    public private(set) var report = Report()
    private let sink: any EventSink
    private let defaultService: String
    private let limits: EventLimits
    private let policy: PIIPolicy
    private let batchSize: Int
    private let now: Timestamp
    private var partialLine: [UInt8] = []
    private var skippingLongLine = false
    private var lineNumber = 0
    private var atStartOfInput = true
    /// The first bytes, held until there are enough to tell a byte order mark.
    private var head: [UInt8] = []
    private var pending: [EnrichedEvent] = []

    /// - Parameters:
    ///   - defaultService: the service of a line without `context.service`.
    ///   - now: the `receivedAt` of a line without one.
    public init(sink: any EventSink, defaultService: String = "import", limits: EventLimits = .default,
                policy: PIIPolicy = .default, batchSize: Int = 1_000, now: Timestamp = .now()) {
        self.sink = sink
        self.defaultService = defaultService
        self.limits = limits
        self.policy = policy
        self.batchSize = max(1, batchSize)
        self.now = now
    }

    /// Reads the complete lines in `bytes` (a line may continue into the next
    /// chunk), writing a batch to the sink whenever one fills up.
    public mutating func consume(_ bytes: some Collection<UInt8>) async throws {
        guard atStartOfInput else { return try await split(bytes) }
        // The first three bytes may be a UTF-8 byte order mark, as some editors write.
        head.append(contentsOf: bytes)
        guard head.count >= 3 else { return }
        try await startAfterByteOrderMark()
    }

    private mutating func startAfterByteOrderMark() async throws {
        atStartOfInput = false
        let first = head
        head = []
        try await split(first.starts(with: [0xEF, 0xBB, 0xBF]) ? first.dropFirst(3) : first[...])
    }

    private mutating func split(_ bytes: some Collection<UInt8>) async throws {
        var start = bytes.startIndex
        while let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            if partialLine.isEmpty {
                try await line(Array(bytes[start..<newline]))
            } else {
                partialLine.append(contentsOf: bytes[start..<newline])
                let whole = partialLine
                partialLine.removeAll(keepingCapacity: true)
                try await line(whole)
            }
            start = bytes.index(after: newline)
        }
        guard !skippingLongLine else { return }
        partialLine.append(contentsOf: bytes[start...])
        if partialLine.count > Self.maxLineBytes {
            // Keep counting lines, but not the bytes of one that is too long.
            skippingLongLine = true
            partialLine.removeAll()
        }
    }

    /// Imports a last line without a newline and writes what is pending.
    public mutating func finish() async throws -> Report {
        if atStartOfInput { try await startAfterByteOrderMark() }
        if !partialLine.isEmpty || skippingLongLine {
            let last = partialLine
            partialLine.removeAll()
            try await line(last)
        }
        try await flush()
        return report
    }

    private mutating func line(_ raw: [UInt8]) async throws {
        lineNumber += 1
        var bytes = raw[...]
        if bytes.last == 13 { bytes = bytes.dropLast() }  // CRLF files
        guard skippingLongLine || bytes.contains(where: { $0 != 32 && $0 != 9 }) else { return }
        report.lines += 1
        guard !skippingLongLine, bytes.count <= Self.maxLineBytes else {
            skippingLongLine = false
            reject("is longer than \(Self.maxLineBytes / 1024) KB; a message may be at most 32 KB of JSON")
            return
        }
        do {
            pending.append(try event(from: bytes))
        } catch let error as JSONParseError {
            reject("is not valid JSON at column \(error.column): \(error.reason)")
        } catch let error as EventValidationError {
            reject("\(error)")
        }
        if pending.count >= batchSize { try await flush() }
    }

    private func event(from bytes: ArraySlice<UInt8>) throws -> EnrichedEvent {
        let value = try JSONValue.parse(bytes, maxDepth: 32)
        guard case .object(var message) = value else {
            throw EventValidationError(code: .wrongType, event: "", field: nil, reason: "each line must be one JSON object")
        }
        let type = message["type"]?.stringValue ?? "track"
        try SegmentCall.checkSize(byteCount: bytes.count, name: message["event"]?.stringValue ?? type)
        message = try SegmentCall.trackShaped(message, type: type)
        if message["timestamp"] == nil || message["timestamp"] == .null {
            throw EventValidationError(code: .missingField, event: message["event"]?.stringValue ?? type, field: "timestamp",
                                       reason: "is required in an import: the ISO-8601 time the event happened")
        }
        if message["messageId"] == nil || message["messageId"] == .null {
            // Stable across re-imports of the same line, so they dedupe.
            message["messageId"] = .string(EventID.derived(fromMessageID: "import:" + String(decoding: bytes, as: UTF8.self)).uuidString)
        }
        return try EnrichedEvent(wire: message, receivedAt: now, defaultService: defaultService, limits: limits, policy: policy)
    }

    private mutating func reject(_ reason: String) {
        report.rejectedCount += 1
        if report.rejected.count < Self.keptRejections {
            report.rejected.append(Rejection(line: lineNumber, reason: reason))
        }
    }

    private mutating func flush() async throws {
        guard !pending.isEmpty else { return }
        let stored = try await sink.write(pending)
        report.stored += stored
        report.alreadyStored += pending.count - stored
        for event in pending {
            let time = event.timestamp
            if let range = report.timeRange {
                report.timeRange = min(range.lowerBound, time)...max(range.upperBound, time)
            } else {
                report.timeRange = time...time
            }
        }
        pending.removeAll(keepingCapacity: true)
    }
}
