import Synchronization

/// Where an event came from: the library that sent it, the app and OS versions, the
/// locale. Never an IP address: the wire decoder drops `context.ip`.
///
/// Every event carries one, so it is one reference to immutable storage: copying
/// it (on every `track`) costs a single retain; setting a field makes a new box.
public struct EventContext: Sendable, Hashable {
    private struct Fields: Sendable, Hashable {
        var libraryName, libraryVersion, appVersion, osName, osVersion, locale: String?
        var extra: JSONObject
    }

    private final class Box: Sendable {
        let fields: Fields
        /// The JSON text, made once on first use: most events share their client's
        /// context, so the writer serializes it once rather than once an event.
        let serialized = Mutex<[UInt8]?>(nil)
        init(_ fields: Fields) { self.fields = fields }
    }

    /// The compact JSON text of ``json`` (sorted keys), cached with the context.
    public var serializedJSON: [UInt8] {
        if let cached = box.serialized.withLock({ $0 }) { return cached }
        var bytes: [UInt8] = []
        JSONValue.object(json).serialize(into: &bytes)
        box.serialized.withLock { $0 = bytes }
        return bytes
    }

    private var box: Box

    private func get<T>(_ path: KeyPath<Fields, T>) -> T { box.fields[keyPath: path] }

    private mutating func set<T>(_ path: WritableKeyPath<Fields, T>, _ value: T) {
        var fields = box.fields
        fields[keyPath: path] = value
        box = Box(fields)
    }

    public var libraryName: String? { get { get(\.libraryName) } set { set(\.libraryName, newValue) } }
    public var libraryVersion: String? { get { get(\.libraryVersion) } set { set(\.libraryVersion, newValue) } }
    public var appVersion: String? { get { get(\.appVersion) } set { set(\.appVersion, newValue) } }
    public var osName: String? { get { get(\.osName) } set { set(\.osName, newValue) } }
    public var osVersion: String? { get { get(\.osVersion) } set { set(\.osVersion, newValue) } }
    public var locale: String? { get { get(\.locale) } set { set(\.locale, newValue) } }
    /// Any other context an SDK sent (device, screen, campaign…), kept as given.
    public var extra: JSONObject { get { get(\.extra) } set { set(\.extra, newValue) } }

    public init(
        libraryName: String? = nil, libraryVersion: String? = nil, appVersion: String? = nil,
        osName: String? = nil, osVersion: String? = nil, locale: String? = nil, extra: JSONObject = [:]
    ) {
        box = Box(Fields(libraryName: libraryName, libraryVersion: libraryVersion, appVersion: appVersion,
                         osName: osName, osVersion: osVersion, locale: locale, extra: extra))
    }

    /// Whether both are the one box: what a reader's sharing gives (tests ask).
    func sharesStorage(with other: EventContext) -> Bool { box === other.box }

    public static func == (a: EventContext, b: EventContext) -> Bool {
        a.box === b.box || a.box.fields == b.box.fields
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(box.fields)
    }

    /// Context keys that must never be stored because they identify a person or
    /// a device's network location.
    static let forbiddenKeys: Set<String> = ["ip", "ipAddress", "ip_address"]

    /// The Segment-shaped JSON object: `{"library":{"name","version"},"app":{"version"},"os":{…},"locale"}`.
    public var json: JSONObject {
        var object = extra
        var library = object["library"]?.objectValue ?? [:]
        if let libraryName { library["name"] = .string(libraryName) }
        if let libraryVersion { library["version"] = .string(libraryVersion) }
        if !library.isEmpty { object["library"] = .object(library) }
        var app = object["app"]?.objectValue ?? [:]
        if let appVersion { app["version"] = .string(appVersion) }
        if !app.isEmpty { object["app"] = .object(app) }
        var os = object["os"]?.objectValue ?? [:]
        if let osName { os["name"] = .string(osName) }
        if let osVersion { os["version"] = .string(osVersion) }
        if !os.isEmpty { object["os"] = .object(os) }
        if let locale { object["locale"] = .string(locale) }
        return object
    }

    /// Reads the Segment-shaped context object, dropping IP addresses.
    public init(json: JSONObject) {
        var extra = json
        for key in Self.forbiddenKeys { extra[key] = nil }
        func take(_ object: String, _ key: String) -> String? {
            guard var nested = extra[object]?.objectValue, let value = nested[key]?.stringValue else { return nil }
            nested[key] = nil
            extra[object] = nested.isEmpty ? nil : .object(nested)
            return value
        }
        let libraryName = take("library", "name")
        let libraryVersion = take("library", "version")
        let appVersion = take("app", "version")
        let osName = take("os", "name")
        let osVersion = take("os", "version")
        let locale = extra["locale"]?.stringValue
        if locale != nil { extra["locale"] = nil }
        self.init(libraryName: libraryName, libraryVersion: libraryVersion, appVersion: appVersion,
                  osName: osName, osVersion: osVersion, locale: locale, extra: extra)
    }
}

/// Reads the `context` objects of a batch's messages. A device sends the same
/// context with every message of a batch, so a context equal to the one before
/// is not taken apart again: it gets that message's ``EventContext``, the same
/// box, whose JSON text the store then makes once for all of them.
public struct EventContextReader {
    /// The last context read, without the keys left out of it, and its box.
    private var last: (json: JSONObject, leftOut: [String], context: EventContext)?

    public init() {}

    /// The context of `json` without the `leftOut` keys (fields the caller
    /// reads itself, such as `service` and `sessionId`). `json` is compared
    /// with the last one as it is, so it is copied to take them out only when
    /// it differs.
    public mutating func context(from json: JSONObject, leavingOut leftOut: [String] = []) -> EventContext {
        if let last, last.leftOut == leftOut, Self.json(json, leavingOut: leftOut, equals: last.json) { return last.context }
        var kept = json
        for key in leftOut { kept.removeValue(forKey: key) }
        let context = EventContext(json: kept)
        last = (kept, leftOut, context)
        return context
    }

    /// Whether `json` less the `leftOut` keys equals `kept`, which has none of them.
    private static func json(_ json: JSONObject, leavingOut leftOut: [String], equals kept: JSONObject) -> Bool {
        let leftOutCount = leftOut.reduce(0) { $0 + (json[$1] == nil ? 0 : 1) }
        guard json.count - leftOutCount == kept.count else { return false }
        for (key, value) in kept where json[key] != value { return false }
        return true
    }
}
