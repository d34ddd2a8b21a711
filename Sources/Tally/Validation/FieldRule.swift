/// What a property value must look like. Each rule checks one JSON value and, when
/// it fails, says why in words a developer can act on (without echoing the value:
/// property values may be personal data).
public struct FieldRule: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// An opaque identifier: 1…maxLength of `A–Z a–z 0–9 _ - . :`.
        case identifier(maxLength: Int)
        /// A lowercase name such as a provider or a method: 1…maxLength of `a–z 0–9 _ - .`.
        case slug(maxLength: Int)
        /// Free text, 1…maxLength characters, no control characters other than tab and newline.
        case text(maxLength: Int)
        /// A URL path or route: starts with `/`, at most maxLength characters, no spaces.
        case path(maxLength: Int)
        /// One of a fixed set of strings.
        case oneOf([String])
        case boolean
        case integer(ClosedRange<Int>)
        /// A finite number in the range.
        case number(ClosedRange<Double>)
        /// A list of 0…maxCount slugs (field names, for example).
        case slugList(maxCount: Int, maxLength: Int)
    }

    public let kind: Kind

    public init(_ kind: Kind) { self.kind = kind }

    /// The JSON type this rule wants, for messages and JSON Schema.
    public var expectedType: String {
        switch kind {
        case .identifier, .slug, .text, .path, .oneOf: "string"
        case .boolean: "boolean"
        case .integer: "integer"
        case .number: "number"
        case .slugList: "array"
        }
    }

    /// Checks `value`; returns `nil` when it is acceptable, or the failure.
    public func check(_ value: JSONValue) -> (code: EventValidationError.Code, reason: String)? {
        switch kind {
        case .identifier(let maxLength):
            guard case .string(let s) = value else { return wrongType(value) }
            return Self.checkCharacters(s, maxLength: maxLength, what: "an identifier", allowed: "letters, digits, '_', '-', '.' and ':'", isAllowed: Self.isIdentifierByte)
        case .slug(let maxLength):
            guard case .string(let s) = value else { return wrongType(value) }
            return Self.checkCharacters(s, maxLength: maxLength, what: "a lowercase name", allowed: "lowercase letters, digits, '_', '-' and '.'", isAllowed: Self.isSlugByte)
        case .text(let maxLength):
            guard case .string(let s) = value else { return wrongType(value) }
            if s.isEmpty { return (.tooShort, "must not be empty") }
            if s.unicodeScalars.count > maxLength { return (.tooLong, "must be at most \(maxLength) characters") }
            if s.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\t" }) {
                return (.malformed, "must not contain control characters")
            }
            return nil
        case .path(let maxLength):
            guard case .string(let s) = value else { return wrongType(value) }
            if !s.hasPrefix("/") { return (.malformed, "must start with '/'") }
            if s.utf8.count > maxLength { return (.tooLong, "must be at most \(maxLength) bytes") }
            if s.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) { return (.malformed, "must not contain spaces or control characters") }
            return nil
        case .oneOf(let allowed):
            guard case .string(let s) = value else { return wrongType(value) }
            if !allowed.contains(s) { return (.notAllowed, "must be one of \(allowed.joined(separator: ", "))") }
            return nil
        case .boolean:
            guard case .bool = value else { return wrongType(value) }
            return nil
        case .integer(let range):
            guard case .int(let n) = value else { return wrongType(value) }
            if !range.contains(n) { return (.outOfRange, "must be \(Self.describe(range))") }
            return nil
        case .number(let range):
            let n: Double
            switch value {
            case .int(let i): n = Double(i)
            case .double(let d): n = d
            default: return wrongType(value)
            }
            if !n.isFinite || !range.contains(n) { return (.outOfRange, "must be \(Self.describe(range))") }
            return nil
        case .slugList(let maxCount, let maxLength):
            guard case .array(let items) = value else { return wrongType(value) }
            if items.count > maxCount { return (.tooLong, "must list at most \(maxCount) items") }
            for item in items {
                guard case .string(let s) = item else {
                    return (.wrongType, "must be a list of strings, but an item is \(item.typeName)")
                }
                if let failure = Self.checkCharacters(s, maxLength: maxLength, what: "a lowercase name", allowed: "lowercase letters, digits, '_', '-' and '.'", isAllowed: Self.isSlugByte) {
                    return (failure.code, "items " + failure.reason)
                }
            }
            return nil
        }
    }

    private func wrongType(_ value: JSONValue) -> (code: EventValidationError.Code, reason: String) {
        (.wrongType, "must be \(Self.article(expectedType)) \(expectedType), not \(Self.article(value.typeName)) \(value.typeName)")
    }

    private static func checkCharacters(
        _ s: String, maxLength: Int, what: String, allowed: String, isAllowed: (UInt8) -> Bool
    ) -> (code: EventValidationError.Code, reason: String)? {
        let bytes = s.utf8
        if bytes.isEmpty { return (.tooShort, "must not be empty") }
        if bytes.count > maxLength { return (.tooLong, "must be at most \(maxLength) characters") }
        if !bytes.allSatisfy(isAllowed) { return (.malformed, "must be \(what) made of \(allowed)") }
        return nil
    }

    static func isIdentifierByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"),
             UInt8(ascii: "."), UInt8(ascii: ":"):
            true
        default: false
        }
    }

    static func isSlugByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."):
            true
        default: false
        }
    }

    private static func article(_ word: String) -> String {
        word.first.map { "aeiou".contains($0) } == true ? "an" : "a"
    }

    private static func describe(_ range: ClosedRange<Int>) -> String {
        if range.upperBound == .max { return "≥ \(range.lowerBound)" }
        return "between \(range.lowerBound) and \(range.upperBound)"
    }

    private static func describe(_ range: ClosedRange<Double>) -> String {
        if range.upperBound == .greatestFiniteMagnitude { return "a finite number ≥ \(format(range.lowerBound))" }
        return "a number between \(format(range.lowerBound)) and \(format(range.upperBound))"
    }

    private static func format(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
    }
}
