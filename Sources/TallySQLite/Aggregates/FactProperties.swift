#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tally

/// The properties a fact carries (``EventFact/propertyEventTypes``), picked out
/// of an event's stored `data` text, `{"context":…,"properties":{…}}`, in one
/// pass over its bytes. SQLite 3.40 (Debian 12's) parses the whole text again
/// for every `->>`: four times for each `api_request`. Reading `data` as it is
/// and scanning it here took ~40% off the day's read, and half off the
/// refresh's CPU (README).
///
/// A field is set only when `wanted` asks for it and the property has that
/// JSON type (a number, a string, a Boolean), as ``EventFact/init(_:)`` reads a
/// typed event; anything else, malformed text included, leaves it `nil`.
struct FactProperties {
    var durationMs: Double?
    var statusCode: Int?
    var method, route, provider, errorType, cocoonID: String?
    var success: Bool?

    struct Fields: OptionSet, Hashable {
        let rawValue: UInt8
        init(rawValue: UInt8) { self.rawValue = rawValue }

        static let durationMs = Fields(rawValue: 1 << 0)
        static let statusCode = Fields(rawValue: 1 << 1)
        static let method = Fields(rawValue: 1 << 2)
        static let route = Fields(rawValue: 1 << 3)
        static let provider = Fields(rawValue: 1 << 4)
        static let errorType = Fields(rawValue: 1 << 5)
        static let cocoonID = Fields(rawValue: 1 << 6)
        static let success = Fields(rawValue: 1 << 7)

        /// The field of a property key of ``EventFact/propertyEventTypes``.
        init(key: String) {
            switch key {
            case "duration_ms": self = .durationMs
            case "status_code": self = .statusCode
            case "method": self = .method
            case "route": self = .route
            case "provider": self = .provider
            case "error_type": self = .errorType
            case "cocoon_id": self = .cocoonID
            case "success": self = .success
            default: preconditionFailure("FactProperties has no field for EventFact.propertyEventTypes' \(key)")
            }
        }

        /// Each aggregated event type (``DayAggregates/Accumulator/eventTypes``)
        /// and the fields its aggregate reads, from ``EventFact/propertyEventTypes``.
        static let byEventType: [String: Fields] = {
            var table = Dictionary(uniqueKeysWithValues: DayAggregates.Accumulator.eventTypes.map { ($0, Fields()) })
            for (key, eventTypes) in EventFact.propertyEventTypes {
                for type in eventTypes { table[type, default: []].insert(Fields(key: key)) }
            }
            return table
        }()
    }

    /// No properties.
    init() {}

    /// Scans `data`, UTF-8 JSON text, for the `wanted` fields of its top-level
    /// `properties` object.
    init(data: UnsafeBufferPointer<UInt8>, wanted: Fields, interner: inout TextInterner) {
        guard !wanted.isEmpty else { return }
        var scanner = JSONScanner(data)
        guard scanner.enterObject() else { return }
        while let key = scanner.nextKey() {
            if scanner.keyEquals(key, "properties"), scanner.enterObject() {
                while let key = scanner.nextKey() { read(key, wanted, &scanner, &interner) }
                return
            }
            guard scanner.skipValue() else { return }
        }
    }

    private mutating func read(_ key: Range<Int>, _ wanted: Fields, _ scanner: inout JSONScanner, _ interner: inout TextInterner) {
        let field = Self.field(scanner, key)
        guard let field, wanted.contains(field) else {
            _ = scanner.skipValue()
            return
        }
        switch field {
        case .durationMs: durationMs = scanner.double()
        case .statusCode: statusCode = scanner.int()
        case .success: success = scanner.bool()
        default:
            let text = scanner.string(&interner)
            switch field {
            case .method: method = text
            case .route: route = text
            case .provider: provider = text
            case .errorType: errorType = text
            default: cocoonID = text
            }
        }
    }

    private static func field(_ scanner: JSONScanner, _ key: Range<Int>) -> Fields? {
        for (name, field) in keys where scanner.keyEquals(key, name) { return field }
        return nil
    }

    private static let keys: [(StaticString, Fields)] = [
        ("duration_ms", .durationMs), ("status_code", .statusCode), ("method", .method), ("route", .route),
        ("provider", .provider), ("error_type", .errorType), ("cocoon_id", .cocoonID), ("success", .success),
    ]
}

/// A forward-only reader of JSON text that skips what it is not asked for and
/// never reads past the end, whatever the bytes.
struct JSONScanner {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var i = 0
    /// Whether the object being read has had a member (a comma comes next).
    private var afterMember = false

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    private var current: UInt8? { i < bytes.count ? bytes[i] : nil }

    private mutating func skipWhitespace() {
        while let c = current, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 }
    }

    /// Moves into the object that starts here; `false` if none does.
    mutating func enterObject() -> Bool {
        skipWhitespace()
        guard current == UInt8(ascii: "{") else { return false }
        i += 1
        afterMember = false
        return true
    }

    /// The next member's key (the bytes between its quotes, escapes
    /// undecoded), leaving the scanner at its value; `nil` at the object's end
    /// or on malformed text.
    mutating func nextKey() -> Range<Int>? {
        skipWhitespace()
        if afterMember {
            guard current == UInt8(ascii: ",") else { return nil }
            i += 1
            skipWhitespace()
        }
        guard current == UInt8(ascii: "\"") else { return nil }
        let start = i + 1
        guard skipString() else { return nil }
        let key = start..<(i - 1)
        skipWhitespace()
        guard current == UInt8(ascii: ":") else { return nil }
        i += 1
        skipWhitespace()
        afterMember = true
        return key
    }

    /// Whether a key read by ``nextKey()`` is `name` (keys with escapes never are:
    /// none of the names looked for needs one).
    func keyEquals(_ key: Range<Int>, _ name: StaticString) -> Bool {
        key.count == name.utf8CodeUnitCount && memcmp(bytes.baseAddress! + key.lowerBound, name.utf8Start, key.count) == 0
    }

    /// Skips the value that starts here; `false` on malformed text.
    mutating func skipValue() -> Bool {
        skipWhitespace()
        guard let c = current else { return false }
        switch c {
        case UInt8(ascii: "\""):
            return skipString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            // Brackets are counted, strings skipped whole (they may hold brackets).
            var depth = 0
            while let c = current {
                switch c {
                case UInt8(ascii: "\""):
                    guard skipString() else { return false }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 {
                        i += 1
                        return true
                    }
                default: break
                }
                i += 1
            }
            return false
        default:
            // A number or a literal: up to the next delimiter.
            let start = i
            while let c = current, c != UInt8(ascii: ","), c != UInt8(ascii: "}"), c != UInt8(ascii: "]"),
                  c != 0x20, c != 0x0A, c != 0x0D, c != 0x09 { i += 1 }
            return i > start
        }
    }

    /// Skips the string whose opening quote is here, leaving the scanner after
    /// its closing quote.
    private mutating func skipString() -> Bool {
        i += 1
        while let c = current {
            i += 1
            if c == UInt8(ascii: "\\") {
                i += 1
            } else if c == UInt8(ascii: "\"") {
                return true
            }
        }
        return false
    }

    /// The number here as a Double, converted by `strtod` (correctly rounded, as
    /// the JSON parser that wrote it back reads it); `nil` for anything else.
    mutating func double() -> Double? {
        guard let end = numberEnd() else {
            _ = skipValue()
            return nil
        }
        defer { i = end }
        let length = end - i
        // Copied out with a NUL after it: `strtod` reads up to one, and the
        // text need not have one.
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { token in
            UnsafeMutableRawPointer(token.baseAddress!).copyMemory(from: bytes.baseAddress! + i, byteCount: length)
            token[length] = 0
            var parsedEnd: UnsafeMutablePointer<CChar>?
            let value = strtod(token.baseAddress!, &parsedEnd)
            return parsedEnd == token.baseAddress! + length ? value : nil
        }
    }

    /// The integer here (no fraction, no exponent, within `Int`); `nil` for anything else.
    mutating func int() -> Int? {
        guard let end = numberEnd() else {
            _ = skipValue()
            return nil
        }
        defer { i = end }
        var value = 0
        var position = i
        let negative = bytes[position] == UInt8(ascii: "-")
        if negative { position += 1 }
        while position < end {
            let digit = bytes[position] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = negative ? shifted.subtractingReportingOverflow(Int(digit)) : shifted.addingReportingOverflow(Int(digit))
            guard !o1, !o2 else { return nil }
            value = next
            position += 1
        }
        return value
    }

    /// `true` or `false` here; `nil` for anything else.
    mutating func bool() -> Bool? {
        let start = i
        guard skipValue() else { return nil }
        let token = bytes[start..<i]
        if token.elementsEqual("true".utf8) { return true }
        if token.elementsEqual("false".utf8) { return false }
        return nil
    }

    /// The string here, through `interner` when it has no escapes (values
    /// repeat), decoded otherwise; `nil` for any other value.
    mutating func string(_ interner: inout TextInterner) -> String? {
        guard current == UInt8(ascii: "\"") else {
            _ = skipValue()
            return nil
        }
        let start = i + 1
        guard skipString() else { return nil }
        let content = UnsafeBufferPointer(rebasing: bytes[start..<(i - 1)])
        guard content.contains(UInt8(ascii: "\\")) else { return interner.string(for: content) }
        return Self.unescape(content)
    }

    /// Where the JSON number starting here ends (`-`? digits, fraction,
    /// exponent), or `nil` if none starts here.
    private func numberEnd() -> Int? {
        var j = i
        func digits() -> Bool {
            let start = j
            while j < bytes.count, bytes[j] &- UInt8(ascii: "0") < 10 { j += 1 }
            return j > start
        }
        if j < bytes.count, bytes[j] == UInt8(ascii: "-") { j += 1 }
        guard digits() else { return nil }
        if j < bytes.count, bytes[j] == UInt8(ascii: ".") {
            j += 1
            guard digits() else { return nil }
        }
        if j < bytes.count, bytes[j] | 0x20 == UInt8(ascii: "e") {
            j += 1
            if j < bytes.count, bytes[j] == UInt8(ascii: "+") || bytes[j] == UInt8(ascii: "-") { j += 1 }
            guard digits() else { return nil }
        }
        return j
    }

    /// Decodes a string's escapes (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`,
    /// `\uXXXX` with surrogate pairs); an invalid escape becomes U+FFFD.
    static func unescape(_ content: UnsafeBufferPointer<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(content.count)
        var k = 0
        func hex4() -> UInt32? {
            guard k + 4 <= content.count else { return nil }
            var value: UInt32 = 0
            for c in content[k..<(k + 4)] {
                let nibble: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = UInt32(c - UInt8(ascii: "A") + 10)
                default: return nil
                }
                value = value << 4 | nibble
            }
            k += 4
            return value
        }
        while k < content.count {
            let c = content[k]
            k += 1
            guard c == UInt8(ascii: "\\"), k < content.count else {
                out.append(c)
                continue
            }
            let escape = content[k]
            k += 1
            switch escape {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4()
                if let high = scalar, (0xD800..<0xDC00).contains(high) {
                    // A high surrogate: its low half follows as another \u escape.
                    if k + 1 < content.count, content[k] == UInt8(ascii: "\\"), content[k + 1] == UInt8(ascii: "u") {
                        k += 2
                        if let low = hex4(), (0xDC00..<0xE000).contains(low) {
                            scalar = 0x10000 + (high - 0xD800) << 10 + (low - 0xDC00)
                        } else {
                            scalar = nil
                        }
                    } else {
                        scalar = nil
                    }
                }
                let decoded = scalar.flatMap(Unicode.Scalar.init) ?? "\u{FFFD}"
                out.append(contentsOf: String(decoded).utf8)
            default: out.append(escape)  // \" \\ \/
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
