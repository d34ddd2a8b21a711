import PostgresNIO
import Tally

/// PostgreSQL's binary `timestamptz`: microseconds since 2000-01-01 UTC, so a
/// ``Timestamp`` goes in and out exactly (no Double on the way).
struct PostgresTimestamp: PostgresNonThrowingEncodable, PostgresDecodable, Sendable {
    static let epochOffset: Int64 = 946_684_800_000_000
    var timestamp: Timestamp

    init(_ timestamp: Timestamp) { self.timestamp = timestamp }

    static var psqlType: PostgresDataType { .timestamptz }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(timestamp.microsecondsSinceEpoch - Self.epochOffset, as: Int64.self)
    }

    init<JSONDecoder: PostgresJSONDecoder>(
        from buffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat, context: PostgresDecodingContext<JSONDecoder>
    ) throws {
        guard format == .binary, type == .timestamptz || type == .timestamp else { throw PostgresDecodingError.Code.typeMismatch }
        guard buffer.readableBytes == 8, let value = buffer.readInteger(as: Int64.self) else { throw PostgresDecodingError.Code.failure }
        timestamp = Timestamp(microsecondsSinceEpoch: value + Self.epochOffset)
    }
}

/// PostgreSQL's binary `uuid`: the 16 bytes, most significant first.
struct PostgresEventID: PostgresNonThrowingEncodable, PostgresDecodable, Sendable {
    var id: EventID

    init(_ id: EventID) { self.id = id }

    static var psqlType: PostgresDataType { .uuid }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(id.high)
        buffer.writeInteger(id.low)
    }

    init<JSONDecoder: PostgresJSONDecoder>(
        from buffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat, context: PostgresDecodingContext<JSONDecoder>
    ) throws {
        guard format == .binary, type == .uuid else { throw PostgresDecodingError.Code.typeMismatch }
        guard buffer.readableBytes == 16, let high = buffer.readInteger(as: UInt64.self), let low = buffer.readInteger(as: UInt64.self) else {
            throw PostgresDecodingError.Code.failure
        }
        id = EventID(high: high, low: low)
    }
}

/// The element type of an ``ArrayColumn``.
protocol ArrayColumnKind: Sendable {
    static var element: PostgresDataType { get }
    static var array: PostgresDataType { get }
}

enum UUIDElement: ArrayColumnKind {
    static var element: PostgresDataType { .uuid }
    static var array: PostgresDataType { .uuidArray }
}

enum TimestampElement: ArrayColumnKind {
    static var element: PostgresDataType { .timestamptz }
    static var array: PostgresDataType { .timestamptzArray }
}

enum TextElement: ArrayColumnKind {
    static var element: PostgresDataType { .text }
    static var array: PostgresDataType { .textArray }
}

enum JSONBElement: ArrayColumnKind {
    static var element: PostgresDataType { .jsonb }
    static var array: PostgresDataType { .jsonbArray }
}

/// One column of a batch as a one-dimensional PostgreSQL array in binary form,
/// written element by element into one buffer: a whole batch is a handful of
/// bind parameters, and `unnest` turns them back into rows on the server.
struct ArrayColumn<Kind: ArrayColumnKind>: PostgresNonThrowingEncodable, Sendable {
    private var elements: ByteBuffer
    private var count: Int32 = 0
    private var hasNull = false

    init(capacity: Int) {
        elements = ByteBufferAllocator().buffer(capacity: capacity)
    }

    static var psqlType: PostgresDataType { Kind.array }
    static var psqlFormat: PostgresFormat { .binary }

    mutating func appendNull() {
        elements.writeInteger(-1, as: Int32.self)
        hasNull = true
        count += 1
    }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(count == 0 ? 0 : 1, as: Int32.self)  // dimensions
        buffer.writeInteger(hasNull ? 1 : 0, as: Int32.self)
        buffer.writeInteger(Kind.element.rawValue)
        guard count > 0 else { return }
        buffer.writeInteger(count, as: Int32.self)  // length of the dimension
        buffer.writeInteger(1, as: Int32.self)  // lower bound
        var elements = elements
        buffer.writeBuffer(&elements)
    }
}

extension ArrayColumn where Kind == UUIDElement {
    mutating func append(_ id: EventID) {
        elements.writeInteger(16, as: Int32.self)
        elements.writeInteger(id.high)
        elements.writeInteger(id.low)
        count += 1
    }
}

extension ArrayColumn where Kind == TimestampElement {
    mutating func append(_ timestamp: Timestamp) {
        elements.writeInteger(8, as: Int32.self)
        elements.writeInteger(timestamp.microsecondsSinceEpoch - PostgresTimestamp.epochOffset, as: Int64.self)
        count += 1
    }
}

extension ArrayColumn where Kind == TextElement {
    mutating func append(_ text: String?) {
        guard let text else { return appendNull() }
        let lengthIndex = elements.writerIndex
        elements.writeInteger(0, as: Int32.self)
        let written = elements.writeString(text)
        elements.setInteger(Int32(written), at: lengthIndex)
        count += 1
    }
}

extension ArrayColumn where Kind == JSONBElement {
    /// Appends compact JSON text (binary jsonb is a version byte, 1, then the text).
    mutating func append(json bytes: [UInt8]) {
        elements.writeInteger(Int32(bytes.count + 1))
        elements.writeInteger(1, as: UInt8.self)
        elements.writeBytes(bytes)
        count += 1
    }
}

/// PostgreSQL's binary `date`: days since 2000-01-01. A ``Timestamp`` goes in as
/// its UTC day and comes out as that day's midnight.
struct PostgresDate: PostgresNonThrowingEncodable, PostgresDecodable, Sendable {
    static let epochOffsetDays: Int64 = 10_957
    var day: Timestamp

    init(_ time: Timestamp) { day = time.startOfDay }

    static var psqlType: PostgresDataType { .date }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(Int32(day.microsecondsSinceEpoch / Timestamp.microsecondsPerDay - Self.epochOffsetDays))
    }

    init<JSONDecoder: PostgresJSONDecoder>(
        from buffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat, context: PostgresDecodingContext<JSONDecoder>
    ) throws {
        guard format == .binary, type == .date else { throw PostgresDecodingError.Code.typeMismatch }
        guard buffer.readableBytes == 4, let value = buffer.readInteger(as: Int32.self) else { throw PostgresDecodingError.Code.failure }
        day = Timestamp(microsecondsSinceEpoch: (Int64(value) + Self.epochOffsetDays) * Timestamp.microsecondsPerDay)
    }
}

enum DateElement: ArrayColumnKind {
    static var element: PostgresDataType { .date }
    static var array: PostgresDataType { .dateArray }
}

enum Int8Element: ArrayColumnKind {
    static var element: PostgresDataType { .int8 }
    static var array: PostgresDataType { .int8Array }
}

enum Float8Element: ArrayColumnKind {
    static var element: PostgresDataType { .float8 }
    static var array: PostgresDataType { .float8Array }
}

enum ByteaElement: ArrayColumnKind {
    static var element: PostgresDataType { .bytea }
    static var array: PostgresDataType { .byteaArray }
}

extension ArrayColumn where Kind == DateElement {
    mutating func append(_ day: Timestamp) {
        elements.writeInteger(4, as: Int32.self)
        elements.writeInteger(Int32(day.startOfDay.microsecondsSinceEpoch / Timestamp.microsecondsPerDay - PostgresDate.epochOffsetDays))
        count += 1
    }
}

extension ArrayColumn where Kind == Int8Element {
    mutating func append(_ value: Int) {
        elements.writeInteger(8, as: Int32.self)
        elements.writeInteger(Int64(value))
        count += 1
    }
}

extension ArrayColumn where Kind == Float8Element {
    mutating func append(_ value: Double?) {
        guard let value else { return appendNull() }
        elements.writeInteger(8, as: Int32.self)
        elements.writeInteger(value.bitPattern)
        count += 1
    }
}

extension ArrayColumn where Kind == ByteaElement {
    mutating func append(_ bytes: [UInt8]) {
        elements.writeInteger(Int32(bytes.count))
        elements.writeBytes(bytes)
        count += 1
    }
}
