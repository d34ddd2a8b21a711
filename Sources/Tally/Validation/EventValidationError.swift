/// Why an event was rejected: which event (and its index in a batch), which field,
/// which rule, in words a developer can act on.
///
/// `description` never prints property values, which may be personal data;
/// `debugDescription` adds the offending value for local debugging.
public struct EventValidationError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The rule that was broken.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case missingField = "missing_field"
            case unknownField = "unknown_field"
            case wrongType = "wrong_type"
            case tooShort = "too_short"
            case tooLong = "too_long"
            case outOfRange = "out_of_range"
            case malformed
            case notAllowed = "not_allowed"
            case invalidName = "invalid_name"
            case tooLarge = "too_large"
            case tooDeep = "too_deep"
            case tooManyKeys = "too_many_keys"
            case keyTooLong = "key_too_long"
            case personalData = "personal_data"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A required field is absent or null.
        public static let missingField = Code(.missingField)
        /// A catalogue event carries a property its schema does not have.
        public static let unknownField = Code(.unknownField)
        public static let wrongType = Code(.wrongType)
        public static let tooShort = Code(.tooShort)
        public static let tooLong = Code(.tooLong)
        public static let outOfRange = Code(.outOfRange)
        /// A string does not have the required shape (identifier, path…).
        public static let malformed = Code(.malformed)
        /// A string is not one of the allowed values.
        public static let notAllowed = Code(.notAllowed)
        /// The event name itself is unusable.
        public static let invalidName = Code(.invalidName)
        /// The encoded event is larger than the limit (32 KB by default).
        public static let tooLarge = Code(.tooLarge)
        /// The properties nest deeper than the limit.
        public static let tooDeep = Code(.tooDeep)
        /// The properties hold more keys than the limit.
        public static let tooManyKeys = Code(.tooManyKeys)
        /// A property key is longer than the limit.
        public static let keyTooLong = Code(.keyTooLong)
        /// A key or value looks like personal data (PII policy).
        public static let personalData = Code(.personalData)

        /// A stable machine-readable name, e.g. `out_of_range`.
        public var description: String { base.rawValue }
    }

    public var code: Code
    /// The event's name as given (wire name for catalogue events).
    public var event: String
    /// The event's position in its batch, when it came in one.
    public var index: Int?
    /// The path of the offending field, e.g. `properties.duration_ms`; `nil` when the
    /// whole event is at fault.
    public var field: String?
    /// What the rule wants, e.g. "must be between 100 and 599".
    public var reason: String
    /// The offending value, for `debugDescription` only.
    public var value: JSONValue?

    public init(code: Code, event: String, index: Int? = nil, field: String?, reason: String, value: JSONValue? = nil) {
        self.code = code
        self.event = event
        self.index = index
        self.field = field
        self.reason = reason
        self.value = value
    }

    /// The same error, placed at `index` in a batch.
    public func at(index: Int) -> EventValidationError {
        var copy = self
        copy.index = index
        return copy
    }

    public var description: String {
        var text = index.map { "event #\($0) " } ?? ""
        text += "'\(event)'"
        if let field { text += ": \(field) \(reason)" } else { text += ": \(reason)" }
        return text + " [\(code)]"
    }

    public var debugDescription: String {
        guard let value else { return description }
        return description + " (value: \(value.serialized().prefix(200)))"
    }
}
