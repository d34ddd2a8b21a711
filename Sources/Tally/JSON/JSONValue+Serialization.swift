extension JSONValue {
    /// The value as compact JSON text.
    ///
    /// Object keys are sorted by their UTF-8 bytes, so equal values always give the same
    /// text. Parsing the text gives back an equal value, with integers still ``int(_:)``
    /// and other numbers still ``double(_:)``.
    ///
    /// ```swift
    /// let value: JSONValue = ["b": 1, "a": [1.0, "é"]]
    /// value.serialized()  // {"a":[1.0,"é"],"b":1}
    /// ```
    public func serialized() -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        serialize(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The order of object keys when they are sorted: byte-wise, not `String.<`,
    /// which orders by Unicode canonical equivalence.
    static func keyPrecedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// Appends an object with its members in the order given.
    static func serializeMembers(_ members: some Sequence<(key: String, value: JSONValue)>, into bytes: inout [UInt8], sortedKeys: Bool) {
        bytes.append(UInt8(ascii: "{"))
        var first = true
        for (key, value) in members {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            appendEscaped(key, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
            value.serialize(into: &bytes, sortedKeys: sortedKeys)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    /// Appends the value as compact UTF-8 JSON to `bytes`, as ``serialized()`` writes it.
    ///
    /// A ``double(_:)`` that is NaN or infinite, which a `JSONValue` should never hold,
    /// is written as `null` so that the output stays valid JSON.
    ///
    /// - Parameters:
    ///   - bytes: The buffer to append to; its contents are kept.
    ///   - sortedKeys: Whether object keys are written in sorted order (the default,
    ///     so equal values give equal text). Where the text is parsed again by a
    ///     reader that orders keys itself (PostgreSQL's `jsonb`), skipping the sort
    ///     saves an allocation and the comparisons of every object.
    public func serialize(into bytes: inout [UInt8], sortedKeys: Bool = true) {
        switch self {
        case .null:
            Self.append("null", to: &bytes)
        case .bool(let value):
            Self.append(value ? "true" : "false", to: &bytes)
        case .int(let value):
            Self.append(value, to: &bytes)
        case .double(let value):
            Self.append(value, to: &bytes)
        case .string(let value):
            Self.appendEscaped(value, to: &bytes)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 {
                    bytes.append(UInt8(ascii: ","))
                }
                element.serialize(into: &bytes, sortedKeys: sortedKeys)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            if sortedKeys {
                Self.serializeMembers(members.sorted { Self.keyPrecedes($0.key, $1.key) }, into: &bytes, sortedKeys: true)
            } else {
                Self.serializeMembers(members, into: &bytes, sortedKeys: false)
            }
        }
    }

    private static func append(_ text: StaticString, to bytes: inout [UInt8]) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    private static func append(_ value: Int, to bytes: inout [UInt8]) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
        }
        // Digits come out least significant first; write them, then reverse them.
        let start = bytes.endIndex
        var magnitude = value.magnitude
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        } while magnitude != 0
        bytes[start...].reverse()
    }

    private static func append(_ value: Double, to bytes: inout [UInt8]) {
        guard value.isFinite else {
            append("null", to: &bytes)
            return
        }
        // `description` is the shortest text that reads back as the same Double, and
        // is valid JSON for finite values ("1.0", "1e-05", "1.5e+300").
        var text = value.description
        text.withUTF8 { bytes.append(contentsOf: $0) }
        // A number without '.' or exponent would read back as an integer.
        if !text.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 | 0x20 == UInt8(ascii: "e") }) {
            append(".0", to: &bytes)
        }
    }

    /// Appends `string` quoted, escaping what RFC 8259 requires, plus U+2028 and U+2029,
    /// which JavaScript before ES2019 does not accept in string literals.
    private static func appendEscaped(_ string: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            var runStart = 0
            var index = 0
            while index < utf8.count {
                let byte = utf8[index]
                // Fast path: everything that is written as it is.
                if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") && byte != 0xE2 {
                    index += 1
                    continue
                }
                // U+2028 is E2 80 A8 and U+2029 is E2 80 A9; other E2 sequences stay.
                let isLineOrParagraphSeparator = byte == 0xE2 && index + 2 < utf8.count
                    && utf8[index + 1] == 0x80 && (utf8[index + 2] == 0xA8 || utf8[index + 2] == 0xA9)
                if byte == 0xE2 && !isLineOrParagraphSeparator {
                    index += 1
                    continue
                }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                switch byte {
                case UInt8(ascii: "\""): append("\\\"", to: &bytes)
                case UInt8(ascii: "\\"): append("\\\\", to: &bytes)
                case UInt8(ascii: "\n"): append("\\n", to: &bytes)
                case UInt8(ascii: "\r"): append("\\r", to: &bytes)
                case UInt8(ascii: "\t"): append("\\t", to: &bytes)
                case 0x08: append("\\b", to: &bytes)
                case 0x0C: append("\\f", to: &bytes)
                case 0xE2:
                    append("\\u202", to: &bytes)
                    bytes.append(utf8[index + 2] == 0xA8 ? UInt8(ascii: "8") : UInt8(ascii: "9"))
                    index += 2
                default:
                    append("\\u00", to: &bytes)
                    bytes.append(hexDigit(byte >> 4))
                    bytes.append(hexDigit(byte & 0x0F))
                }
                index += 1
                runStart = index
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}

extension JSONValue {
    /// At least as many bytes as ``serialize(into:sortedKeys:)`` writes, without
    /// writing them: a string byte is at most six escaped (`\u001f`, and `\u2028`
    /// for three bytes), a number at most 32 characters. For a size limit that
    /// most values are far under, so that only those near it are serialized.
    var serializedSizeBound: Int {
        switch self {
        case .null, .bool: 5
        case .int, .double: 32
        case .string(let text): 2 + 6 * text.utf8.count
        case .array(let items): items.reduce(2 + items.count) { $0 + $1.serializedSizeBound }
        case .object(let members):
            members.reduce(2 + 2 * members.count) { $0 + 2 + 6 * $1.key.utf8.count + $1.value.serializedSizeBound }
        }
    }
}
