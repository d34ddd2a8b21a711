/// A JSON value that keeps integers apart from other numbers.
///
/// Event properties, context and query results are `JSONValue`s. Unlike
/// `JSONSerialization`, the parser keeps `1` (``int(_:)``) distinct from `1.0` and `1e2`
/// (``double(_:)``), so a property tracked as an integer is stored and aggregated as one.
///
/// ```swift
/// let properties: JSONValue = ["plan": "pro", "seats": 3, "price": 9.5, "tags": ["a", "b"]]
/// properties["seats"]?.intValue          // 3
/// properties.serialized()                // {"plan":"pro","price":9.5,"seats":3,"tags":["a","b"]}
/// let parsed = try JSONValue(parsing: #"{"seats":3}"#)
/// ```
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// A JSON number written without fraction or exponent that fits in `Int`.
    case int(Int)
    /// Any other JSON number. Never NaN or infinity: JSON cannot express them.
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
}

/// The members of a JSON object.
public typealias JSONObject = [String: JSONValue]

// MARK: - Literals

extension JSONValue: ExpressibleByNilLiteral {
    public init(nilLiteral: ()) {
        self = .null
    }
}

extension JSONValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) {
        self = .bool(value)
    }
}

extension JSONValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) {
        self = .int(value)
    }
}

extension JSONValue: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) {
        self = .double(value)
    }
}

extension JSONValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) {
        self = .string(value)
    }
}

extension JSONValue: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: JSONValue...) {
        self = .array(elements)
    }
}

extension JSONValue: ExpressibleByDictionaryLiteral {
    /// Creates an object; as in parsed JSON, the last of duplicate keys wins.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements, uniquingKeysWith: { _, last in last }))
    }
}

// MARK: - Accessors

extension JSONValue {
    /// The string, if this is a ``string(_:)``.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The integer, if this is an ``int(_:)``. A ``double(_:)`` gives `nil` even when
    /// it is integral, so that `1.0` is never mistaken for an integer.
    public var intValue: Int? {
        if case .int(let value) = self { return value }
        return nil
    }

    /// The number as a `Double`, if this is an ``int(_:)`` or a ``double(_:)``.
    public var doubleValue: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }

    /// The Boolean, if this is a ``bool(_:)``.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The elements, if this is an ``array(_:)``.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The members, if this is an ``object(_:)``.
    public var objectValue: JSONObject? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// Whether this is ``null``.
    public var isNull: Bool {
        self == .null
    }

    /// The member named `key`; `nil` if it is absent or this is not an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// The JSON type's name, for error messages: "null", "boolean", "integer", "number",
    /// "string", "array" or "object".
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int: "integer"
        case .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

// MARK: - Measures

extension JSONValue {
    /// How deeply containers nest: 0 for a scalar, 1 for `[]`, `{}` or `[1]`, 2 for `[[1]]`.
    ///
    /// A value parsed with `maxDepth: n` always has `depth <= n`.
    public var depth: Int {
        switch self {
        case .null, .bool, .int, .double, .string:
            0
        case .array(let elements):
            1 + elements.reduce(0) { max($0, $1.depth) }
        case .object(let members):
            1 + members.values.reduce(0) { max($0, $1.depth) }
        }
    }

    /// The number of object keys at all levels: `{"a":{"b":1},"c":[{"d":2}]}` has 4.
    public var keyCount: Int {
        switch self {
        case .null, .bool, .int, .double, .string:
            0
        case .array(let elements):
            elements.reduce(0) { $0 + $1.keyCount }
        case .object(let members):
            members.values.reduce(members.count) { $0 + $1.keyCount }
        }
    }
}

// MARK: - Description

extension JSONValue: CustomStringConvertible {
    /// The value as compact JSON text, as ``serialized()`` writes it.
    public var description: String {
        serialized()
    }
}
