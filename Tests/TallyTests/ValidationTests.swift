@testable import Tally
import TallyTesting
import Testing

/// Runs `body` and returns the validation error it threw, or `nil` if it threw none.
private func rejection(_ body: () throws -> Void) -> EventValidationError? {
    do {
        try body()
        return nil
    } catch let error as EventValidationError {
        return error
    } catch {
        Issue.record("expected an EventValidationError, got \(error)")
        return nil
    }
}

/// A catalogue event's properties that a rule must reject.
struct CatalogueRejection: Sendable, CustomTestStringConvertible {
    var label: String
    var event: String
    var properties: JSONObject
    var code: EventValidationError.Code
    var field: String?

    init(_ label: String, _ event: String, _ properties: JSONObject, _ code: EventValidationError.Code, _ field: String?) {
        self.label = label
        self.event = event
        self.properties = properties
        self.code = code
        self.field = field
    }

    var testDescription: String { label }
}

/// A custom event that the generic limits or the PII policy must reject.
struct CustomRejection: Sendable, CustomTestStringConvertible {
    var label: String
    var name: String
    var properties: JSONObject
    var code: EventValidationError.Code
    var field: String?

    init(_ label: String, _ name: String, _ properties: JSONObject, _ code: EventValidationError.Code, _ field: String?) {
        self.label = label
        self.name = name
        self.properties = properties
        self.code = code
        self.field = field
    }

    var testDescription: String { label }
}

/// A string value that is, or is not, personal data.
struct PIISample: Sendable, CustomTestStringConvertible {
    var value: String
    var kind: PIIPolicy.Kind?

    init(_ value: String, _ kind: PIIPolicy.Kind?) {
        self.value = value
        self.kind = kind
    }

    var testDescription: String { value.debugDescription }
}

/// Properties nested `depth` levels deep, as ``JSONValue/depth`` counts them:
/// `nested(2)` is `{"level":{"level":1}}`.
private func nested(depth: Int) -> JSONObject {
    var object: JSONObject = ["level": 1]
    for _ in 1..<depth {
        object = ["level": .object(object)]
    }
    return object
}

private let api: JSONObject = ["method": "GET", "route": "/v1/tasks/:id", "status_code": 200, "duration_ms": 3.2]

private func apiRequest(_ key: String, _ value: JSONValue) -> JSONObject {
    var properties = api
    properties[key] = value
    return properties
}

private func applicationError(message: String) -> JSONObject {
    ["error_type": "DeliveryError", "severity": "error", "message": .string(message)]
}

@Suite("Validation")
struct ValidationTests {
    // MARK: Catalogue rules

    static let catalogueRejections: [CatalogueRejection] = [
        // required fields
        .init("missing task_id", "task_completed", ["duration_ms": 5], .missingField, "properties.task_id"),
        .init("null task_id", "task_completed", ["task_id": nil, "duration_ms": 5], .missingField, "properties.task_id"),
        .init("missing bool", "auth_token_refresh", [:], .missingField, "properties.success"),
        .init("missing severity", "application_error", ["error_type": "E", "message": "boom"], .missingField, "properties.severity"),
        // unknown fields
        .init("typo taskId", "task_completed", ["taskId": "t_1", "duration_ms": 5], .unknownField, "properties.taskId"),
        .init("field on an event without fields", "auth_logout", ["reason": "idle"], .unknownField, "properties.reason"),
        .init("extra field", "page_view", ["path": "/", "title": "Home"], .unknownField, "properties.title"),
        // types
        .init("string status_code", "api_request", apiRequest("status_code", "200"), .wrongType, "properties.status_code"),
        .init("double status_code", "api_request", apiRequest("status_code", 200.5), .wrongType, "properties.status_code"),
        .init("int for a bool", "auth_token_refresh", ["success": 1], .wrongType, "properties.success"),
        .init("string for a bool", "auth_session_validated", ["valid": "true"], .wrongType, "properties.valid"),
        .init("string duration", "task_completed", ["task_id": "t_1", "duration_ms": "12"], .wrongType, "properties.duration_ms"),
        .init("number task_id", "task_started", ["task_id": 42], .wrongType, "properties.task_id"),
        .init("object command", "task_created", ["task_id": "t_1", "command": ["run": "x"]], .wrongType, "properties.command"),
        .init("fields not a list", "profile_updated", ["fields": "name"], .wrongType, "properties.fields"),
        .init("bool method", "api_request", apiRequest("method", true), .wrongType, "properties.method"),
        // lengths
        .init("identifier of 129", "task_started", ["task_id": .string(String(repeating: "a", count: 129))], .tooLong, "properties.task_id"),
        .init("text of 1001", "task_created", ["task_id": "t_1", "command": .string(String(repeating: "x", count: 1_001))], .tooLong, "properties.command"),
        .init("slug of 65", "integration_connected", ["provider": .string(String(repeating: "p", count: 65))], .tooLong, "properties.provider"),
        .init("route of 257", "api_request", apiRequest("route", .string("/" + String(repeating: "r", count: 256))), .tooLong, "properties.route"),
        // empty strings
        .init("empty task_id", "task_started", ["task_id": ""], .tooShort, "properties.task_id"),
        .init("empty error", "task_failed", ["task_id": "t_1", "error": ""], .tooShort, "properties.error"),
        .init("empty provider", "oauth_flow_started", ["provider": ""], .tooShort, "properties.provider"),
        // shapes
        .init("space in task_id", "task_started", ["task_id": "t 1"], .malformed, "properties.task_id"),
        .init("slash in task_id", "task_started", ["task_id": "tasks/1"], .malformed, "properties.task_id"),
        .init("uppercase provider", "integration_connected", ["provider": "GitHub"], .malformed, "properties.provider"),
        .init("route without slash", "api_request", apiRequest("route", "v1/tasks"), .malformed, "properties.route"),
        .init("path with a space", "page_view", ["path": "/my tasks"], .malformed, "properties.path"),
        .init("control character in text", "task_created", ["task_id": "t_1", "command": "make\u{1B}[31m"], .malformed, "properties.command"),
        // ranges
        .init("status_code 99", "api_request", apiRequest("status_code", 99), .outOfRange, "properties.status_code"),
        .init("status_code 600", "api_request", apiRequest("status_code", 600), .outOfRange, "properties.status_code"),
        .init("negative duration", "task_completed", ["task_id": "t_1", "duration_ms": -0.5], .outOfRange, "properties.duration_ms"),
        .init("negative integer duration", "webhook_processed", ["provider": "github", "success": true, "duration_ms": -1], .outOfRange, "properties.duration_ms"),
        .init("negative size", "file_uploaded", ["file_type": "png", "size_bytes": -1], .outOfRange, "properties.size_bytes"),
        .init("query_length 10001", "search_performed", ["results_count": 0, "query_length": 10_001], .outOfRange, "properties.query_length"),
        // allowed values
        .init("method FETCH", "api_request", apiRequest("method", "FETCH"), .notAllowed, "properties.method"),
        .init("lowercase method", "api_request", apiRequest("method", "get"), .notAllowed, "properties.method"),
        .init("severity fatal", "application_error", ["error_type": "E", "severity": "fatal", "message": "boom"], .notAllowed, "properties.severity"),
        // slug lists
        .init("65 fields", "profile_updated", ["fields": .array(Array(repeating: "name", count: 65))], .tooLong, "properties.fields"),
        .init("number in fields", "task_updated", ["task_id": "t_1", "fields": ["title", 3]], .wrongType, "properties.fields"),
        .init("uppercase field name", "profile_updated", ["fields": ["displayName"]], .malformed, "properties.fields"),
        .init("empty field name", "profile_updated", ["fields": ["title", ""]], .tooShort, "properties.fields"),
        .init("field name of 65", "profile_updated", ["fields": [.string(String(repeating: "f", count: 65))]], .tooLong, "properties.fields"),
        // personal data in values
        .init("e-mail in message", "application_error", applicationError(message: "could not deliver to jane.doe@example.com"), .personalData, "properties.message"),
        .init("phone in message", "application_error", applicationError(message: "+49 151 12345678"), .personalData, "properties.message"),
        .init("US phone in message", "application_error", applicationError(message: "(555) 123-4567"), .personalData, "properties.message"),
        .init("IPv4 in message", "application_error", applicationError(message: "connection refused by 10.1.2.3"), .personalData, "properties.message"),
        .init("IPv4 with port in error", "task_failed", ["task_id": "t_1", "error": "connect to 10.1.2.3:5432 failed"], .personalData, "properties.error"),
        .init("IPv6 in message", "application_error", applicationError(message: "upstream 2001:db8::1 timed out"), .personalData, "properties.message"),
        .init("JWT in error", "integration_error", ["provider": "slack", "error": "rejected eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"], .personalData, "properties.error"),
        .init("bearer token in message", "application_error", applicationError(message: "Bearer abc123def456ghi789"), .personalData, "properties.message"),
        .init("GitHub token in error", "integration_error", ["provider": "github", "error": "ghp_1a2B3c4D5e6F7g8H9i0JkLmNoPqRsTuVwXyZ"], .personalData, "properties.error"),
        .init("e-mail in referrer", "page_view", ["path": "/", "referrer": "https://mail.example.com/?to=jane@example.com"], .personalData, "properties.referrer"),
    ]

    @Test(arguments: catalogueRejections)
    func catalogueRuleRejects(_ sample: CatalogueRejection) throws {
        let error = try #require(rejection { _ = try AnalyticsEvent(name: sample.event, properties: sample.properties) })
        #expect(error.code == sample.code)
        #expect(error.field == sample.field)
        #expect(error.event == sample.event)
        #expect(error.index == nil)
        #expect(!error.reason.isEmpty)

        // Every boundary runs the same checks.
        let payloadError = try #require(rejection { _ = try EventPayload(name: sample.event, properties: sample.properties) })
        #expect(payloadError == error)
        let wire: JSONObject = ["type": "track", "event": .string(sample.event), "properties": .object(sample.properties)]
        let wireError = try #require(rejection { _ = try EnrichedEvent(wire: wire, receivedAt: Self.arrival) })
        #expect(wireError == error)
    }

    @Test func boundaryValuesAreAccepted() throws {
        let accepted: [(String, JSONObject)] = [
            ("task_started", ["task_id": .string(String(repeating: "a", count: 128))]),
            ("task_started", ["task_id": "T_01:abc-def.2"]),
            ("task_created", ["task_id": "t_1", "command": .string(String(repeating: "é", count: 1_000))]),
            ("task_created", ["task_id": "t_1", "command": "make\ttest\nmake install"]),
            ("api_request", apiRequest("status_code", 100)),
            ("api_request", apiRequest("status_code", 599)),
            ("api_request", apiRequest("duration_ms", 0)),
            ("api_request", apiRequest("duration_ms", 12)),
            ("api_request", apiRequest("route", "/")),
            ("search_performed", ["results_count": 0, "query_length": 10_000]),
            ("profile_updated", ["fields": []]),
            ("profile_updated", ["fields": .array(Array(repeating: "name", count: 64))]),
            ("task_failed", ["task_id": "t_1", "error": "boom", "duration_ms": nil]),
            ("auth_logout", [:]),
        ]
        for (name, properties) in accepted {
            let event = try #require(try AnalyticsEvent(name: name, properties: properties), "\(name) \(properties)")
            #expect(event.name == name)
        }
    }

    @Test func integerDurationsDecodeAsNumbers() throws {
        let event = try AnalyticsEvent(name: "task_completed", properties: ["task_id": "t_1", "duration_ms": 12])
        #expect(event == .taskCompleted(taskID: "t_1", durationMs: 12))
    }

    @Test func unknownFieldsAreReportedInAStableOrder() throws {
        let properties: JSONObject = ["zeta": 1, "alpha": 2, "taskId": "t_1", "duration_ms": 5]
        for _ in 0..<5 {
            let error = try #require(rejection { _ = try AnalyticsEvent(name: "task_completed", properties: properties) })
            #expect(error.field == "properties.alpha")
        }
    }

    @Test func sizeIsMeasuredExactlyNearTheLimit() throws {
        // 20 KB of text: under the 32 KB limit, though six times that as a bound.
        try EventValidator.checkCustom(name: "report_exported", properties: ["text": .string(String(repeating: "a", count: 20_000))])
        let over = try #require(rejection {
            try EventValidator.checkCustom(name: "report_exported", properties: ["text": .string(String(repeating: "a", count: 33_000))])
        })
        #expect(over.code == .tooLarge)
        #expect(over.reason.hasPrefix("is 33026 bytes encoded"))  // {"text":"…"} and the name
    }

    @Test func theSizeBoundIsNeverBelowTheSerializedSize() {
        let values: [JSONValue] = [
            nil, true, false, .int(Int.min), .int(Int.max), -1.7976931348623157e308, 2.2250738585072014e-308, 0.1, .double(.leastNonzeroMagnitude),
            "\u{0}\u{1F}\"\\", "\u{2028}\u{2029}", "é😀", [], [:], [[[1]]], ["": ["\u{1}": [nil, "\u{2028}"]]],
        ]
        for value in values {
            #expect(value.serializedSizeBound >= value.serialized().utf8.count, "\(value)")
        }
    }

    @Test func customEventKeysAreReportedInAStableOrder() throws {
        // Dictionaries of different sizes list their keys in different orders;
        // the error names the first bad key in sorted order whatever the order.
        for fillers in 0..<24 {
            var properties: JSONObject = ["zeta": ["password": "x"], "alpha": ["items": [["n": 1], ["email": "x"]]]]
            for i in 0..<fillers { properties["k\(i)"] = .int(i) }
            let error = try #require(rejection { try EventValidator.checkCustom(name: "report_exported", properties: properties) })
            #expect(error.field == "properties.alpha.items[1].email")
        }
    }

    @Test func unknownFieldReasonListsTheSchemasFields() throws {
        let error = try #require(rejection {
            _ = try AnalyticsEvent(name: "task_completed", properties: ["taskId": "t_1", "duration_ms": 5])
        })
        #expect(error.reason.contains("task_id"))
        #expect(error.reason.contains("duration_ms"))
    }

    // MARK: The typed path

    @Test func typedEventsAreValidated() throws {
        let status = try #require(rejection {
            try AnalyticsEvent.apiRequest(method: "GET", route: "/x", statusCode: 700, durationMs: 1).validate()
        })
        #expect(status.code == .outOfRange)
        #expect(status.field == "properties.status_code")
        #expect(status.event == "api_request")
        #expect(status.reason.contains("100"))
        #expect(status.reason.contains("599"))

        let task = try #require(rejection { try AnalyticsEvent.taskCompleted(taskID: "t 1", durationMs: -1).validate() })
        #expect(task.code == .malformed)
        #expect(task.field == "properties.task_id")

        let duration = try #require(rejection { try AnalyticsEvent.taskCompleted(taskID: "t_1", durationMs: -1).validate() })
        #expect(duration.code == .outOfRange)
        #expect(duration.field == "properties.duration_ms")

        let nan = try #require(rejection { try AnalyticsEvent.taskCompleted(taskID: "t_1", durationMs: .nan).validate() })
        #expect(nan.code == .outOfRange)
        let infinite = try #require(rejection { try AnalyticsEvent.webhookProcessed(provider: "github", success: true, durationMs: .infinity).validate() })
        #expect(infinite.code == .outOfRange)

        let method = try #require(rejection { try EventValidator.check(.apiRequest(method: "FETCH", route: "/x", statusCode: 200, durationMs: 1)) })
        #expect(method.code == .notAllowed)
        #expect(method.field == "properties.method")

        let pii = try #require(rejection {
            try AnalyticsEvent.applicationError(errorType: "MailError", severity: .critical, message: "bounce from jane@example.com").validate()
        })
        #expect(pii.code == .personalData)
        #expect(pii.field == "properties.message")

        try AnalyticsEvent.taskCompleted(taskID: "t_1", durationMs: 0).validate()
    }

    /// An app's own typed event that reuses a catalogue name.
    struct ImpostorTaskCreated: TrackableEvent {
        var name: String { "task_created" }
        var properties: JSONObject { ["taskId": "t_1"] }
    }

    /// An app's own typed event.
    struct ReportExported: TrackableEvent {
        var format: String
        var name: String { "report_exported" }
        var properties: JSONObject { ["format": .string(format), "rows": 120] }
    }

    @Test func appEventsAreHeldToTheCatalogueOrTheGenericLimits() throws {
        let impostor = try #require(rejection { try ImpostorTaskCreated().validate(limits: .default, policy: .default) })
        #expect(impostor.code == .unknownField)
        #expect(impostor.field == "properties.taskId")

        try ReportExported(format: "csv").validate(limits: .default, policy: .default)
        #expect(ReportExported(format: "csv").payload == .custom(name: "report_exported", properties: ["format": "csv", "rows": 120]))
        let leak = try #require(rejection { try ReportExported(format: "sent to jane@example.com").validate(limits: .default, policy: .default) })
        #expect(leak.code == .personalData)
        #expect(leak.field == "properties.format")
    }

    // MARK: Custom events

    static let customRejections: [CustomRejection] = {
        var wide: JSONObject = [:]
        for i in 0..<257 { wide["key_\(i)"] = .int(i) }
        var large: JSONObject = [:]
        for i in 0..<40 { large["text_\(i)"] = .string(String(repeating: "lorem ipsum ", count: 80)) }
        return [
            .init("empty name", "", [:], .invalidName, "event"),
            .init("name of 101 bytes", String(repeating: "n", count: 101), [:], .invalidName, "event"),
            .init("name of 51 two-byte characters", String(repeating: "é", count: 51), [:], .invalidName, "event"),
            .init("newline in name", "report\nexported", [:], .invalidName, "event"),
            .init("NUL in name", "report\u{0}", [:], .invalidName, "event"),
            .init("DEL in name", "report\u{7F}", [:], .invalidName, "event"),
            .init("leading space in name", " report", [:], .invalidName, "event"),
            .init("depth 9", "report_exported", nested(depth: 9), .tooDeep, "properties"),
            .init("257 keys", "report_exported", wide, .tooManyKeys, "properties"),
            .init("257 keys counted at every level", "report_exported", ["outer": .object(wide.filter { $0.key != "key_0" })], .tooManyKeys, "properties"),
            .init("key of 129 bytes", "report_exported", [String(repeating: "k", count: 129): 1], .keyTooLong, "properties." + String(repeating: "k", count: 128) + "…"),
            .init("larger than 32 KB", "report_exported", large, .tooLarge, nil),
            .init("email key", "report_exported", ["email": "redacted"], .personalData, "properties.email"),
            .init("Email key", "report_exported", ["Email": true], .personalData, "properties.Email"),
            .init("phone_number key", "report_exported", ["phone_number": "redacted"], .personalData, "properties.phone_number"),
            .init("ip_address key", "report_exported", ["ip_address": "redacted"], .personalData, "properties.ip_address"),
            .init("access_token key", "report_exported", ["access_token": "redacted"], .personalData, "properties.access_token"),
            .init("accessToken key", "report_exported", ["accessToken": "redacted"], .personalData, "properties.accessToken"),
            .init("password key", "signup_step", ["password": "redacted"], .personalData, "properties.password"),
            .init("nested email key", "report_exported", ["recipient": ["email": "redacted"]], .personalData, "properties.recipient.email"),
            .init("key in a list of objects", "report_exported", ["items": [["id": 1], ["phone": "redacted"]]], .personalData, "properties.items[1].phone"),
            .init("e-mail value", "report_exported", ["recipient": "jane.doe@example.com"], .personalData, "properties.recipient"),
            .init("nested IP value", "report_exported", ["client": ["origin": "192.168.0.12"]], .personalData, "properties.client.origin"),
            .init("token in a list", "report_exported", ["headers": ["Accept: */*", "Bearer abc123def456"]], .personalData, "properties.headers[1]"),
        ]
    }()

    @Test(arguments: customRejections)
    func customLimitRejects(_ sample: CustomRejection) throws {
        let error = try #require(rejection { try EventValidator.checkCustom(name: sample.name, properties: sample.properties) })
        #expect(error.code == sample.code)
        #expect(error.field == sample.field)
        #expect(!error.reason.isEmpty)

        let viaPayload = try #require(rejection { _ = try EventPayload(name: sample.name, properties: sample.properties) })
        #expect(viaPayload == error)
        let viaTrackable = try #require(rejection {
            try CustomEvent(sample.name, properties: sample.properties).validate(limits: .default, policy: .default)
        })
        #expect(viaTrackable == error)
    }

    @Test func customEventsAtTheLimitsAreAccepted() throws {
        var keys: JSONObject = [:]
        for i in 0..<256 { keys["key_\(i)"] = .int(i) }
        let deep = nested(depth: 8)
        #expect(JSONValue.object(deep).depth == 8)
        var large: JSONObject = [:]
        for i in 0..<30 { large["text_\(i)"] = .string(String(repeating: "lorem ipsum ", count: 80)) }
        #expect(JSONValue.object(large).serialized().utf8.count < 32 * 1024)

        let accepted: [(String, JSONObject)] = [
            (String(repeating: "n", count: 100), [:]),
            ("report exported", ["format": "csv"]),
            ("Report Exported ✓", [:]),
            ("report_exported", deep),
            ("report_exported", keys),
            ("report_exported", [String(repeating: "k", count: 128): 1]),
            ("report_exported", large),
            ("report_exported", ["mailbox_count": 3, "tokens_used": 1200, "telemetry": true, "ship": "fast"]),
        ]
        for (name, properties) in accepted {
            try EventValidator.checkCustom(name: name, properties: properties)
            let payload = try EventPayload(name: name, properties: properties)
            #expect(payload == .custom(name: name, properties: properties))
        }
    }

    @Test func depthCountsAsDocumented() throws {
        // EventLimits.maxDepth: "`{"a":{"b":1}}` is 2".
        #expect(JSONValue.object(nested(depth: 2)) == ["level": ["level": 1]])
        #expect(JSONValue.object(nested(depth: 9)).depth == 9)
        var limits = EventLimits()
        limits.maxDepth = 2
        try EventValidator.checkCustom(name: "shallow", properties: nested(depth: 2), limits: limits)
        let error = try #require(rejection { try EventValidator.checkCustom(name: "shallow", properties: nested(depth: 3), limits: limits) })
        #expect(error.code == .tooDeep)
    }

    @Test func limitsAreConfigurable() throws {
        var limits = EventLimits()
        limits.maxKeyCount = 2
        limits.maxKeyLength = 4
        limits.maxEncodedBytes = 40
        limits.maxNameLength = 6
        try EventValidator.checkCustom(name: "report", properties: ["a": 1, "b": 2], limits: limits)
        #expect(rejection { try EventValidator.checkCustom(name: "report", properties: ["a": 1, "b": 2, "c": 3], limits: limits) }?.code == .tooManyKeys)
        #expect(rejection { try EventValidator.checkCustom(name: "report", properties: ["abcde": 1], limits: limits) }?.code == .keyTooLong)
        #expect(rejection { try EventValidator.checkCustom(name: "report", properties: ["a": .string(String(repeating: "x", count: 40))], limits: limits) }?.code == .tooLarge)
        #expect(rejection { try EventValidator.checkCustom(name: "reports", properties: [:], limits: limits) }?.code == .invalidName)
        #expect(EventLimits.default == EventLimits())
        #expect(EventLimits.default.maxEncodedBytes == 32 * 1024)
    }

    // MARK: Personal data

    static let piiSamples: [PIISample] = [
        .init("jane.doe@example.com", .email),
        .init("Contact: jane+billing@mail.example.co.uk, please", .email),
        .init("+49 151 12345678", .phoneNumber),
        .init("(555) 123-4567", .phoneNumber),
        .init("555-123-4567", .phoneNumber),
        .init("1 800 555 1234", .phoneNumber),
        .init("10.1.2.3", .ipAddress),
        .init("from 192.168.1.20:8080", .ipAddress),
        .init("2001:db8::1", .ipAddress),
        .init("[2001:db8::1]:443", .ipAddress),
        .init("::ffff:10.0.0.1", .ipAddress),
        .init("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", .authToken),
        .init("Bearer abc123def456ghi789", .authToken),
        .init("authorization: bearer abc123def456ghi789", .authToken),
        .init("ghp_1a2B3c4D5e6F7g8H9i0JkLmNoPqRsTuVwXyZ", .authToken),
        .init("xoxb-1234567890-abcdefghijklmnop", .authToken),
        .init("sk_live_4eC39HqLyjWDarjtT1zdp7dc", .authToken),
        .init("AKIAIOSFODNN7EXAMPLE", .authToken),
    ]

    @Test(arguments: piiSamples)
    func personalDataIsRecognized(_ sample: PIISample) {
        #expect(PIIPolicy.default.violation(inValue: sample.value) == sample.kind)
    }

    /// Values that must not be mistaken for personal data.
    static let ordinaryValues: [String] = [
        "2026-11-23",
        "2026-11-23T13:08:17.123Z",
        "13:08:17",
        "1.2.3",
        "v2.14.0-beta.1",
        "0192f0c1-7b3a-7cde-8f01-23456789abcd",
        "4815162342",
        "t_4815162342",
        "/v1/tasks/:id",
        "/projects/p_41c9/tasks",
        "https://www.google.com/search",
        "localhost:8080",
        "aa:bb:cc:dd:ee:ff",
        "std::vector<int> index out of range",
        "Task timed out after 30000 ms",
        "keyNotFound: 'project_id' in the task payload",
        "Expected 3 rows, got 2",
        "HTTP 503 from upstream; retrying in 30 s",
        "@channel deploy finished",
        "swift build -c release",
        "Missing bearer token in the Authorization header",
        "Basic plan quota exceeded",
        "could not resolve swift-log@1.16.2",
    ]

    @Test(arguments: ordinaryValues)
    func ordinaryValuesAreNotPersonalData(_ value: String) throws {
        #expect(PIIPolicy.default.violation(inValue: value) == nil)
        let event = try AnalyticsEvent(name: "application_error", properties: applicationError(message: value))
        #expect(event == .applicationError(errorType: "DeliveryError", severity: .error, message: value))
    }

    @Test func ordinaryIdentifiersPassInEveryField() throws {
        let events: [AnalyticsEvent] = [
            .taskCreated(taskID: "0192f0c1-7b3a-7cde-8f01-23456789abcd", projectID: "4815162342", cocoonID: "c_2026-11-23", command: "swift test --filter 1.2.3"),
            .apiRequest(method: "DELETE", route: "/v1/users/:id/events", statusCode: 204, durationMs: 0.4),
            .pageView(path: "/v1/tasks/:id", referrer: "https://example.com/changelog/1.2.3"),
            .webhookReceived(provider: "github", event: "pull_request.opened"),
        ]
        for event in events {
            try event.validate()
        }
    }

    @Test func keysThatMerelyContainSensitiveWordsAreAllowed() {
        for key in ["mailbox_count", "tokens_used", "telephony_provider", "ship", "description", "tip"] {
            #expect(PIIPolicy.default.violation(inKey: key) == nil, "\(key)")
        }
        for key in ["email", "E-Mail", "phone_number", "ip_address", "IPAddress", "access_token", "api_key", "client_secret", "Authorization"] {
            #expect(PIIPolicy.default.violation(inKey: key) != nil, "\(key)")
        }
    }

    @Test func keysAreComparedLowercasedWithoutSeparators() {
        let named: [(String, PIIPolicy.Kind?)] = [
            ("E.Mail", .email), ("Client Secret", .authToken), ("IPv6", .ipAddress), ("mobile-NUMBER", .phoneNumber),
            ("AUTHORIZATION", .authToken), ("__token__", .authToken),
            // Lowercasing the Kelvin sign gives an ASCII "k".
            ("to\u{212A}en", .authToken), ("\u{C9}mail", nil),
            ("authorizations", nil), ("email_address_of_the_user", nil), ("", nil), ("_-. ", nil),
        ]
        for (key, kind) in named {
            #expect(PIIPolicy.default.violation(inKey: key) == kind, "\(key.debugDescription)")
        }
    }

    @Test func disabledPolicyAcceptsPersonalData() throws {
        let properties = applicationError(message: "could not deliver to jane.doe@example.com")
        #expect(rejection { _ = try AnalyticsEvent(name: "application_error", properties: properties) }?.code == .personalData)
        let event = try AnalyticsEvent(name: "application_error", properties: properties, policy: .disabled)
        #expect(event?.properties == properties)

        try EventValidator.checkCustom(name: "lead_captured", properties: ["email": "jane@example.com", "ip": "10.1.2.3"], policy: .disabled)
        #expect(PIIPolicy.disabled.violation(inKey: "email") == nil)
        #expect(PIIPolicy.disabled.violation(inValue: "jane@example.com") == nil)
        #expect(PIIPolicy.default.isEnabled)
        #expect(!PIIPolicy.disabled.isEnabled)
    }

    @Test func allowedKeysAreExempt() throws {
        let properties: JSONObject = ["support_email": "help@example.com", "plan": "pro"]
        let error = try #require(rejection { try EventValidator.checkCustom(name: "support_contacted", properties: properties) })
        #expect(error.code == .personalData)
        #expect(error.field == "properties.support_email")

        var policy = PIIPolicy.default
        policy.allowedKeys.insert("support_email")
        try EventValidator.checkCustom(name: "support_contacted", properties: properties, policy: policy)

        // Allowing a key exempts the key itself as well as its value, and nothing else.
        policy.allowedKeys.insert("email")
        try EventValidator.checkCustom(name: "support_contacted", properties: ["email": "help@example.com"], policy: policy)
        let other = try #require(rejection {
            try EventValidator.checkCustom(name: "support_contacted", properties: ["email": "help@example.com", "cc": "jane@example.com"], policy: policy)
        })
        #expect(other.field == "properties.cc")
    }

    @Test func allowedKeysExemptEveryValueUnderTheKey() throws {
        // "Property keys exempted from every check (exact match)": that holds for a
        // list under the key and for a key that contains a dot.
        var policy = PIIPolicy.default
        policy.allowedKeys = ["cc_addresses", "support.email"]
        #expect(rejection {
            try EventValidator.checkCustom(name: "support_contacted", properties: ["cc_addresses": ["help@example.com", "billing@example.com"]], policy: policy)
        } == nil)
        #expect(rejection {
            try EventValidator.checkCustom(name: "support_contacted", properties: ["support.email": "help@example.com"], policy: policy)
        } == nil)
    }

    @Test func policyKindsCanBeNarrowed() {
        var policy = PIIPolicy.default
        policy.kinds = [.email]
        #expect(policy.violation(inValue: "jane@example.com") == .email)
        #expect(policy.violation(inValue: "+49 151 12345678") == nil)
        #expect(policy.violation(inValue: "10.1.2.3") == nil)
        #expect(policy.violation(inKey: "phone") == nil)
        #expect(policy.violation(inKey: "email") == .email)
    }

    // MARK: Messages

    @Test func descriptionNamesEventAndFieldButNeverTheValue() throws {
        let secret = "jane.doe@example.com"
        let error = try #require(rejection {
            _ = try AnalyticsEvent(name: "application_error", properties: applicationError(message: "bounce from \(secret)"))
        })
        #expect(error.description.contains("'application_error'"))
        #expect(error.description.contains("properties.message"))
        #expect(error.description.contains("[personal_data]"))
        #expect(error.description.contains("e-mail"))
        #expect(!error.description.contains(secret))
        #expect(!error.description.contains("jane"))
        #expect(error.debugDescription.contains(secret))
        #expect(String(describing: error).contains(secret) == false)

        let placed = error.at(index: 3)
        #expect(placed.index == 3)
        #expect(placed.description.hasPrefix("event #3 'application_error'"))
        #expect(!placed.description.contains(secret))
        #expect(error.index == nil)
    }

    @Test func rangeErrorsDoNotEchoTheValueInTheirDescription() throws {
        let error = try #require(rejection { _ = try AnalyticsEvent(name: "api_request", properties: apiRequest("status_code", 777)) })
        #expect(!error.description.contains("777"))
        #expect(error.debugDescription.contains("777"))
        #expect(error.description == "'api_request': properties.status_code must be between 100 and 599 [out_of_range]")
    }

    @Test func codesHaveStableNames() {
        let codes: [(EventValidationError.Code, String)] = [
            (.missingField, "missing_field"), (.unknownField, "unknown_field"), (.wrongType, "wrong_type"),
            (.tooShort, "too_short"), (.tooLong, "too_long"), (.outOfRange, "out_of_range"), (.malformed, "malformed"),
            (.notAllowed, "not_allowed"), (.invalidName, "invalid_name"), (.tooLarge, "too_large"), (.tooDeep, "too_deep"),
            (.tooManyKeys, "too_many_keys"), (.keyTooLong, "key_too_long"), (.personalData, "personal_data"),
        ]
        for (code, name) in codes {
            #expect(code.description == name)
        }
        #expect(Set(codes.map(\.0)).count == codes.count)
    }

    // MARK: The envelope

    static let arrival = Timestamp(iso8601: "2026-11-23T13:08:18Z")!

    @Test func userIDThatIsAnEmailIsRejected() throws {
        var event = CatalogueExamples.event(.authLogout, at: Self.arrival)
        try event.validateEnvelope()
        event.userID = "jane.doe@example.com"
        let error = try #require(rejection { try event.validateEnvelope() })
        #expect(error.code == .personalData)
        #expect(error.field == "userId")
        #expect(error.event == "auth_logout")
        #expect(!error.description.contains("jane"))
        #expect(error.debugDescription.contains("jane.doe@example.com"))

        try event.validateEnvelope(policy: .disabled)
    }

    @Test func envelopeIDsAndServiceAreChecked() throws {
        let base = CatalogueExamples.event(.authLogout, at: Self.arrival)
        var spaced = base
        spaced.sessionID = "s 1"
        #expect(rejection { try spaced.validateEnvelope() }?.field == "sessionId")
        var long = base
        long.anonymousID = String(repeating: "a", count: 129)
        #expect(rejection { try long.validateEnvelope() }?.code == .malformed)
        var empty = base
        empty.userID = ""
        #expect(rejection { try empty.validateEnvelope() }?.field == "userId")
        var phone = base
        phone.anonymousID = "+4915112345678"
        #expect(rejection { try phone.validateEnvelope() }?.code == .personalData)
        var service = base
        service.service = "Billing API"
        #expect(rejection { try service.validateEnvelope() }?.field == "service")
        var emptyService = base
        emptyService.service = ""
        #expect(rejection { try emptyService.validateEnvelope() }?.code == .tooShort)
    }

    // MARK: The wire decoder

    private func track(_ extra: JSONObject) -> JSONObject {
        var object: JSONObject = [
            "type": "track", "event": "task_started", "properties": ["task_id": "t_1"],
            "messageId": "0192f0c1-7b3a-7cde-8f01-23456789abcd", "timestamp": "2026-11-23T13:08:17.5Z",
        ]
        for (key, value) in extra { object[key] = value }
        return object
    }

    @Test func wireAcceptsAMinimalTrackCall() throws {
        let event = try EnrichedEvent(wire: track([:]), receivedAt: Self.arrival, defaultService: "web")
        #expect(event.payload == .catalogue(.taskStarted(taskID: "t_1")))
        #expect(event.eventID.uuidString == "0192f0c1-7b3a-7cde-8f01-23456789abcd")
        #expect(event.timestamp == Timestamp(iso8601: "2026-11-23T13:08:17.5Z"))
        #expect(event.receivedAt == Self.arrival)
        #expect(event.service == "web")
        #expect(event.userID == nil)
        #expect(event.context == EventContext())
    }

    @Test func wireRejectsOtherMessageTypes() throws {
        let error = try #require(rejection { _ = try EnrichedEvent(wire: track(["type": "identify"]), receivedAt: Self.arrival) })
        #expect(error.code == .notAllowed)
        #expect(error.field == "type")
    }

    @Test func wireRequiresAnEventName() throws {
        var object = track([:])
        object["event"] = nil
        let missing = try #require(rejection { _ = try EnrichedEvent(wire: object, receivedAt: Self.arrival) })
        #expect(missing.code == .missingField)
        #expect(missing.field == "event")

        let number = try #require(rejection { _ = try EnrichedEvent(wire: track(["event": 7]), receivedAt: Self.arrival) })
        #expect(number.code == .wrongType)
        #expect(number.field == "event")

        let empty = try #require(rejection { _ = try EnrichedEvent(wire: track(["event": ""]), receivedAt: Self.arrival) })
        #expect(empty.code == .invalidName)
    }

    @Test func wireRequiresObjectProperties() throws {
        let error = try #require(rejection { _ = try EnrichedEvent(wire: track(["properties": ["t_1"]]), receivedAt: Self.arrival) })
        #expect(error.code == .wrongType)
        #expect(error.field == "properties")
        #expect(error.event == "task_started")

        let null = try #require(rejection { _ = try EnrichedEvent(wire: track(["properties": nil]), receivedAt: Self.arrival) })
        #expect(null.code == .missingField)
        #expect(null.field == "properties.task_id")
    }

    @Test func wireRejectsBadTimestamps() throws {
        let text = try #require(rejection { _ = try EnrichedEvent(wire: track(["timestamp": "23/11/2026 13:08"]), receivedAt: Self.arrival) })
        #expect(text.code == .malformed)
        #expect(text.field == "timestamp")
        let day = try #require(rejection { _ = try EnrichedEvent(wire: track(["timestamp": "2026-02-30T00:00:00Z"]), receivedAt: Self.arrival) })
        #expect(day.field == "timestamp")
        let number = try #require(rejection { _ = try EnrichedEvent(wire: track(["timestamp": 1_795_439_297]), receivedAt: Self.arrival) })
        #expect(number.code == .wrongType)
        let received = try #require(rejection { _ = try EnrichedEvent(wire: track(["receivedAt": "yesterday"]), receivedAt: Self.arrival) })
        #expect(received.field == "receivedAt")
    }

    @Test func wireTimesDefaultToArrival() throws {
        var object = track([:])
        object["timestamp"] = nil
        let event = try EnrichedEvent(wire: object, receivedAt: Self.arrival)
        #expect(event.timestamp == Self.arrival)
        #expect(event.receivedAt == Self.arrival)
    }

    @Test func nonUUIDMessageIDsMapDeterministically() throws {
        let a1 = try EnrichedEvent(wire: track(["messageId": "ajs-next-1732367297123-5f8e"]), receivedAt: Self.arrival)
        let a2 = try EnrichedEvent(wire: track(["messageId": "ajs-next-1732367297123-5f8e"]), receivedAt: Self.arrival.adding(days: 1))
        let b = try EnrichedEvent(wire: track(["messageId": "ajs-next-1732367297123-5f8f"]), receivedAt: Self.arrival)
        #expect(a1.eventID == a2.eventID)
        #expect(a1.eventID != b.eventID)
        #expect(a1.eventID.version == 8)
        #expect(b.eventID.version == 8)
        #expect(a1.eventID.low >> 62 == 0b10)
        #expect(a1.eventID == EventID.derived(fromMessageID: "ajs-next-1732367297123-5f8e"))
        #expect(EventID(a1.eventID.uuidString) == a1.eventID)

        let numeric = try #require(rejection { _ = try EnrichedEvent(wire: track(["messageId": 42]), receivedAt: Self.arrival) })
        #expect(numeric.code == .wrongType)
        #expect(numeric.field == "messageId")
    }

    @Test func uppercaseUUIDMessageIDsAreKept() throws {
        let event = try EnrichedEvent(wire: track(["messageId": "0192F0C1-7B3A-7CDE-8F01-23456789ABCD"]), receivedAt: Self.arrival)
        #expect(event.eventID.uuidString == "0192f0c1-7b3a-7cde-8f01-23456789abcd")
    }

    @Test func missingMessageIDGetsAVersion7IDAtArrival() throws {
        var object = track([:])
        object["messageId"] = nil
        let event = try EnrichedEvent(wire: object, receivedAt: Self.arrival)
        #expect(event.eventID.version == 7)
        #expect(event.eventID.low >> 62 == 0b10)
        #expect(event.eventID.milliseconds == Self.arrival.microsecondsSinceEpoch / 1_000)
    }

    @Test func contextIPIsDropped() throws {
        let context: JSONValue = [
            "ip": "203.0.113.7", "ipAddress": "203.0.113.7", "ip_address": "203.0.113.7",
            "library": ["name": "analytics.js", "version": "5.2.0"], "locale": "de-DE",
            "userAgent": "Mozilla/5.0", "service": "web", "sessionId": "s_42",
        ]
        let event = try EnrichedEvent(wire: track(["context": context]), receivedAt: Self.arrival)
        #expect(event.context.extra["ip"] == nil)
        #expect(event.context.extra["ipAddress"] == nil)
        #expect(event.context.extra["ip_address"] == nil)
        #expect(event.context.libraryName == "analytics.js")
        #expect(event.context.libraryVersion == "5.2.0")
        #expect(event.context.locale == "de-DE")
        #expect(event.context.extra["userAgent"] == "Mozilla/5.0")
        #expect(event.service == "web")
        #expect(event.sessionID == "s_42")
        let stored = JSONValue.object(event.data).serialized() + JSONValue.object(event.wireJSON).serialized()
        #expect(!stored.contains("203.0.113.7"))
    }

    @Test func wireAcceptsCustomEventsUnderGenericLimits() throws {
        let event = try EnrichedEvent(
            wire: track(["event": "report_exported", "properties": ["format": "csv", "rows": 120, "filters": ["status": "open"]]]),
            receivedAt: Self.arrival
        )
        #expect(event.payload == .custom(name: "report_exported", properties: ["format": "csv", "rows": 120, "filters": ["status": "open"]]))
        #expect(event.name == "report_exported")

        let roundTrip = try EnrichedEvent(wire: event.wireJSON, receivedAt: Self.arrival)
        #expect(roundTrip == event)

        let pii = try #require(rejection {
            _ = try EnrichedEvent(wire: track(["event": "report_exported", "properties": ["email": "redacted"]]), receivedAt: Self.arrival)
        })
        #expect(pii.code == .personalData)
        #expect(pii.event == "report_exported")
    }

    @Test func wireUserIDsAreCheckedForPersonalData() throws {
        let email = try #require(rejection { _ = try EnrichedEvent(wire: track(["userId": "jane.doe@example.com"]), receivedAt: Self.arrival) })
        #expect(email.code == .personalData)
        #expect(email.field == "userId")
        #expect(!email.description.contains("jane.doe"))

        let numeric = try EnrichedEvent(wire: track(["userId": 4_815_162_342]), receivedAt: Self.arrival)
        #expect(numeric.userID == "4815162342")
        let anonymous = try EnrichedEvent(wire: track(["anonymousId": "a_0192f0c1"]), receivedAt: Self.arrival)
        #expect(anonymous.anonymousID == "a_0192f0c1")
        let wrong = try #require(rejection { _ = try EnrichedEvent(wire: track(["userId": ["id": 1]]), receivedAt: Self.arrival) })
        #expect(wrong.code == .wrongType)
        #expect(wrong.field == "userId")
    }
}
