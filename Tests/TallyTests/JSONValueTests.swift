import Tally
import Testing

/// A document the parser must reject, and where and why.
struct InvalidJSONDocument: Sendable, CustomStringConvertible {
    var text: String
    var offset: Int
    var line: Int = 1
    var column: Int
    var reason: String

    init(_ text: String, offset: Int, line: Int = 1, column: Int? = nil, _ reason: String) {
        self.text = text
        self.offset = offset
        self.line = line
        self.column = column ?? offset + 1
        self.reason = reason
    }

    var description: String {
        text.debugDescription
    }
}

@Suite("JSONValue")
struct JSONValueTests {
    // MARK: Round trips

    static let roundTripValues: [JSONValue] = [
        nil,
        true,
        false,
        0,
        -42,
        .int(.max),
        .int(.min),
        0.0,
        -0.5,
        0.1,
        100.0,
        1e-5,
        1.5e300,
        .double(.leastNonzeroMagnitude),
        .double(.greatestFiniteMagnitude),
        .double(9_007_199_254_740_994),
        "",
        "plain",
        "quote \" backslash \\ slash /",
        "controls \u{0} \u{1} \u{8} \u{9} \u{A} \u{C} \u{D} \u{1F} \u{7F}",
        "é 中文 😀 👩‍👩‍👧 \u{2028} \u{2029} €",
        [],
        [:],
        [1, 1.0, "1", [1], ["1": 1]],
        [
            "user": ["id": 12, "name": "Zoë 😀", "score": 99.5, "tags": ["a", "b"]],
            "nested": [[[[]]], [:], [["deep": [true, false, nil]]]],
            "counts": [0, -1, 9_223_372_036_854_775_807, 2.5e-8],
            "": "empty key",
            "line\nbreak": "key with escapes \u{2028}",
        ],
    ]

    @Test("parse(serialized()) gives back the same value", arguments: roundTripValues)
    func roundTrip(value: JSONValue) throws {
        let text = value.serialized()
        let parsed = try JSONValue(parsing: text)
        #expect(parsed == value)
        #expect(try JSONValue.parse(Array(text.utf8)) == value)
        #expect(parsed.serialized() == text)
        // Unsorted (for jsonb): other key order maybe, the same value.
        var unsorted: [UInt8] = []
        value.serialize(into: &unsorted, sortedKeys: false)
        #expect(try JSONValue.parse(unsorted) == value)
        #expect(unsorted.count == text.utf8.count)
    }

    @Test func roundTripKeepsIntsAndDoublesApart() throws {
        let value: JSONValue = ["int": 100, "double": 100.0, "list": [1, 1.0, 1e2]]
        let text = value.serialized()
        #expect(text == #"{"double":100.0,"int":100,"list":[1,1.0,100.0]}"#)
        let parsed = try JSONValue(parsing: text)
        #expect(parsed["int"] == .int(100))
        #expect(parsed["double"] == .double(100))
        #expect(parsed["list"] == [.int(1), .double(1), .double(100)])
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let value = try JSONValue(parsing: #"["\uD83D\uDE00", "\u00e9\u00C9", "\"\\\/\b\f\n\r\t", "a\u0000b", "\u2028"]"#)
        #expect(value == ["😀", "éÉ", "\"\\/\u{8}\u{C}\n\r\t", "a\u{0}b", "\u{2028}"])
        #expect(value.arrayValue?[0].stringValue?.unicodeScalars.map(\.value) == [0x1F600])
    }

    @Test func acceptsRawMultiByteUTF8() throws {
        let bytes: [UInt8] = [0x22] + Array("é中😀".utf8) + [0x22]
        #expect(try JSONValue.parse(bytes) == "é中😀")
    }

    @Test func acceptsWhitespaceAroundTokens() throws {
        let value = try JSONValue(parsing: " \t\r\n{ \"a\" :\n[ 1 ,\t2 ] , \"b\" : { } }\r\n ")
        #expect(value == ["a": [1, 2], "b": [:]])
    }

    @Test func parsesNonContiguousCollectionsAndSlices() throws {
        let bytes = Array(#"xx[1,{"a":2.5}]"#.utf8)
        #expect(try JSONValue.parse(AnyCollection(bytes.dropFirst(2))) == [1, ["a": 2.5]])
        #expect(try JSONValue.parse(bytes[2...]) == [1, ["a": 2.5]])
        #expect(try JSONValue.parse("[true]".utf8) == [true])
    }

    // MARK: Objects

    @Test func keyOrderDoesNotMatter() throws {
        let first = try JSONValue(parsing: #"{"a":1,"b":2}"#)
        let second = try JSONValue(parsing: #"{"b":2,"a":1}"#)
        #expect(first == second)
        #expect(first.hashValue == second.hashValue)
        #expect(first.serialized() == second.serialized())
    }

    @Test func lastDuplicateKeyWins() throws {
        let value = try JSONValue(parsing: #"{"a":1,"b":true,"a":{"c":2}}"#)
        #expect(value == ["a": ["c": 2], "b": true])
        let literal: JSONValue = ["a": 1, "a": 2]
        #expect(literal == ["a": 2])
    }

    @Test func serializesKeysInByteOrder() {
        let value: JSONValue = ["b": 1, "é": 2, "a": 3, "Z": 4, "aa": 5, "": 6]
        #expect(value.serialized() == #"{"":6,"Z":4,"a":3,"aa":5,"b":1,"é":2}"#)
    }

    // MARK: Numbers

    @Test func distinguishesIntegersFromOtherNumbers() throws {
        #expect(try JSONValue(parsing: "1") == .int(1))
        #expect(try JSONValue(parsing: "1.0") == .double(1))
        #expect(try JSONValue(parsing: "1e2") == .double(100))
        #expect(try JSONValue(parsing: "1E+2") == .double(100))
        #expect(try JSONValue(parsing: "-1.5e-3") == .double(-0.0015))
        #expect(try JSONValue(parsing: "-0") == .int(0))
        #expect(try JSONValue(parsing: "-0.0") == .double(0))
        #expect(try JSONValue(parsing: "0.1") == .double(0.1))
        #expect(JSONValue.int(1) != JSONValue.double(1))
    }

    @Test func integersThatOverflowIntBecomeDoubles() throws {
        #expect(try JSONValue(parsing: "9223372036854775807") == .int(.max))
        #expect(try JSONValue(parsing: "-9223372036854775808") == .int(.min))
        #expect(try JSONValue(parsing: "9223372036854775808") == .double(9.223372036854775808e18))
        #expect(try JSONValue(parsing: "-9223372036854775809") == .double(-9.223372036854775808e18))
        #expect(try JSONValue(parsing: "123456789012345678901234567890") == .double(1.2345678901234568e29))
    }

    @Test func rejectsNumbersBeyondDouble() throws {
        let error = #expect(throws: JSONParseError.self) { try JSONValue(parsing: "[1e400]") }
        #expect(error?.offset == 1)
        #expect(error?.code == .invalidNumber)
        #expect(error?.reason == "number is too large for a 64-bit floating-point value")
        #expect(try JSONValue(parsing: "1e-400") == .double(0))
    }

    @Test func serializesNumbers() {
        #expect(JSONValue.int(100).serialized() == "100")
        #expect(JSONValue.int(-7).serialized() == "-7")
        #expect(JSONValue.int(.min).serialized() == "-9223372036854775808")
        #expect(JSONValue.double(100).serialized() == "100.0")
        #expect(JSONValue.double(0.1).serialized() == "0.1")
        #expect(JSONValue.double(1e-5).serialized() == "1e-05")
        #expect(JSONValue.double(1.5e300).serialized() == "1.5e+300")
        #expect(JSONValue.double(1e16).serialized() == "1e+16")
        #expect(JSONValue.double(-0.0).serialized() == "-0.0")
    }

    @Test func nonFiniteDoublesSerializeAsNull() {
        #expect(JSONValue.double(.nan).serialized() == "null")
        #expect(JSONValue.array([.double(.infinity), .double(-.infinity)]).serialized() == "[null,null]")
    }

    // MARK: Strings

    @Test func escapesWhatJSONRequires() {
        let value: JSONValue = "\"\\/\u{8}\u{C}\n\r\t\u{0}\u{1F}\u{7F} é😀"
        #expect(value.serialized() == "\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\u{7F} é😀\"")
    }

    @Test func escapesLineAndParagraphSeparators() throws {
        let value: JSONValue = "a\u{2028}b\u{2029}c\u{2027}€"
        let text = value.serialized()
        #expect(text == "\"a\\u2028b\\u2029c\u{2027}€\"")
        #expect(try JSONValue(parsing: text) == value)
    }

    // MARK: Errors

    static let invalidDocuments: [InvalidJSONDocument] = [
        .init("", offset: 0, "unexpected end of input; expected a value"),
        .init("  ", offset: 2, "unexpected end of input; expected a value"),
        .init("[", offset: 1, "unexpected end of input; expected a value"),
        .init(#"{"a":1"#, offset: 6, "unexpected end of input; expected ',' or '}' after an object member"),
        .init("[1,2,]", offset: 5, "trailing comma before ']'"),
        .init("[1, \n]", offset: 5, line: 2, column: 1, "trailing comma before ']'"),
        .init(#"{"a":1,}"#, offset: 7, "trailing comma before '}'"),
        .init("[1,,2]", offset: 3, "expected a value"),
        .init("[1 2]", offset: 3, "expected ',' or ']' after an array element"),
        .init("[1}", offset: 2, "expected ',' or ']' after an array element"),
        .init(#"{"a":1 "b":2}"#, offset: 7, "expected ',' or '}' after an object member"),
        .init(#"{"a" 1}"#, offset: 5, "expected ':' after an object key"),
        .init("{a:1}", offset: 1, "expected a string key or '}'"),
        .init(#"{"a":1,2:3}"#, offset: 7, "expected a string key after ','"),
        .init(#"{"a":}"#, offset: 5, "expected a value"),
        .init("01", offset: 0, "leading zeros are not allowed"),
        .init("-01", offset: 1, "leading zeros are not allowed"),
        .init("[007]", offset: 1, "leading zeros are not allowed"),
        .init("NaN", offset: 0, "expected a value"),
        .init("Infinity", offset: 0, "expected a value"),
        .init("-Infinity", offset: 1, "expected a digit after '-'"),
        .init("[1,nan]", offset: 3, "expected a value"),
        .init("+1", offset: 0, "expected a value"),
        .init(".5", offset: 0, "expected a value"),
        .init("1.", offset: 2, "unexpected end of input; expected a digit after the decimal point"),
        .init("1.e5", offset: 2, "expected a digit after the decimal point"),
        .init("1e", offset: 2, "unexpected end of input; expected a digit in the exponent"),
        .init("[1e+]", offset: 4, "expected a digit in the exponent"),
        .init("0x10", offset: 1, "unexpected data after the JSON value"),
        .init("tru", offset: 0, "expected a value"),
        .init("True", offset: 0, "expected a value"),
        .init("[nul]", offset: 1, "expected a value"),
        .init("'a'", offset: 0, "expected a value"),
        .init("\"a\tb\"", offset: 2, "unescaped control character in a string"),
        .init("\"a\nb\"", offset: 2, "unescaped control character in a string"),
        .init("\"\u{0}\"", offset: 1, "unescaped control character in a string"),
        .init(#""\x""#, offset: 1, "invalid escape sequence"),
        .init(#""ab\'""#, offset: 3, "invalid escape sequence"),
        .init(#""\u12G4""#, offset: 1, "expected four hexadecimal digits after \\u"),
        .init(#""\u12"#, offset: 1, "expected four hexadecimal digits after \\u"),
        .init(#""\uD83D""#, offset: 1, "unpaired UTF-16 surrogate in a \\u escape"),
        .init(#""x\uDE00\uD83D""#, offset: 2, "unpaired UTF-16 surrogate in a \\u escape"),
        .init(#""\uD83D\u0041""#, offset: 1, "unpaired UTF-16 surrogate in a \\u escape"),
        .init(#""\uD83D\n""#, offset: 1, "unpaired UTF-16 surrogate in a \\u escape"),
        .init(#""\uD83Dx""#, offset: 1, "unpaired UTF-16 surrogate in a \\u escape"),
        .init(#""abc"#, offset: 4, "unexpected end of input; expected '\"' to end the string"),
        .init(#""abc\"#, offset: 5, "unexpected end of input; expected '\"' to end the string"),
        .init("[1]x", offset: 3, "unexpected data after the JSON value"),
        .init("1 2", offset: 2, "unexpected data after the JSON value"),
        .init("{} {}", offset: 3, "unexpected data after the JSON value"),
        .init("\u{FEFF}1", offset: 0, "expected a value"),
        .init("{\n  \"a\": 1,\n  \"b\" 2\n}", offset: 18, line: 3, column: 7, "expected ':' after an object key"),
        .init("[\r\n1,\r\n\r\n}", offset: 9, line: 4, column: 1, "expected a value"),
    ]

    @Test("rejects invalid documents at the right place", arguments: invalidDocuments)
    func rejects(document: InvalidJSONDocument) {
        let error = #expect(throws: JSONParseError.self) { try JSONValue(parsing: document.text) }
        #expect(error?.reason == document.reason)
        #expect(error?.offset == document.offset)
        #expect(error?.line == document.line)
        #expect(error?.column == document.column)
    }

    static let invalidUTF8: [[UInt8]] = [
        [0x22, 0x80, 0x22],                     // lone continuation byte
        [0x22, 0xC0, 0xAF, 0x22],               // overlong "/"
        [0x22, 0xE0, 0x80, 0xAF, 0x22],         // overlong, three bytes
        [0x22, 0xED, 0xA0, 0x80, 0x22],         // encoded surrogate U+D800
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],   // above U+10FFFF
        [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22],   // invalid lead byte
        [0x22, 0xE2, 0x82, 0x22],               // truncated sequence
        [0x22, 0xC3],                           // truncated at end of input
        [0x22, 0xFF, 0x22],                     // never valid
    ]

    @Test("rejects invalid UTF-8 in strings", arguments: invalidUTF8)
    func rejectsInvalidUTF8(bytes: [UInt8]) {
        let error = #expect(throws: JSONParseError.self) { try JSONValue.parse(bytes) }
        #expect(error?.offset == 1)
        #expect(error?.code == .invalidString)
        #expect(error?.reason == "invalid UTF-8")
    }

    @Test func rejectsBytesOutsideStrings() {
        let error = #expect(throws: JSONParseError.self) { try JSONValue.parse([0x5B, 0xC3, 0xA9, 0x5D]) }
        #expect(error?.offset == 1)
        #expect(error?.reason == "expected a value")
    }

    @Test func errorCodesNameTheKindOfProblem() {
        let cases: [(String, JSONParseError.Code)] = [
            ("[1,", .unexpectedEndOfInput),
            ("[1 2]", .syntax),
            (#""\q""#, .invalidString),
            ("-a", .invalidNumber),
            ("[[1]]", .nestingTooDeep),
        ]
        for (text, code) in cases {
            let error = #expect(throws: JSONParseError.self) { try JSONValue(parsing: text, maxDepth: 1) }
            #expect(error?.code == code, "\(text)")
        }
    }

    @Test func errorDescriptionNamesThePlaceButNotTheInput() {
        let error = #expect(throws: JSONParseError.self) {
            try JSONValue(parsing: #"{"password":"hunter2" "x":1}"#)
        }
        #expect(error?.description == "invalid JSON at line 1, column 23 (byte 22): expected ',' or '}' after an object member")
        #expect(error?.description.contains("hunter2") == false)
    }

    // MARK: Repeated objects

    // A batch from one device repeats each event's context byte for byte; the
    // parser reads such an object once and shares it. What it gives back must not
    // depend on that.

    @Test func repeatedAndNearlyRepeatedObjectsParseLikeAnyOther() throws {
        let text = #"{"batch":[{"context":{"os":{"name":"iOS"},"n":1}},{"context":{"os":{"name":"iOS"},"n":1}},"#
            + #"{"context":{"os":{"name":"iOSX"},"n":2}},{"context":{"os":{"name":"iOS"}}},{"context":{"os":{"name":"iOS"},"n":10}},"#
            + #"{"other":{"os":{"name":"iOS"},"n":1}}]}"#
        let value = try JSONValue(parsing: text)
        #expect(value == ["batch": [
            ["context": ["os": ["name": "iOS"], "n": 1]],
            ["context": ["os": ["name": "iOS"], "n": 1]],
            ["context": ["os": ["name": "iOSX"], "n": 2]],
            ["context": ["os": ["name": "iOS"]]],
            ["context": ["os": ["name": "iOS"], "n": 10]],
            ["other": ["os": ["name": "iOS"], "n": 1]],
        ]])
    }

    @Test func errorsAfterARepeatedObjectNameTheirPlace() {
        let text = #"[{"c":{"a":1}},{"c":{"a":1}} x]"#
        let error = #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
        #expect(error?.offset == text.utf8.count - 2)
        #expect(error?.reason == "expected ',' or ']' after an array element")
    }

    @Test func aRepeatedObjectDeeperDownIsHeldToTheDepthLimit() throws {
        let fits = #"{"k":{"x":{"y":1}},"n":{"x":{"y":1}}}"#
        #expect(try JSONValue(parsing: fits, maxDepth: 3) == ["k": ["x": ["y": 1]], "n": ["x": ["y": 1]]])
        // The same "k" text one level deeper nests four levels.
        let tooDeep = #"{"k":{"x":{"y":1}},"n":{"k":{"x":{"y":1}}}}"#
        let error = #expect(throws: JSONParseError.self) { try JSONValue(parsing: tooDeep, maxDepth: 3) }
        #expect(error?.code == .nestingTooDeep)
        #expect(error?.offset == 33)
    }

    // MARK: Depth

    @Test func enforcesTheDepthLimit() throws {
        let deepest = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(try JSONValue(parsing: deepest).depth == 64)

        let tooDeep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        let error = #expect(throws: JSONParseError.self) { try JSONValue(parsing: tooDeep) }
        #expect(error?.offset == 64)
        #expect(error?.code == .nestingTooDeep)
        #expect(error?.reason == "nesting deeper than 64 levels")
    }

    @Test func depthLimitCountsObjectsAndArrays() throws {
        #expect(try JSONValue(parsing: #"{"a":[1]}"#, maxDepth: 2) == ["a": [1]])
        let error = #expect(throws: JSONParseError.self) { try JSONValue(parsing: #"{"a":[{}]}"#, maxDepth: 2) }
        #expect(error?.offset == 6)
        #expect(error?.reason == "nesting deeper than 2 levels")
        #expect(try JSONValue(parsing: "\"scalar\"", maxDepth: 0) == "scalar")
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: "[]", maxDepth: 0) }
    }

    @Test func deepNestingBeyondTheLimitFailsWithoutRecursing() {
        let text = String(repeating: "[", count: 200_000)
        let error = #expect(throws: JSONParseError.self) { try JSONValue(parsing: text, maxDepth: 1_000_000) }
        #expect(error?.code == .unexpectedEndOfInput)
        #expect(error?.offset == 200_000)
    }

    @Test func measuresDepthAndKeyCount() {
        let cases: [(JSONValue, depth: Int, keyCount: Int)] = [
            (1, 0, 0),
            ("s", 0, 0),
            ([], 1, 0),
            ([:], 1, 0),
            ([1], 1, 0),
            ([[1]], 2, 0),
            ([1, [2, [3]], 4], 3, 0),
            (["a": 1, "b": 2], 1, 2),
            (["a": ["b": 1], "c": [["d": 2]]], 3, 4),
            ([["a": [:]], ["b": ["c": ["d": nil]]]], 4, 4),
        ]
        for (value, depth, keyCount) in cases {
            #expect(value.depth == depth, "\(value)")
            #expect(value.keyCount == keyCount, "\(value)")
        }
    }

    // MARK: Accessors

    @Test func accessorsMatchOnlyTheirCase() {
        let object: JSONValue = ["s": "x", "i": 3, "d": 2.5, "b": true, "a": [1], "o": ["k": nil], "n": nil]
        #expect(object["s"]?.stringValue == "x")
        #expect(object["i"]?.intValue == 3)
        #expect(object["i"]?.doubleValue == 3)
        #expect(object["d"]?.doubleValue == 2.5)
        #expect(object["d"]?.intValue == nil)
        #expect(object["b"]?.boolValue == true)
        #expect(object["a"]?.arrayValue == [1])
        #expect(object["o"]?.objectValue == ["k": .null])
        #expect(object["n"]?.isNull == true)
        #expect(object["s"]?.isNull == false)
        #expect(object["missing"] == nil)
        #expect(object["s"]?["s"] == nil)
        #expect(JSONValue.string("3").intValue == nil)
        #expect(JSONValue.int(1).boolValue == nil)
        #expect(JSONValue.array([]).objectValue == nil)
    }

    @Test func typeNamesForMessages() {
        let values: [JSONValue] = [nil, true, 1, 1.5, "s", [], [:]]
        #expect(values.map(\.typeName) == ["null", "boolean", "integer", "number", "string", "array", "object"])
    }

    @Test func descriptionIsCompactJSON() {
        let value: JSONValue = ["list": [1, 2.5, "three", nil, false], "object": ["k": "v"]]
        #expect(value.description == #"{"list":[1,2.5,"three",null,false],"object":{"k":"v"}}"#)
        #expect("\(value)" == value.serialized())
    }

    @Test func serializeIntoAppends() {
        var bytes = Array("prefix:".utf8)
        JSONValue.array([1, "a"]).serialize(into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == #"prefix:[1,"a"]"#)
    }
}

@Test("parse(measuringElementsOf:) gives each element's size as sent")
func measuresTheElementsOfOneArray() throws {
    let elements = [#"{"a":1}"#, #"[1, 2]"#, #""x""#, "7", #"{"b":{"c":"é"}}"#, #"{"a":1}"#]
    let text = #"{"sentAt":"now","batch":["# + elements.joined(separator: " ,\n ") + #"],"other":[[1],2]}"#
    let (value, sizes) = try JSONValue.parse(Array(text.utf8), measuringElementsOf: "batch")
    #expect(sizes == elements.map(\.utf8.count))
    #expect(try value == JSONValue.parse(Array(text.utf8)))
    #expect(value["batch"]?.arrayValue?.count == sizes.count)

    // The last duplicate key wins, for the sizes as for the value.
    #expect(try JSONValue.parse(Array(#"{"batch":[1,22],"batch":[333]}"#.utf8), measuringElementsOf: "batch").elementSizes == [3])
    #expect(try JSONValue.parse(Array(#"{"batch":[1,22],"batch":[]}"#.utf8), measuringElementsOf: "batch").elementSizes == [])
    #expect(try JSONValue.parse(Array(#"{"batch":[1,22],"batch":5}"#.utf8), measuringElementsOf: "batch").elementSizes == [])
    // Only the root object's member is measured.
    #expect(try JSONValue.parse(Array(#"{"x":{"batch":[1,22]}}"#.utf8), measuringElementsOf: "batch").elementSizes == [])
    #expect(try JSONValue.parse(Array(#"[{"batch":[1,22]}]"#.utf8), measuringElementsOf: "batch").elementSizes == [])
}
