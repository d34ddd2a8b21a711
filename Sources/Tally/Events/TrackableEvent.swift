/// Anything that can be tracked: the catalogue's ``AnalyticsEvent``, an app's own
/// typed events, and free-form ``CustomEvent``s.
///
/// An app defines its own typed event by conforming a type:
///
/// ```swift
/// struct ReportExported: TrackableEvent {
///     var format: String
///     var rows: Int
///     var name: String { "report_exported" }
///     var properties: JSONObject { ["format": .string(format), "rows": .int(rows)] }
/// }
/// client.track(ReportExported(format: "csv", rows: 120))
/// ```
///
/// Such events are checked under the generic limits and the PII policy; override
/// ``validate(limits:policy:)`` to add rules of your own. A type that reuses a
/// catalogue name is held to that catalogue event's schema.
public protocol TrackableEvent: Sendable {
    /// The wire name, e.g. `report_exported`.
    var name: String { get }
    /// The properties as they travel and are stored.
    var properties: JSONObject { get }
    /// Throws when the event breaks a rule.
    func validate(limits: EventLimits, policy: PIIPolicy) throws(EventValidationError)
    /// The event as it is carried through the pipeline.
    var payload: EventPayload { get }
}

extension TrackableEvent {
    public func validate(limits: EventLimits, policy: PIIPolicy) throws(EventValidationError) {
        try payload.validate(limits: limits, policy: policy)
    }

    public var payload: EventPayload { .custom(name: name, properties: properties) }
}

extension AnalyticsEvent: TrackableEvent {
    public func validate(limits: EventLimits = .default, policy: PIIPolicy = .default) throws(EventValidationError) {
        try EventValidator.check(self, policy: policy)
    }

    public var payload: EventPayload { .catalogue(self) }
}

/// A free-form event: a name and JSON properties, under the generic limits.
///
/// ```swift
/// client.track(CustomEvent("report_exported", properties: ["format": "csv"]))
/// ```
public struct CustomEvent: TrackableEvent, Hashable {
    public var name: String
    public var properties: JSONObject

    public init(_ name: String, properties: JSONObject = [:]) {
        self.name = name
        self.properties = properties
    }
}

/// What an event carries through the pipeline: a typed catalogue event, or a name
/// and properties for everything else.
public enum EventPayload: Sendable, Hashable {
    case catalogue(AnalyticsEvent)
    case custom(name: String, properties: JSONObject)

    public var name: String {
        switch self {
        case .catalogue(let event): event.name
        case .custom(let name, _): name
        }
    }

    public var properties: JSONObject {
        switch self {
        case .catalogue(let event): event.properties
        case .custom(_, let properties): properties
        }
    }

    /// Checks the payload: a typed event against its fields' rules, a custom one
    /// against its catalogue schema if it reuses a catalogue name, else the generic
    /// limits; both against the PII policy.
    public func validate(limits: EventLimits = .default, policy: PIIPolicy = .default) throws(EventValidationError) {
        switch self {
        case .catalogue(let event):
            try EventValidator.check(event, policy: policy)
        case .custom(let name, let properties):
            if let schema = AnalyticsEvent.schema(named: name) {
                try EventValidator.check(properties, against: schema, policy: policy)
            } else {
                try EventValidator.checkCustom(name: name, properties: properties, limits: limits, policy: policy)
            }
        }
    }

    /// Decodes a name and properties as they arrive from outside: catalogue names
    /// are held to their schema and become typed; any other name is a custom event
    /// under the generic limits.
    public init(name: String, properties: JSONObject, limits: EventLimits = .default, policy: PIIPolicy = .default) throws(EventValidationError) {
        if let event = try AnalyticsEvent(name: name, properties: properties, policy: policy) {
            self = .catalogue(event)
        } else {
            try EventValidator.checkCustom(name: name, properties: properties, limits: limits, policy: policy)
            self = .custom(name: name, properties: properties)
        }
    }
}
