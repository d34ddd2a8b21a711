import PostgresNIO
import Tally

/// A one-dimensional array column in PostgreSQL's binary form, its elements
/// decoded here. postgres-nio's own `[T]` decoding is generic code that runs
/// unspecialized for every element (its type metadata looked up each time) and
/// refuses NULL elements; an aggregate query that returns its rows' columns as
/// arrays reads thousands of elements through this instead.
struct PostgresArray<Element: PostgresArrayElement>: PostgresDecodable {
    var elements: [Element]

    init<JSONDecoder: PostgresJSONDecoder>(
        from buffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat, context: PostgresDecodingContext<JSONDecoder>
    ) throws {
        guard format == .binary else { throw PostgresDecodingError.Code.failure }
        // Dimensions, a has-NULLs flag, the element type; then per dimension its
        // length and lower bound; then each element as a length (-1: NULL) and bytes.
        guard let (dimensions, _, elementType) = buffer.readMultipleIntegers(endianness: .big, as: (Int32, Int32, UInt32).self) else {
            throw PostgresDecodingError.Code.failure
        }
        guard PostgresDataType(elementType) == Element.elementType else { throw PostgresDecodingError.Code.typeMismatch }
        guard dimensions == 1 else {
            guard dimensions == 0 else { throw PostgresDecodingError.Code.failure }
            elements = []
            return
        }
        guard let (count, _) = buffer.readMultipleIntegers(endianness: .big, as: (Int32, Int32).self), count >= 0 else {
            throw PostgresDecodingError.Code.failure
        }
        elements = []
        elements.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let length = buffer.readInteger(endianness: .big, as: Int32.self) else { throw PostgresDecodingError.Code.failure }
            let bytes = length < 0 ? nil : buffer.readSlice(length: Int(length))
            guard length < 0 || bytes != nil, let element = Element(arrayElement: bytes) else {
                throw PostgresDecodingError.Code.failure
            }
            elements.append(element)
        }
    }
}

/// What ``PostgresArray`` can hold.
protocol PostgresArrayElement {
    static var elementType: PostgresDataType { get }
    /// The element from its binary bytes, `nil` for a NULL element; fails
    /// (returns `nil`) if the bytes do not hold one, or on NULL unless optional.
    init?(arrayElement bytes: ByteBuffer?)
}

extension Optional: PostgresArrayElement where Wrapped: PostgresArrayElement {
    static var elementType: PostgresDataType { Wrapped.elementType }

    init?(arrayElement bytes: ByteBuffer?) {
        guard let bytes else {
            self = .none
            return
        }
        guard let value = Wrapped(arrayElement: bytes) else { return nil }
        self = .some(value)
    }
}

extension Int64: PostgresArrayElement {
    static var elementType: PostgresDataType { .int8 }

    init?(arrayElement bytes: ByteBuffer?) {
        guard let bytes, bytes.readableBytes == 8, let value = bytes.getInteger(at: bytes.readerIndex, endianness: .big, as: Int64.self) else {
            return nil
        }
        self = value
    }
}

extension Double: PostgresArrayElement {
    static var elementType: PostgresDataType { .float8 }

    init?(arrayElement bytes: ByteBuffer?) {
        guard let bits = Int64(arrayElement: bytes) else { return nil }
        self = Double(bitPattern: UInt64(bitPattern: bits))
    }
}

extension ByteBuffer: PostgresArrayElement {
    static var elementType: PostgresDataType { .bytea }

    init?(arrayElement bytes: ByteBuffer?) {
        guard let bytes else { return nil }
        self = bytes
    }
}

extension PostgresTimestamp: PostgresArrayElement {
    static var elementType: PostgresDataType { .timestamptz }

    init?(arrayElement bytes: ByteBuffer?) {
        guard let microseconds = Int64(arrayElement: bytes) else { return nil }
        self.init(Timestamp(microsecondsSinceEpoch: microseconds + Self.epochOffset))
    }
}
