/// Segment's message rules that every entry point (the server's ingest, `tally
/// import`) applies the same way: the 32 KB size limit, and the non-track calls
/// as track-shaped messages.
///
/// `identify`, `page`, `screen`, `group` and `alias` become custom events of that
/// name whose properties carry the call's fields (traits, page name, group id,
/// previous id), under the generic limits and the personal-data policy like any
/// custom event.
public enum SegmentCall {
    /// A whole message may be at most this large as JSON (Segment's 32 KB).
    public static let maxMessageBytes = 32 * 1024

    /// Throws unless a message that took `byteCount` bytes of JSON as sent is at
    /// most ``maxMessageBytes``; `name` names the event in the error. The size as
    /// sent is what Segment limits, and the parser measures it for free
    /// (`JSONValue.parse(_:maxDepth:measuringElementsOf:)`).
    public static func checkSize(byteCount: Int, name: String) throws(EventValidationError) {
        guard byteCount <= maxMessageBytes else {
            throw EventValidationError(code: .tooLarge, event: name, field: nil,
                                       reason: "is \(byteCount) bytes of JSON; a message may be at most 32 KB")
        }
    }

    /// `message` as a `track` message: unchanged for `track`, reshaped for the others.
    /// - Throws: when `type` is not one of ``types`` or the call misses a field it needs.
    public static func trackShaped(_ message: JSONObject, type: String) throws(EventValidationError) -> JSONObject {
        func object(_ key: String) throws(EventValidationError) -> JSONObject {
            switch message[key] {
            case nil, .null?: return [:]
            case .object(let o)?: return o
            case let other?: throw EventValidationError(code: .wrongType, event: type, field: key, reason: "must be an object, not \(other.typeName)")
            }
        }
        var properties: JSONObject
        switch type {
        case "track":
            // Unchanged when it says track or nothing (`EnrichedEvent(wire:)`
            // takes both): no copy of the message for the common case.
            guard let sent = message["type"], sent != "track" else { return message }
            var shaped = message
            shaped["type"] = "track"
            return shaped
        case "identify":
            properties = try object("traits")
        case "page", "screen":
            properties = try object("properties")
            for key in ["name", "category"] { if let value = message[key] { properties[key] = value } }
        case "group":
            properties = try object("traits")
            guard let groupID = message["groupId"] else {
                throw EventValidationError(code: .missingField, event: type, field: "groupId", reason: "is required in a group call")
            }
            properties["group_id"] = groupID
        case "alias":
            guard let previousID = message["previousId"] else {
                throw EventValidationError(code: .missingField, event: type, field: "previousId", reason: "is required in an alias call")
            }
            properties = ["previous_id": previousID]
        default:
            throw EventValidationError(code: .notAllowed, event: message["event"]?.stringValue ?? type, field: "type",
                                       reason: "must be track, identify, page, screen, group or alias")
        }
        var shaped = message
        shaped["type"] = "track"
        shaped["event"] = .string(type)
        shaped["properties"] = .object(properties)
        return shaped
    }
}
