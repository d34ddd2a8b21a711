import Tally

/// Turns one Segment message of any type into a validated ``EnrichedEvent``
/// (non-track calls are reshaped by ``SegmentCall``).
struct SegmentMessage {
    /// Device clocks within this much of the server's are trusted as they are.
    static let trustedSkew: Int64 = 60_000_000

    /// - Parameters:
    ///   - size: how many bytes of JSON it took, as sent.
    ///   - route: the route it came in on; for `/v1/batch`, its `type` decides.
    ///   - batch: the request's `sentAt` and batch-level `context`.
    ///   - service: the write key's service, which every event gets (a `context.service`
    ///     in the message is dropped).
    ///   - firstSeen: when untimed messages were first received, so retries dedupe.
    ///   - contexts: the request's reader of contexts (equal ones share one box).
    static func event(from value: JSONValue, size: Int, route: IngestRoute, batch: IngestRequest, receivedAt: Timestamp,
                      service: String, firstSeen: FirstSeenTimes, limits: EventLimits, policy: PIIPolicy,
                      contexts: inout EventContextReader) throws(EventValidationError) -> EnrichedEvent {
        guard case .object(let message) = value else {
            throw EventValidationError(code: .wrongType, event: "", field: nil, reason: "each message must be a JSON object, not \(value.typeName)")
        }
        var fields = SegmentFields(message)
        let type = route == .batch ? fields.type?.stringValue ?? "track" : route.rawValue
        let name = fields.event?.stringValue ?? type
        try SegmentCall.checkSize(byteCount: size, name: name)
        if type == "track" {
            fields.type = "track"
        } else {
            fields = SegmentFields(try SegmentCall.trackShaped(message, type: type))
        }
        if let context = mergedContext(fields.context, under: batch.context) {
            fields.context = .object(context)
        }
        fields.receivedAt = nil  // the server's clock decides when it arrived

        var event = try EnrichedEvent(wire: fields, receivedAt: receivedAt, defaultService: service, serviceFromContext: false,
                                      limits: limits, policy: policy, contexts: &contexts)
        switch fields.timestamp {
        case nil, .null?:
            if case .string(let messageID)? = fields.messageID {
                event.timestamp = firstSeen.timestamp(for: messageID, eventID: event.eventID, receivedAt: receivedAt)
            }
        default:
            if let sentAt = try sentAt(fields.sentAt, event: event.name) ?? batch.sentAt {
                event.timestamp = corrected(event.timestamp, sentAt: sentAt, receivedAt: receivedAt)
            }
        }
        return event
    }

    /// `timestamp = receivedAt − (sentAt − timestamp)` (DESIGN.md §6) when the device
    /// clock is more than a minute off; the correction is rounded to whole minutes
    /// so a retry (same messageId, later `sentAt`) lands on the same timestamp and
    /// is still stored once.
    static func corrected(_ timestamp: Timestamp, sentAt: Timestamp, receivedAt: Timestamp) -> Timestamp {
        let skew = receivedAt.microsecondsSinceEpoch - sentAt.microsecondsSinceEpoch
        guard abs(skew) > trustedSkew else { return timestamp }
        let minute: Int64 = 60_000_000
        let rounded = (skew + (skew >= 0 ? minute / 2 : -minute / 2)) / minute * minute
        return timestamp.adding(microseconds: rounded)
    }

    private static func sentAt(_ value: JSONValue?, event: String) throws(EventValidationError) -> Timestamp? {
        guard case .string(let text)? = value else { return nil }
        guard let time = Timestamp(iso8601: text) else {
            throw EventValidationError(code: .malformed, event: event, field: "sentAt",
                                       reason: "must be an ISO-8601 date-time such as 2026-11-23T13:08:17.123Z")
        }
        return time
    }

    /// The batch's context under the message's own (the message wins), without
    /// what Tally never stores: the IP address, and traits (personal data that
    /// belongs in an identify call, where the policy screens it). A `service`
    /// in it is not read: the write key decides the service, a key sends events
    /// for its own service only (`serviceFromContext: false`).
    ///
    /// - Returns: nil when the message's own context is that already, or it has
    ///   none and the batch none either, so the message is not copied to set it
    ///   again (the common case).
    static func mergedContext(_ own: JSONValue?, under batch: JSONObject) -> JSONObject? {
        var context: JSONObject
        switch own {
        case .object(let fields)? where batch.isEmpty:
            if fields["ip"] == nil && fields["traits"] == nil { return nil }
            context = fields
        case nil where batch.isEmpty, .null? where batch.isEmpty:
            return nil
        case .object(let fields)?: context = batch.merging(fields) { _, message in message }
        default: context = batch
        }
        context.removeValue(forKey: "ip")
        context.removeValue(forKey: "traits")
        return context
    }
}
