/// Where an event came from: the library that sent it, the app and OS versions, the
/// locale. Never an IP address: the wire decoder drops `context.ip`.
public struct EventContext: Sendable, Hashable {
    public var libraryName: String?
    public var libraryVersion: String?
    public var appVersion: String?
    public var osName: String?
    public var osVersion: String?
    public var locale: String?
    /// Any other context an SDK sent (device, screen, campaign…), kept as given.
    public var extra: JSONObject

    public init(
        libraryName: String? = nil, libraryVersion: String? = nil, appVersion: String? = nil,
        osName: String? = nil, osVersion: String? = nil, locale: String? = nil, extra: JSONObject = [:]
    ) {
        self.libraryName = libraryName
        self.libraryVersion = libraryVersion
        self.appVersion = appVersion
        self.osName = osName
        self.osVersion = osVersion
        self.locale = locale
        self.extra = extra
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
        self.libraryName = take("library", "name")
        self.libraryVersion = take("library", "version")
        self.appVersion = take("app", "version")
        self.osName = take("os", "name")
        self.osVersion = take("os", "version")
        self.locale = extra["locale"]?.stringValue
        if locale != nil { extra["locale"] = nil }
        self.extra = extra
    }
}
