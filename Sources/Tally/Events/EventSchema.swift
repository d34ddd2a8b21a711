/// The shape of one catalogue event: its wire name, family and fields.
public struct EventSchema: Sendable, Hashable {
    public struct Member: Sendable, Hashable {
        public let field: EventField
        public let isRequired: Bool
    }

    public let name: String
    public let family: EventFamily
    public let summary: String
    public let members: [Member]

    init(_ name: String, _ family: EventFamily, _ summary: String, required: [EventField] = [], optional: [EventField] = []) {
        self.name = name
        self.family = family
        self.summary = summary
        self.members = required.map { Member(field: $0, isRequired: true) }
            + optional.map { Member(field: $0, isRequired: false) }
    }

    public func member(forKey key: String) -> Member? {
        members.first { $0.field.key == key }
    }
}

extension AnalyticsEvent {
    /// The whole catalogue of DESIGN.md §2, in family order.
    public static let catalogue: [EventSchema] = [
        .init("auth_login_attempt", .auth, "A user tried to log in.", required: [.success, .authMethod], optional: [.failureReason]),
        .init("auth_code_verified", .auth, "A one-time login code was verified."),
        .init("auth_token_refresh", .auth, "An access token was refreshed.", required: [.success]),
        .init("auth_session_validated", .auth, "A session was checked.", required: [.valid]),
        .init("auth_logout", .auth, "A user logged out."),

        .init("task_created", .task, "A task was created.", required: [.taskID, .command], optional: [.projectID, .cocoonID]),
        .init("task_started", .task, "A task started running.", required: [.taskID]),
        .init("task_completed", .task, "A task finished successfully.", required: [.taskID, .durationMs]),
        .init("task_failed", .task, "A task failed.", required: [.taskID, .error], optional: [.durationMs]),
        .init("task_cancelled", .task, "A task was cancelled.", required: [.taskID]),
        .init("task_updated", .task, "A task was edited.", required: [.taskID, .fields]),
        .init("task_deleted", .task, "A task was deleted.", required: [.taskID]),

        .init("integration_connected", .integration, "An integration was connected.", required: [.provider]),
        .init("integration_disconnected", .integration, "An integration was disconnected.", required: [.provider]),
        .init("integration_used", .integration, "An integration performed an action.", required: [.provider, .action]),
        .init("integration_error", .integration, "An integration failed.", required: [.provider, .error]),
        .init("oauth_flow_started", .integration, "An OAuth flow began.", required: [.provider]),
        .init("oauth_flow_completed", .integration, "An OAuth flow ended.", required: [.provider, .success]),

        .init("webhook_received", .webhook, "A webhook arrived.", required: [.provider], optional: [.webhookEvent]),
        .init("webhook_processed", .webhook, "A webhook was handled.", required: [.provider, .success, .durationMs]),

        .init("cocoon_registered", .cocoon, "A cocoon registered itself.", required: [.cocoonID]),
        .init("cocoon_connected", .cocoon, "A cocoon connected.", required: [.cocoonID]),
        .init("cocoon_disconnected", .cocoon, "A cocoon disconnected.", required: [.cocoonID], optional: [.reason]),
        .init("cocoon_claimed", .cocoon, "A user claimed a cocoon.", required: [.cocoonID]),
        .init("cocoon_setup_token_created", .cocoon, "A cocoon setup token was issued.", required: [.cocoonID]),
        .init("cocoon_setup_token_used", .cocoon, "A cocoon setup token was redeemed.", required: [.cocoonID]),

        .init("project_created", .project, "A project was created.", required: [.projectID]),
        .init("project_updated", .project, "A project was edited.", required: [.projectID]),
        .init("project_deleted", .project, "A project was deleted.", required: [.projectID]),

        .init("page_view", .webApp, "A page of the web app was shown.", required: [.path], optional: [.referrer]),
        .init("file_uploaded", .webApp, "A file was uploaded.", required: [.fileType, .sizeBytes]),
        .init("search_performed", .webApp, "A search ran.", required: [.resultsCount, .queryLength]),
        .init("profile_updated", .webApp, "A user edited their profile.", required: [.fields]),

        .init("api_request", .system, "The API answered a request.", required: [.httpMethod, .route, .statusCode, .durationMs]),
        .init("database_query", .system, "A database query ran.", required: [.operation, .durationMs, .success]),
        .init("application_error", .system, "The application reported an error.", required: [.errorType, .severity, .message]),
    ]

    private static let schemasByName: [String: EventSchema] =
        Dictionary(uniqueKeysWithValues: catalogue.map { ($0.name, $0) })

    /// The schema of the catalogue event with this wire name, if there is one.
    public static func schema(named name: String) -> EventSchema? {
        schemasByName[name]
    }

    /// This event's schema.
    public var schema: EventSchema {
        // Every case has an entry; the catalogue tests check that.
        Self.schemasByName[name]!
    }

    public var family: EventFamily { schema.family }
}
