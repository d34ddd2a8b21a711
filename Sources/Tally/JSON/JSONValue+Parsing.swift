#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a document is not valid JSON, and where.
///
/// `description` names the position and the rule that was broken, never the input
/// itself: documents carry event properties, which must not leak into logs.
///
/// ```swift
/// do {
///     _ = try JSONValue(parsing: #"{"a":1 "b":2}"#)
/// } catch {
///     print(error)  // invalid JSON at line 1, column 8 (byte 7): expected ',' or '}' after an object member
/// }
/// ```
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem, for code that reacts to some kinds differently.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case unexpectedEndOfInput
            case syntax
            case invalidString
            case invalidNumber
            case nestingTooDeep
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The input ended in the middle of a value.
        public static let unexpectedEndOfInput = Code(.unexpectedEndOfInput)
        /// A character that the grammar does not allow where it is.
        public static let syntax = Code(.syntax)
        /// A bad escape, an unescaped control character or invalid UTF-8 in a string.
        public static let invalidString = Code(.invalidString)
        /// A malformed number, or one too large for a `Double`.
        public static let invalidNumber = Code(.invalidNumber)
        /// Arrays and objects nested deeper than the parser's `maxDepth`.
        public static let nestingTooDeep = Code(.nestingTooDeep)

        public var description: String {
            base.rawValue
        }
    }

    /// The kind of problem.
    public let code: Code
    /// The byte offset of the problem from the start of the input, 0-based.
    public let offset: Int
    /// The line of the problem, 1-based; lines end at "\n".
    public let line: Int
    /// The column of the problem in bytes, 1-based.
    public let column: Int
    /// What rule was broken, e.g. "expected ',' or '}' after an object member".
    public let reason: String

    public var description: String {
        "invalid JSON at line \(line), column \(column) (byte \(offset)): \(reason)"
    }
}

extension JSONValue {
    /// Parses a JSON document (RFC 8259) from its UTF-8 bytes.
    ///
    /// Numbers written as `-?digits` that fit in `Int` become ``int(_:)``; all others
    /// become ``double(_:)``. Of duplicate object keys, the last wins. Whitespace may
    /// surround the value; anything else after it is an error.
    ///
    /// ```swift
    /// let value = try JSONValue.parse(body, maxDepth: 16)
    /// ```
    ///
    /// - Parameters:
    ///   - bytes: The document, in UTF-8.
    ///   - maxDepth: How deeply arrays and objects may nest (see ``depth``). Keep it
    ///     modest: deeper values cost stack space to compare, write and free.
    /// - Throws: ``JSONParseError`` at the first byte that breaks the grammar.
    public static func parse(
        _ bytes: some Collection<UInt8>,
        maxDepth: Int = 64
    ) throws(JSONParseError) -> JSONValue {
        try parse(bytes, maxDepth: maxDepth, measuringElementsOf: nil).value
    }

    /// Parses a JSON document, and measures the elements of the array under `key`
    /// in the root object: how many bytes of the input each took, as sent, so
    /// that a size limit on them costs no walk of the parsed values.
    ///
    /// ```swift
    /// let (body, sizes) = try JSONValue.parse(bytes, maxDepth: 32, measuringElementsOf: "batch")
    /// // body["batch"]?.arrayValue?[i] took sizes[i] bytes
    /// ```
    ///
    /// - Returns: The value, and one size for each element of `root[key]` when
    ///   that is an array (of the last such member, as the last duplicate key
    ///   wins); no sizes otherwise.
    public static func parse(
        _ bytes: some Collection<UInt8>,
        maxDepth: Int = 64,
        measuringElementsOf key: String?
    ) throws(JSONParseError) -> (value: JSONValue, elementSizes: [Int]) {
        let parse = { (buffer: UnsafeBufferPointer<UInt8>) in
            Result { () throws(JSONParseError) -> (value: JSONValue, elementSizes: [Int]) in
                var parser = Parser(bytes: buffer, maxDepth: maxDepth, measuredKey: key)
                let value = try parser.parseDocument()
                guard let key, case .array? = value[key] else { return (value, []) }
                return (value, parser.elementSizes)
            }
        }
        if let result = bytes.withContiguousStorageIfAvailable(parse) {
            return try result.get()
        }
        return try Array(bytes).withUnsafeBufferPointer(parse).get()
    }

    /// Parses a JSON document (RFC 8259) from text.
    ///
    /// - Parameters:
    ///   - text: The document.
    ///   - maxDepth: How deeply arrays and objects may nest (see ``depth``).
    /// - Throws: ``JSONParseError`` at the first byte that breaks the grammar.
    public init(parsing text: String, maxDepth: Int = 64) throws(JSONParseError) {
        var text = text
        let result = text.withUTF8 { buffer in
            Result { () throws(JSONParseError) -> JSONValue in
                var parser = Parser(bytes: buffer, maxDepth: maxDepth, measuredKey: nil)
                return try parser.parseDocument()
            }
        }
        self = try result.get()
    }
}

// MARK: - Parser

extension JSONValue {
    /// A parser over contiguous UTF-8 bytes.
    ///
    /// It keeps open containers on an explicit stack instead of recursing, so that the
    /// depth limit, not the thread's stack size, bounds what it accepts. The elements
    /// and members of open containers wait in shared buffers, so that each array or
    /// dictionary is built once, at its final size, when its container closes.
    fileprivate struct Parser {
        /// An array or object whose elements are still being read.
        private struct Container {
            var isObject: Bool
            /// Where its elements or members start in `pendingElements` or `pendingMembers`.
            var start: Int
            /// The key of the member whose value is being read.
            var key: String = ""
            /// The offset of its opening bracket or brace.
            var openedAt: Int
            /// It is the array whose elements are measured.
            var measuresElements = false
        }

        private let bytes: UnsafeBufferPointer<UInt8>
        private let maxDepth: Int
        private var position = 0
        /// Reused to assemble strings that contain escapes.
        private var scratch: [UInt8] = []
        private var pendingElements: [JSONValue] = []
        private var pendingMembers: [(key: String, value: JSONValue)] = []
        private var repeatedObjects = RepeatedObjects()
        /// The key in the root object whose array's elements are measured.
        private let measuredKey: String?
        /// The size in bytes of each element of that array, as read so far.
        private(set) var elementSizes: [Int] = []

        init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int, measuredKey: String?) {
            self.bytes = bytes
            self.maxDepth = maxDepth
            self.measuredKey = measuredKey
        }

        mutating func parseDocument() throws(JSONParseError) -> JSONValue {
            var stack: [Container] = []
            var value: JSONValue
            var elementStart = 0

            readValue: while true {
                skipWhitespace()
                guard position < bytes.count else {
                    throw error(.syntax, "expected a value", at: position)
                }
                if let container = stack.last, container.measuresElements {
                    elementStart = position
                }
                switch bytes[position] {
                case .openBrace:
                    try checkDepth(stack.count)
                    if let parent = stack.last, parent.isObject,
                       let earlier = repeatedObjects.match(key: parent.key, depth: stack.count, at: position, in: bytes) {
                        position += earlier.byteCount
                        value = earlier.value
                        break
                    }
                    let openedAt = position
                    position += 1
                    skipWhitespace()
                    if position < bytes.count, bytes[position] == .closeBrace {
                        position += 1
                        value = .object([:])
                    } else {
                        let key = try parseKey(expected: "expected a string key or '}'")
                        stack.append(Container(isObject: true, start: pendingMembers.count, key: key, openedAt: openedAt))
                        continue readValue
                    }
                case .openBracket:
                    try checkDepth(stack.count)
                    let openedAt = position
                    let isMeasured = stack.count == 1 && stack[0].isObject && stack[0].key == measuredKey
                    if isMeasured {
                        elementSizes.removeAll(keepingCapacity: true)  // those of an earlier duplicate key
                    }
                    position += 1
                    skipWhitespace()
                    if position < bytes.count, bytes[position] == .closeBracket {
                        position += 1
                        value = .array([])
                    } else {
                        stack.append(Container(isObject: false, start: pendingElements.count, openedAt: openedAt,
                                               measuresElements: isMeasured))
                        continue readValue
                    }
                case .quote:
                    value = .string(try parseString())
                case UInt8(ascii: "t"):
                    try parseLiteral("true")
                    value = .bool(true)
                case UInt8(ascii: "f"):
                    try parseLiteral("false")
                    value = .bool(false)
                case UInt8(ascii: "n"):
                    try parseLiteral("null")
                    value = .null
                case .minus, .zero...UInt8(ascii: "9"):
                    value = try parseNumber()
                case .closeBracket where stack.last?.isObject == false:
                    // Inside a non-empty array, a value is expected only after a comma.
                    throw error(.syntax, "trailing comma before ']'", at: position)
                default:
                    throw error(.syntax, "expected a value", at: position)
                }

                // A value is complete: store it in its container, and close every
                // container that ends right after it.
                while let top = stack.indices.last {
                    if stack[top].measuresElements {
                        elementSizes.append(position - elementStart)
                    }
                    skipWhitespace()
                    let next: UInt8? = position < bytes.count ? bytes[position] : nil
                    if stack[top].isObject {
                        pendingMembers.append((stack[top].key, value))
                        switch next {
                        case .comma:
                            position += 1
                            skipWhitespace()
                            if position < bytes.count, bytes[position] == .closeBrace {
                                throw error(.syntax, "trailing comma before '}'", at: position)
                            }
                            stack[top].key = try parseKey(expected: "expected a string key after ','")
                            continue readValue
                        case .closeBrace:
                            position += 1
                            let closed = stack.removeLast()
                            value = .object(closeObject(startingAt: closed.start))
                            if let parent = stack.last, parent.isObject {
                                repeatedObjects.remember(value, key: parent.key, depth: stack.count,
                                                         start: closed.openedAt, end: position)
                            }
                        default:
                            throw error(.syntax, "expected ',' or '}' after an object member", at: position)
                        }
                    } else {
                        pendingElements.append(value)
                        switch next {
                        case .comma:
                            position += 1
                            continue readValue
                        case .closeBracket:
                            position += 1
                            value = .array(closeArray(startingAt: stack.removeLast().start))
                        default:
                            throw error(.syntax, "expected ',' or ']' after an array element", at: position)
                        }
                    }
                }
                break readValue
            }

            skipWhitespace()
            guard position == bytes.count else {
                throw error(.syntax, "unexpected data after the JSON value", at: position)
            }
            return value
        }

        // MARK: Structure

        private mutating func skipWhitespace() {
            while position < bytes.count {
                switch bytes[position] {
                case .space, .tab, .newline, .carriageReturn: position += 1
                default: return
                }
            }
        }

        private mutating func closeArray(startingAt start: Int) -> [JSONValue] {
            let elements = Array(pendingElements[start...])
            pendingElements.removeSubrange(start...)
            return elements
        }

        private mutating func closeObject(startingAt start: Int) -> JSONObject {
            var members = JSONObject(minimumCapacity: pendingMembers.count - start)
            for member in pendingMembers[start...] {
                members[member.key] = member.value  // The last of duplicate keys wins.
            }
            pendingMembers.removeSubrange(start...)
            return members
        }

        private func checkDepth(_ openContainers: Int) throws(JSONParseError) {
            if openContainers >= maxDepth {
                throw error(.nestingTooDeep, "nesting deeper than \(maxDepth) levels", at: position)
            }
        }

        /// Reads `"key"` and the `:` after it, leaving `position` at the member's value.
        private mutating func parseKey(expected: String) throws(JSONParseError) -> String {
            guard position < bytes.count, bytes[position] == .quote else {
                throw error(.syntax, expected, at: position)
            }
            let key = try parseString()
            skipWhitespace()
            guard position < bytes.count, bytes[position] == .colon else {
                throw error(.syntax, "expected ':' after an object key", at: position)
            }
            position += 1
            return key
        }

        private mutating func parseLiteral(_ literal: StaticString) throws(JSONParseError) {
            let start = position
            let matches = literal.withUTF8Buffer { expected in
                guard bytes.count - start >= expected.count else { return false }
                return expected.indices.allSatisfy { bytes[start + $0] == expected[$0] }
            }
            guard matches else {
                throw error(.syntax, "expected a value", at: start)
            }
            position += literal.utf8CodeUnitCount
        }

        // MARK: Numbers

        private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
            let start = position
            let isNegative = bytes[position] == .minus
            if isNegative {
                position += 1
            }
            guard position < bytes.count, bytes[position].isDigit else {
                throw error(.invalidNumber, "expected a digit after '-'", at: position)
            }

            // Accumulate towards the sign so that Int.min fits.
            var integer = 0
            var overflowed = false
            if bytes[position] == .zero {
                position += 1
                if position < bytes.count, bytes[position].isDigit {
                    throw error(.invalidNumber, "leading zeros are not allowed", at: position - 1)
                }
            } else {
                while position < bytes.count, bytes[position].isDigit {
                    if !overflowed {
                        let digit = Int(bytes[position] &- .zero)
                        let (shifted, o1) = integer.multipliedReportingOverflow(by: 10)
                        let (next, o2) = isNegative
                            ? shifted.subtractingReportingOverflow(digit)
                            : shifted.addingReportingOverflow(digit)
                        overflowed = o1 || o2
                        integer = next
                    }
                    position += 1
                }
            }

            var isInteger = true
            if position < bytes.count, bytes[position] == .period {
                isInteger = false
                position += 1
                guard position < bytes.count, bytes[position].isDigit else {
                    throw error(.invalidNumber, "expected a digit after the decimal point", at: position)
                }
                skipDigits()
            }
            if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
                isInteger = false
                position += 1
                if position < bytes.count, bytes[position] == .plus || bytes[position] == .minus {
                    position += 1
                }
                guard position < bytes.count, bytes[position].isDigit else {
                    throw error(.invalidNumber, "expected a digit in the exponent", at: position)
                }
                skipDigits()
            }

            if isInteger && !overflowed {
                return .int(integer)
            }
            let token = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            guard let double = Double(token), double.isFinite else {
                throw error(.invalidNumber, "number is too large for a 64-bit floating-point value", at: start)
            }
            return .double(double)
        }

        private mutating func skipDigits() {
            while position < bytes.count, bytes[position].isDigit {
                position += 1
            }
        }

        // MARK: Strings

        /// Reads a string from its opening quote to after its closing quote.
        ///
        /// Runs without escapes are validated in place and copied in one go; only
        /// strings with escapes are assembled in `scratch`.
        private mutating func parseString() throws(JSONParseError) -> String {
            position += 1
            var runStart = position
            var isEscaped = false
            while position < bytes.count {
                let byte = bytes[position]
                if byte == .quote {
                    let run = UnsafeBufferPointer(rebasing: bytes[runStart..<position])
                    position += 1
                    if isEscaped {
                        scratch.append(contentsOf: run)
                        return String(decoding: scratch, as: UTF8.self)
                    }
                    return String(decoding: run, as: UTF8.self)
                } else if byte == .backslash {
                    if !isEscaped {
                        isEscaped = true
                        scratch.removeAll(keepingCapacity: true)
                    }
                    scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<position]))
                    try parseEscape()
                    runStart = position
                } else if byte < 0x20 {
                    throw error(.invalidString, "unescaped control character in a string", at: position)
                } else if byte < 0x80 {
                    position += 1
                } else {
                    try skipMultiByteScalar()
                }
            }
            throw error(.unexpectedEndOfInput, "expected '\"' to end the string", at: position)
        }

        /// Reads one escape sequence at `position` into `scratch`.
        private mutating func parseEscape() throws(JSONParseError) {
            let start = position
            guard position + 1 < bytes.count else {
                throw error(.unexpectedEndOfInput, "expected '\"' to end the string", at: bytes.count)
            }
            let unescaped: UInt8
            switch bytes[position + 1] {
            case .quote: unescaped = .quote
            case .backslash: unescaped = .backslash
            case .slash: unescaped = .slash
            case UInt8(ascii: "b"): unescaped = 0x08
            case UInt8(ascii: "f"): unescaped = 0x0C
            case UInt8(ascii: "n"): unescaped = .newline
            case UInt8(ascii: "r"): unescaped = .carriageReturn
            case UInt8(ascii: "t"): unescaped = .tab
            case UInt8(ascii: "u"):
                let unit = try parseHexEscape()
                var scalarValue = UInt32(unit)
                if (0xD800...0xDBFF).contains(unit) {
                    // A high surrogate must be followed by an escaped low surrogate.
                    guard position + 1 < bytes.count,
                          bytes[position] == .backslash, bytes[position + 1] == UInt8(ascii: "u")
                    else {
                        throw error(.invalidString, "unpaired UTF-16 surrogate in a \\u escape", at: start)
                    }
                    let low = try parseHexEscape()
                    guard (0xDC00...0xDFFF).contains(low) else {
                        throw error(.invalidString, "unpaired UTF-16 surrogate in a \\u escape", at: start)
                    }
                    scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(unit) {
                    throw error(.invalidString, "unpaired UTF-16 surrogate in a \\u escape", at: start)
                }
                appendUTF8(scalarValue)
                return
            default:
                throw error(.invalidString, "invalid escape sequence", at: start)
            }
            scratch.append(unescaped)
            position += 2
        }

        /// Appends a scalar that is not a surrogate to `scratch`.
        private mutating func appendUTF8(_ scalar: UInt32) {
            switch scalar {
            case ..<0x80:
                scratch.append(UInt8(scalar))
            case ..<0x800:
                scratch.append(0xC0 | UInt8(scalar >> 6))
                scratch.append(0x80 | UInt8(scalar & 0x3F))
            case ..<0x10000:
                scratch.append(0xE0 | UInt8(scalar >> 12))
                scratch.append(0x80 | UInt8(scalar >> 6 & 0x3F))
                scratch.append(0x80 | UInt8(scalar & 0x3F))
            default:
                scratch.append(0xF0 | UInt8(scalar >> 18))
                scratch.append(0x80 | UInt8(scalar >> 12 & 0x3F))
                scratch.append(0x80 | UInt8(scalar >> 6 & 0x3F))
                scratch.append(0x80 | UInt8(scalar & 0x3F))
            }
        }

        /// Reads `\uXXXX` at `position` and returns its code unit.
        private mutating func parseHexEscape() throws(JSONParseError) -> UInt16 {
            var unit: UInt16 = 0
            for index in (position + 2)..<(position + 6) {
                guard index < bytes.count, let digit = bytes[index].hexDigitValue else {
                    throw error(.invalidString, "expected four hexadecimal digits after \\u", at: position)
                }
                unit = unit << 4 | UInt16(digit)
            }
            position += 6
            return unit
        }

        /// Validates the UTF-8 sequence of one scalar at `position` (RFC 3629: no
        /// overlong forms, no surrogates, nothing above U+10FFFF) and steps over it.
        private mutating func skipMultiByteScalar() throws(JSONParseError) {
            let lead = bytes[position]
            let length: Int
            var secondRange: ClosedRange<UInt8> = 0x80...0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; secondRange = 0xA0...0xBF
            case 0xED: length = 3; secondRange = 0x80...0x9F
            case 0xE1...0xEF: length = 3
            case 0xF0: length = 4; secondRange = 0x90...0xBF
            case 0xF4: length = 4; secondRange = 0x80...0x8F
            case 0xF1...0xF3: length = 4
            default: throw error(.invalidString, "invalid UTF-8", at: position)
            }
            guard position + length <= bytes.count, secondRange.contains(bytes[position + 1]) else {
                throw error(.invalidString, "invalid UTF-8", at: position)
            }
            for index in (position + 2)..<(position + length) where bytes[index] & 0xC0 != 0x80 {
                throw error(.invalidString, "invalid UTF-8", at: position)
            }
            position += length
        }

        // MARK: Errors

        /// An error at `offset`; at the end of the input, the reason says so.
        private func error(_ code: JSONParseError.Code, _ reason: String, at offset: Int) -> JSONParseError {
            var line = 1
            var lineStart = 0
            for index in 0..<min(offset, bytes.count) where bytes[index] == .newline {
                line += 1
                lineStart = index + 1
            }
            let atEnd = offset >= bytes.count
            return JSONParseError(
                code: atEnd ? .unexpectedEndOfInput : code,
                offset: offset,
                line: line,
                column: offset - lineStart + 1,
                reason: atEnd ? "unexpected end of input; \(reason)" : reason
            )
        }
    }
}

// MARK: - Repeated objects

/// The objects parsed so far in one document, the latest for each member key and depth, so
/// that an object sent again byte for byte is parsed once and shared: the
/// `context` of every event in a batch from one device, or its `library` and
/// `os`. An object's text decides both its value and where it ends, so text
/// equal to an earlier object's is that object.
private struct RepeatedObjects {
    struct Entry {
        var key: String
        /// How many containers enclose it: equal depths keep the depth limit's verdict.
        var depth: Int
        var start: Int
        var byteCount: Int
        var value: JSONValue
    }

    /// Enough for the objects of one event (its properties, context and the
    /// context's parts: app, device, library, network, os, screen, traits…).
    /// A new key beyond that replaces the entry added longest ago, so a message
    /// with more keys than this misses on every one of them: keep it roomy.
    private static let capacity = 16
    private var entries: [Entry] = []
    private var oldest = 0

    /// The object remembered for `key` at `depth`, if the text at `position` repeats it.
    func match(key: String, depth: Int, at position: Int, in bytes: UnsafeBufferPointer<UInt8>) -> Entry? {
        guard let entry = entries.first(where: { $0.depth == depth && $0.key == key }),
              entry.byteCount <= bytes.count - position,
              let base = bytes.baseAddress,
              memcmp(base + entry.start, base + position, entry.byteCount) == 0
        else { return nil }
        return entry
    }

    /// Remembers `object`, the value of `key` at `depth`, parsed from `start..<end`.
    mutating func remember(_ object: JSONValue, key: String, depth: Int, start: Int, end: Int) {
        let entry = Entry(key: key, depth: depth, start: start, byteCount: end - start, value: object)
        if let index = entries.firstIndex(where: { $0.depth == depth && $0.key == key }) {
            entries[index] = entry
        } else if entries.count < Self.capacity {
            entries.append(entry)
        } else {
            entries[oldest] = entry
            oldest = (oldest + 1) % Self.capacity
        }
    }
}

// MARK: - Bytes

extension UInt8 {
    fileprivate static let tab = UInt8(ascii: "\t")
    fileprivate static let newline = UInt8(ascii: "\n")
    fileprivate static let carriageReturn = UInt8(ascii: "\r")
    fileprivate static let space = UInt8(ascii: " ")
    fileprivate static let quote = UInt8(ascii: "\"")
    fileprivate static let plus = UInt8(ascii: "+")
    fileprivate static let comma = UInt8(ascii: ",")
    fileprivate static let minus = UInt8(ascii: "-")
    fileprivate static let period = UInt8(ascii: ".")
    fileprivate static let slash = UInt8(ascii: "/")
    fileprivate static let zero = UInt8(ascii: "0")
    fileprivate static let colon = UInt8(ascii: ":")
    fileprivate static let openBracket = UInt8(ascii: "[")
    fileprivate static let backslash = UInt8(ascii: "\\")
    fileprivate static let closeBracket = UInt8(ascii: "]")
    fileprivate static let openBrace = UInt8(ascii: "{")
    fileprivate static let closeBrace = UInt8(ascii: "}")

    fileprivate var isDigit: Bool {
        self &- .zero < 10
    }

    fileprivate var hexDigitValue: UInt8? {
        switch self {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): self - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): self - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): self - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
