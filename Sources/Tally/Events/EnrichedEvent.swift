/// An event as stores keep it: what was tracked plus who, when, where from, and
/// the id that makes every retry of it the same event.
public struct EnrichedEvent: Sendable, Hashable {
    /// Generated once at track time (UUIDv7) and kept through every retry.
    public var eventID: EventID
    public var payload: EventPayload
    /// When the event happened.
    public var timestamp: Timestamp
    /// When Tally first received it.
    public var receivedAt: Timestamp
    /// The service that produced it, e.g. `api`, `web`. At most 100 bytes.
    public var service: String
    /// A pseudonymous user id (see ``Pseudonymizer``), never a raw one.
    public var userID: String?
    public var anonymousID: String?
    public var sessionID: String?
    public var context: EventContext

    public init(
        eventID: EventID, payload: EventPayload, timestamp: Timestamp, receivedAt: Timestamp, service: String,
        userID: String? = nil, anonymousID: String? = nil, sessionID: String? = nil, context: EventContext = EventContext()
    ) {
        self.eventID = eventID
        self.payload = payload
        self.timestamp = timestamp
        self.receivedAt = receivedAt
        self.service = service
        self.userID = userID
        self.anonymousID = anonymousID
        self.sessionID = sessionID
        self.context = context
    }

    /// Stamps a payload the way every entry point does (DESIGN.md §2): a user id
    /// given with the call wins over the task's ``AnalyticsContext``, whose service
    /// wins over the configured one.
    public init(
        stamping payload: EventPayload, eventID: EventID, timestamp: Timestamp, receivedAt: Timestamp,
        service: String, userID: String?, scope: AnalyticsContext?, context: EventContext
    ) {
        self.init(eventID: eventID, payload: payload, timestamp: timestamp, receivedAt: receivedAt,
                  service: scope?.service ?? service, userID: userID ?? scope?.userID,
                  anonymousID: scope?.anonymousID, sessionID: scope?.sessionID, context: context)
    }

    /// The wire name, stored as `event_type`.
    public var name: String { payload.name }
    public var properties: JSONObject { payload.properties }

    /// The `data` column as JSON text, the same bytes as serializing ``data``, with
    /// the (shared) context serialized once rather than per event. With
    /// `sortedKeys: false` a custom event's keys come in dictionary order, for
    /// stores that parse the text into their own form (see ``JSONValue/serialize(into:sortedKeys:)``);
    /// a catalogue event's are always sorted, written straight from its fields.
    public func serializeData(into bytes: inout [UInt8], sortedKeys: Bool = true) {
        let context = self.context.serializedJSON
        // Keys in sorted order, as JSONValue writes them: "context" < "properties".
        if context.count > 2 {
            bytes.append(contentsOf: #"{"context":"#.utf8)
            bytes.append(contentsOf: context)
            bytes.append(contentsOf: #","properties":"#.utf8)
        } else {
            bytes.append(contentsOf: #"{"properties":"#.utf8)
        }
        switch payload {
        case .catalogue(let event): event.serializeProperties(into: &bytes)
        case .custom(_, let properties): JSONValue.object(properties).serialize(into: &bytes, sortedKeys: sortedKeys)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    /// The `data` column of every store: properties and context.
    public var data: JSONObject {
        var data: JSONObject = ["properties": .object(properties)]
        let context = context.json
        if !context.isEmpty { data["context"] = .object(context) }
        return data
    }

    /// Checks the envelope: service name, the shape of user, anonymous and session ids,
    /// and that no id looks like personal data.
    public func validateEnvelope(policy: PIIPolicy = .default) throws(EventValidationError) {
        if let failure = FieldRule(.slug(maxLength: 100)).check(.string(service)) {
            throw EventValidationError(code: failure.code, event: name, field: "service", reason: failure.reason)
        }
        // One call an id, not a loop over an array of them: that array was
        // allocated for every event.
        func check(_ field: String, _ value: String?) throws(EventValidationError) {
            guard let value else { return }
            if value.isEmpty || value.utf8.count > 128 || value.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
                throw EventValidationError(code: .malformed, event: name, field: field,
                                           reason: "must be 1 to 128 characters without spaces or control characters")
            }
            if let kind = policy.violation(inValue: value) {
                throw EventValidationError(code: .personalData, event: name, field: field,
                                           reason: "looks like \(kind); track a pseudonymous id instead (Pseudonymizer)", value: .string(value))
            }
        }
        try check("userId", userID)
        try check("anonymousId", anonymousID)
        try check("sessionId", sessionID)
    }
}

extension EnrichedEvent {
    /// Everything the pipeline checks before writing: the payload against its
    /// schema or the generic limits, and the envelope's ids.
    public func validate(limits: EventLimits = .default, policy: PIIPolicy = .default) throws(EventValidationError) {
        try payload.validate(limits: limits, policy: policy)
        try validateEnvelope(policy: policy)
    }
}
