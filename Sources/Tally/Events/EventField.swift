/// One property of a catalogue event: its wire key, its rule and what it means.
///
/// The fields are shared constants so that the schema table, the encoder and the
/// decoder of ``AnalyticsEvent`` all spell a key the same way.
public struct EventField: Sendable, Hashable {
    public let key: String
    public let rule: FieldRule
    public let summary: String

    public init(_ key: String, _ rule: FieldRule.Kind, _ summary: String) {
        self.key = key
        self.rule = FieldRule(rule)
        self.summary = summary
    }
}

extension EventField {
    static let idLength = 128

    static let success = EventField("success", .boolean, "Whether the operation succeeded.")
    static let authMethod = EventField("method", .slug(maxLength: 64), "How the user authenticated, e.g. password, magic_link, oauth.")
    static let failureReason = EventField("failure_reason", .slug(maxLength: 64), "Why the login failed, e.g. bad_password, expired_code.")
    static let valid = EventField("valid", .boolean, "Whether the session was still valid.")

    static let taskID = EventField("task_id", .identifier(maxLength: idLength), "The task's opaque id.")
    static let projectID = EventField("project_id", .identifier(maxLength: idLength), "The project's opaque id.")
    static let cocoonID = EventField("cocoon_id", .identifier(maxLength: idLength), "The cocoon's opaque id.")
    static let command = EventField("command", .text(maxLength: 1_000), "The command the task runs, e.g. `swift test`, without personal data.")
    static let durationMs = EventField("duration_ms", .number(0...Double.greatestFiniteMagnitude), "How long it took, in milliseconds.")
    static let error = EventField("error", .text(maxLength: 1_000), "What went wrong, without personal data.")
    static let fields = EventField("fields", .slugList(maxCount: 64, maxLength: 64), "The names of the fields that changed.")

    static let provider = EventField("provider", .slug(maxLength: 64), "The third-party provider, e.g. github, slack.")
    static let action = EventField("action", .slug(maxLength: 100), "What the integration was used for.")
    static let webhookEvent = EventField("event", .slug(maxLength: 100), "The provider's event name, e.g. push.")
    static let reason = EventField("reason", .slug(maxLength: 100), "Why it disconnected, e.g. timeout, shutdown.")

    static let path = EventField("path", .path(maxLength: 2_048), "The page's path, without query string.")
    static let referrer = EventField("referrer", .text(maxLength: 2_048), "Where the visitor came from.")
    static let fileType = EventField("file_type", .slug(maxLength: 100), "The file's type, e.g. png, pdf.")
    static let sizeBytes = EventField("size_bytes", .integer(0...Int.max), "The file's size in bytes.")
    static let resultsCount = EventField("results_count", .integer(0...Int.max), "How many results the search returned.")
    static let queryLength = EventField("query_length", .integer(0...10_000), "The length of the query in characters (never the query).")

    static let httpMethod = EventField("method", .oneOf(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]), "The HTTP method.")
    static let route = EventField("route", .path(maxLength: 256), "The route template, e.g. /v1/tasks/:id (never the raw URL).")
    static let statusCode = EventField("status_code", .integer(100...599), "The HTTP status code of the response.")
    static let operation = EventField("operation", .slug(maxLength: 100), "The kind of query, e.g. select, insert.")
    static let errorType = EventField("error_type", .identifier(maxLength: 100), "The error's type, e.g. DecodingError.")
    static let severity = EventField("severity", .oneOf(ErrorSeverity.allCases.map(\.rawValue)), "How bad it was.")
    static let message = EventField("message", .text(maxLength: 1_000), "What happened, without personal data.")
}
