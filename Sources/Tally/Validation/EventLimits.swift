/// Limits that apply to every event, catalogue or custom.
public struct EventLimits: Sendable, Hashable {
    /// The largest event: its name plus its properties encoded as JSON. Defaults to 32 KB.
    public var maxEncodedBytes: Int = 32 * 1024
    /// How deep properties may nest (`{"a":{"b":1}}` is 2). Defaults to 8.
    public var maxDepth: Int = 8
    /// How many keys the properties may hold, counted at every level. Defaults to 256.
    public var maxKeyCount: Int = 256
    /// The longest property key, in bytes. Defaults to 128.
    public var maxKeyLength: Int = 128
    /// The longest event name, in bytes; `event_type` is at most 100 in every store.
    /// Defaults to 100.
    public var maxNameLength: Int = 100

    public init() {}

    public static let `default` = EventLimits()
}
