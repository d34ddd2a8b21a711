/// The checks every boundary that takes events runs: the client API, the HTTP
/// ingest, the import.
public enum EventValidator {
    /// Checks the properties of a catalogue event against its schema: no unknown
    /// keys, every required field present, every value within its rule, no value
    /// that looks like personal data.
    public static func check(_ properties: JSONObject, against schema: EventSchema, policy: PIIPolicy = .default) throws(EventValidationError) {
        // The first unknown key in sorted order, so the same input always names
        // the same field (found without sorting when every key is known).
        if let key = properties.keys.filter({ schema.member(forKey: $0) == nil }).min() {
            let known = schema.members.map(\.field.key)
            let hint = known.isEmpty ? "it takes no properties" : "its fields are \(known.joined(separator: ", "))"
            throw EventValidationError(code: .unknownField, event: schema.name, field: "properties.\(key)",
                                       reason: "is not a field of \(schema.name); \(hint)")
        }
        for member in schema.members {
            // Built only for an error: most events have none.
            var path: String { "properties.\(member.field.key)" }
            guard let value = properties[member.field.key], !value.isNull else {
                if member.isRequired {
                    throw EventValidationError(code: .missingField, event: schema.name, field: path,
                                               reason: "is required (\(member.field.rule.expectedType): \(member.field.summary))")
                }
                continue
            }
            if let failure = member.field.rule.check(value) {
                throw EventValidationError(code: failure.code, event: schema.name, field: path, reason: failure.reason, value: value)
            }
            try checkPersonalData(in: value, key: member.field.key, path: path, event: schema.name, policy: policy)
        }
    }

    /// Checks a free-form event under the generic limits and the PII policy.
    public static func checkCustom(name: String, properties: JSONObject, limits: EventLimits = .default, policy: PIIPolicy = .default) throws(EventValidationError) {
        try checkName(name, limits: limits)
        let value = JSONValue.object(properties)
        // The properties object itself is the first level.
        if value.depth > limits.maxDepth {
            throw EventValidationError(code: .tooDeep, event: name, field: "properties",
                                       reason: "nest \(value.depth) levels deep; the limit is \(limits.maxDepth). Flatten nested objects")
        }
        if value.keyCount > limits.maxKeyCount {
            throw EventValidationError(code: .tooManyKeys, event: name, field: "properties",
                                       reason: "hold \(value.keyCount) keys; the limit is \(limits.maxKeyCount). Send fewer properties")
        }
        try walkNamingOnFailure { naming throws(EventValidationError) in
            try checkKeys(properties, path: naming ? "properties" : "", event: name, limits: limits, policy: policy, naming: naming)
        }
        try checkPersonalData(in: value, key: nil, path: "properties", event: name, policy: policy)
        try checkSize(name: name, properties: properties, limits: limits)
    }

    /// Checks a typed catalogue event, without building its properties.
    public static func check(_ event: AnalyticsEvent, policy: PIIPolicy = .default) throws(EventValidationError) {
        try event.validateFields(policy: policy)
    }

    /// Checks an event name: non-empty, at most `maxNameLength` bytes, printable.
    public static func checkName(_ name: String, limits: EventLimits = .default) throws(EventValidationError) {
        let shown = String(name.prefix(limits.maxNameLength))
        if name.isEmpty {
            throw EventValidationError(code: .invalidName, event: "", field: "event", reason: "is empty; give the event a name such as 'report_exported'")
        }
        if name.utf8.count > limits.maxNameLength {
            throw EventValidationError(code: .invalidName, event: shown, field: "event",
                                       reason: "is \(name.utf8.count) bytes long; the limit is \(limits.maxNameLength)")
        }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw EventValidationError(code: .invalidName, event: shown, field: "event", reason: "must not contain control characters")
        }
        if name.first == " " || name.last == " " {
            throw EventValidationError(code: .invalidName, event: shown, field: "event", reason: "must not start or end with a space")
        }
    }

    static func checkSize(name: String, properties: JSONObject, limits: EventLimits) throws(EventValidationError) {
        // Most events are far under the limit even as written at their longest:
        // those need no serializing to measure.
        if JSONValue.object(properties).serializedSizeBound + name.utf8.count <= limits.maxEncodedBytes { return }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        // Unsorted: the order of the keys does not change the size.
        JSONValue.object(properties).serialize(into: &bytes, sortedKeys: false)
        let size = bytes.count + name.utf8.count
        if size > limits.maxEncodedBytes {
            throw EventValidationError(code: .tooLarge, event: name, field: nil,
                                       reason: "is \(size) bytes encoded; the limit is \(limits.maxEncodedBytes). Send large payloads elsewhere and reference them by id")
        }
    }

    /// Runs `walk` as the data is stored, without building paths (`naming`
    /// false); only if that finds something, again with keys sorted and paths
    /// built, so the same input always names the same field. Two walks at most.
    private static func walkNamingOnFailure(_ walk: (_ naming: Bool) throws(EventValidationError) -> Void) throws(EventValidationError) {
        do {
            try walk(false)
        } catch {
            try walk(true)
            throw error
        }
    }

    /// Calls `body` for each member of `object`: in sorted key order when
    /// `sorted` (to name a field), otherwise as stored, without sorting.
    private static func forEachMember(of object: JSONObject, sorted: Bool,
                                      _ body: (String, JSONValue) throws(EventValidationError) -> Void) throws(EventValidationError) {
        if sorted {
            for (key, value) in object.sorted(by: { $0.key < $1.key }) { try body(key, value) }
        } else {
            for (key, value) in object { try body(key, value) }
        }
    }

    /// One walk over the keys of `object` and of the objects in it: `naming`
    /// sorts them and builds the failing field's path (for an error); otherwise
    /// `path` is unused, as most events have nothing to report.
    private static func checkKeys(_ object: JSONObject, path: String, event: String, limits: EventLimits, policy: PIIPolicy,
                                  naming: Bool) throws(EventValidationError) {
        func check(_ key: String, _ value: JSONValue) throws(EventValidationError) {
            let keyPath = naming ? "\(path).\(key)" : ""
            if key.isEmpty {
                throw EventValidationError(code: .keyTooLong, event: event, field: keyPath, reason: "is an empty key; name every property")
            }
            if key.utf8.count > limits.maxKeyLength {
                throw EventValidationError(code: .keyTooLong, event: event, field: "\(path).\(key.prefix(limits.maxKeyLength))…",
                                           reason: "is \(key.utf8.count) bytes long; keys are limited to \(limits.maxKeyLength)")
            }
            if let kind = policy.violation(inKey: key) {
                throw EventValidationError(code: .personalData, event: event, field: keyPath,
                                           reason: "names \(kind), which must not be tracked; pseudonymize it or drop it (or allow the key in the PII policy)")
            }
            if case .object(let nested) = value {
                try checkKeys(nested, path: keyPath, event: event, limits: limits, policy: policy, naming: naming)
            } else if case .array(let items) = value {
                for (i, item) in items.enumerated() {
                    if case .object(let nested) = item {
                        try checkKeys(nested, path: naming ? "\(keyPath)[\(i)]" : "", event: event, limits: limits, policy: policy, naming: naming)
                    }
                }
            }
        }
        try forEachMember(of: object, sorted: naming, check)
    }

    /// Walks `value`; `key` is the property key it sits under (list items inherit
    /// their list's key), and an allowed key exempts everything beneath it.
    ///
    /// Objects are walked as they are stored first; only when that finds
    /// something is `value` walked again with keys sorted, so that the same
    /// input always names the same field. Two walks at most, whatever the depth.
    private static func checkPersonalData(in value: JSONValue, key: String?, path: @autoclosure () -> String, event: String, policy: PIIPolicy) throws(EventValidationError) {
        guard policy.isEnabled else { return }
        try walkNamingOnFailure { naming throws(EventValidationError) in
            try walkPersonalData(in: value, key: key, path: naming ? path() : "", event: event, policy: policy, naming: naming)
        }
    }

    /// One walk of ``checkPersonalData(in:key:path:event:policy:)``: `naming`
    /// sorts object keys and builds the field's path; otherwise `path` is unused.
    private static func walkPersonalData(in value: JSONValue, key: String?, path: String, event: String, policy: PIIPolicy, naming: Bool) throws(EventValidationError) {
        if let key, policy.allowedKeys.contains(key) { return }
        switch value {
        case .string(let s):
            if let kind = policy.violation(inValue: s) {
                throw EventValidationError(code: .personalData, event: event, field: path,
                                           reason: "looks like \(kind), which must not be tracked; remove it or pseudonymize it", value: value)
            }
        case .array(let items):
            for (i, item) in items.enumerated() {
                try walkPersonalData(in: item, key: key, path: naming ? "\(path)[\(i)]" : "", event: event, policy: policy, naming: naming)
            }
        case .object(let object):
            try forEachMember(of: object, sorted: naming) { nestedKey, item throws(EventValidationError) in
                try walkPersonalData(in: item, key: nestedKey, path: naming ? "\(path).\(nestedKey)" : "", event: event, policy: policy, naming: naming)
            }
        default:
            return
        }
    }
}
