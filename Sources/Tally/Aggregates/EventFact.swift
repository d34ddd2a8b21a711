/// The few fields of a raw event that aggregates read: what a backend projects
/// out of `analytics_events` (with its own JSON functions) for a refresh, so the
/// aggregation itself is one piece of Swift shared by every backend.
public struct EventFact: Sendable, Hashable {
    public var timestamp: Timestamp
    public var eventType: String
    public var service: String
    public var userID: String?
    public var durationMs: Double?
    public var statusCode: Int?
    public var method: String?
    public var route: String?
    public var provider: String?
    public var errorType: String?
    public var cocoonID: String?
    public var success: Bool?

    public init(timestamp: Timestamp, eventType: String, service: String, userID: String? = nil,
                durationMs: Double? = nil, statusCode: Int? = nil, method: String? = nil, route: String? = nil,
                provider: String? = nil, errorType: String? = nil, cocoonID: String? = nil, success: Bool? = nil) {
        self.timestamp = timestamp; self.eventType = eventType; self.service = service; self.userID = userID
        self.durationMs = durationMs; self.statusCode = statusCode; self.method = method; self.route = route
        self.provider = provider; self.errorType = errorType; self.cocoonID = cocoonID; self.success = success
    }

    /// The event properties a fact carries, by wire key, each with the event
    /// types whose aggregate reads it: backends extract exactly these, and only
    /// for those types (the field is `nil` elsewhere).
    public static let propertyEventTypes: [(key: String, eventTypes: [String])] = [
        ("duration_ms", ["api_request", "task_completed"]),
        ("status_code", ["api_request"]),
        ("method", ["api_request"]),
        ("route", ["api_request"]),
        ("provider", ["integration_connected", "integration_disconnected", "integration_used", "integration_error",
                      "oauth_flow_started", "oauth_flow_completed"]),
        ("error_type", ["application_error"]),
        ("cocoon_id", ["cocoon_registered", "cocoon_connected", "cocoon_disconnected", "cocoon_claimed",
                       "cocoon_setup_token_created", "cocoon_setup_token_used"]),
        ("success", ["auth_login_attempt"]),
    ]

    /// The event types whose aggregate reads property `key` of ``propertyEventTypes``.
    public static func eventTypes(readingProperty key: String) -> [String] {
        guard let entry = propertyEventTypes.first(where: { $0.key == key }) else {
            preconditionFailure("EventFact.propertyEventTypes has no property \(key)")
        }
        return entry.eventTypes
    }

    /// Builds the fact of a stored event (for backends that hold typed events).
    public init(_ event: EnrichedEvent) {
        let p = event.properties
        self.init(timestamp: event.timestamp, eventType: event.name, service: event.service, userID: event.userID,
                  durationMs: p["duration_ms"]?.doubleValue, statusCode: p["status_code"]?.intValue,
                  method: p["method"]?.stringValue, route: p["route"]?.stringValue, provider: p["provider"]?.stringValue,
                  errorType: p["error_type"]?.stringValue, cocoonID: p["cocoon_id"]?.stringValue, success: p["success"]?.boolValue)
    }
}
