import Crypto

/// The Segment-shaped wire form of a `track` call, so Segment's and RudderStack's
/// SDKs and Tally's own client speak the same JSON:
///
/// ```json
/// {"type":"track","event":"task_created","properties":{"task_id":"t_1","command":"build"},
///  "userId":"u_3f…","anonymousId":null,"messageId":"0192f0c1-…","timestamp":"2026-11-23T13:08:17.123456Z",
///  "context":{"library":{"name":"tally-swift","version":"0.1.0"},"service":"api","sessionId":"s_9"}}
/// ```
///
/// `service` and `sessionId` travel inside `context`, where Segment's schema leaves
/// room for extensions.
extension EnrichedEvent {
    public var wireJSON: JSONObject {
        var context = self.context.json
        context["service"] = .string(service)
        if let sessionID { context["sessionId"] = .string(sessionID) }
        var object: JSONObject = [
            "type": "track",
            "event": .string(name),
            "properties": .object(properties),
            "messageId": .string(eventID.uuidString),
            "timestamp": .string(timestamp.iso8601),
            "receivedAt": .string(receivedAt.iso8601),
            "context": .object(context),
        ]
        if let userID { object["userId"] = .string(userID) }
        if let anonymousID { object["anonymousId"] = .string(anonymousID) }
        return object
    }

    /// The `context` fields stored in columns of their own, not in the context.
    private static let contextColumns = ["service", "sessionId"]

    /// Decodes and validates one Segment-shaped `track` message.
    ///
    /// - Parameters:
    ///   - receivedAt: when it arrived; used when the message has no `receivedAt`
    ///     of its own, and for `timestamp` when that is missing.
    ///   - defaultService: the service when `context.service` is absent.
    public init(
        wire object: JSONObject, receivedAt: Timestamp, defaultService: String = "default",
        limits: EventLimits = .default, policy: PIIPolicy = .default
    ) throws(EventValidationError) {
        var contexts = EventContextReader()
        try self.init(wire: object, receivedAt: receivedAt, defaultService: defaultService, limits: limits, policy: policy, contexts: &contexts)
    }

    /// Decodes one message of a batch; `contexts` reads the batch's messages'
    /// contexts, so equal ones are taken apart once and share one box.
    ///
    /// - Parameter serviceFromContext: whether `context.service` names the
    ///   service (the server passes false: a write key sends events for its own
    ///   service, `defaultService`, whatever the message says).
    public init(
        wire object: JSONObject, receivedAt: Timestamp, defaultService: String = "default", serviceFromContext: Bool = true,
        limits: EventLimits = .default, policy: PIIPolicy = .default, contexts: inout EventContextReader
    ) throws(EventValidationError) {
        try self.init(wire: SegmentFields(object), receivedAt: receivedAt, defaultService: defaultService,
                      serviceFromContext: serviceFromContext, limits: limits, policy: policy, contexts: &contexts)
    }

    /// Decodes one message of a batch from its fields, read already.
    public init(
        wire fields: SegmentFields, receivedAt: Timestamp, defaultService: String = "default", serviceFromContext: Bool = true,
        limits: EventLimits = .default, policy: PIIPolicy = .default, contexts: inout EventContextReader
    ) throws(EventValidationError) {
        let eventName = fields.event?.stringValue ?? ""
        func fail(_ code: EventValidationError.Code, _ field: String, _ reason: String) -> EventValidationError {
            EventValidationError(code: code, event: eventName, field: field, reason: reason)
        }
        if let type = fields.type, type.stringValue != "track" {
            throw fail(.notAllowed, "type", "must be \"track\" for an event")
        }
        guard let nameValue = fields.event else { throw fail(.missingField, "event", "is required: the event's name") }
        guard case .string = nameValue else { throw fail(.wrongType, "event", "must be a string, not \(nameValue.typeName)") }
        let properties: JSONObject
        switch fields.properties {
        case nil, .null?: properties = [:]
        case .object(let p)?: properties = p
        case let other?: throw fail(.wrongType, "properties", "must be an object, not \(other.typeName)")
        }
        let payload = try EventPayload(name: eventName, properties: properties, limits: limits, policy: policy)

        let eventID: EventID
        switch fields.messageID {
        case nil, .null?: eventID = .generate(at: receivedAt)
        case .string(let text)?: eventID = EventID(text) ?? .derived(fromMessageID: text)
        case let other?: throw fail(.wrongType, "messageId", "must be a string, not \(other.typeName)")
        }

        func time(_ value: JSONValue?, _ key: String) throws(EventValidationError) -> Timestamp? {
            switch value {
            case nil, .null?: return nil
            case .string(let text)?:
                guard let t = Timestamp(iso8601: text) else {
                    throw fail(.malformed, key, "must be an ISO-8601 date-time such as 2026-11-23T13:08:17.123Z")
                }
                return t
            case let other?: throw fail(.wrongType, key, "must be an ISO-8601 string, not \(other.typeName)")
            }
        }
        func identifier(_ value: JSONValue?, _ key: String) throws(EventValidationError) -> String? {
            switch value {
            case nil, .null?: return nil
            case .string(let s)?: return s
            case .int(let n)?: return String(n)
            case let other?: throw fail(.wrongType, key, "must be a string, not \(other.typeName)")
            }
        }

        let contextObject: JSONObject
        switch fields.context {
        case nil, .null?: contextObject = [:]
        case .object(let c)?: contextObject = c
        case let other?: throw fail(.wrongType, "context", "must be an object, not \(other.typeName)")
        }
        func contextString(_ key: String) throws(EventValidationError) -> String? {
            switch contextObject[key] {
            case nil, .null?: return nil
            case .string(let s)?: return s
            case let other?: throw fail(.wrongType, "context.\(key)", "must be a string, not \(other.typeName)")
            }
        }
        let service = serviceFromContext ? try contextString("service") ?? defaultService : defaultService
        let sessionID = try contextString("sessionId")

        let arrived = try time(fields.receivedAt, "receivedAt") ?? receivedAt
        self.init(
            eventID: eventID,
            payload: payload,
            timestamp: try time(fields.timestamp, "timestamp") ?? arrived,
            receivedAt: arrived,
            service: service,
            userID: try identifier(fields.userID, "userId"),
            anonymousID: try identifier(fields.anonymousID, "anonymousId"),
            sessionID: sessionID,
            context: contexts.context(from: contextObject, leavingOut: Self.contextColumns)
        )
        try validateEnvelope(policy: policy)
    }
}

/// The members of a Segment message that Tally reads, found in one pass over
/// the message. Looking each up would hash its key, a dozen times a message,
/// for members most messages do not even have.
public struct SegmentFields: Sendable {
    public var type: JSONValue?
    public var event: JSONValue?
    public var properties: JSONValue?
    public var messageID: JSONValue?
    public var timestamp: JSONValue?
    public var sentAt: JSONValue?
    public var receivedAt: JSONValue?
    public var userID: JSONValue?
    public var anonymousID: JSONValue?
    public var context: JSONValue?

    public init(_ message: JSONObject) {
        for (key, value) in message {
            switch key {
            case "type": type = value
            case "event": event = value
            case "properties": properties = value
            case "messageId": messageID = value
            case "timestamp": timestamp = value
            case "sentAt": sentAt = value
            case "receivedAt": receivedAt = value
            case "userId": userID = value
            case "anonymousId": anonymousID = value
            case "context": context = value
            default: break
            }
        }
    }
}

extension EventID {
    /// A stable id for a `messageId` that is not a UUID (some SDKs send other
    /// shapes): the first 128 bits of its SHA-256, marked as a version-8 UUID. The
    /// same message id always maps to the same event id, so dedupe still works.
    public static func derived(fromMessageID messageID: String) -> EventID {
        let digest = Array(SHA256.hash(data: Array(messageID.utf8)))
        var high: UInt64 = 0
        var low: UInt64 = 0
        for i in 0..<8 { high = high << 8 | UInt64(digest[i]) }
        for i in 8..<16 { low = low << 8 | UInt64(digest[i]) }
        return EventID(high: high & ~0xF000 | 0x8000, low: low & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000)
    }
}
