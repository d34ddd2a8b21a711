extension AnalyticsEvent {
    /// The wire name: the snake_case of the case name.
    public var name: String {
        switch self {
        case .authLoginAttempt: "auth_login_attempt"
        case .authCodeVerified: "auth_code_verified"
        case .authTokenRefresh: "auth_token_refresh"
        case .authSessionValidated: "auth_session_validated"
        case .authLogout: "auth_logout"
        case .taskCreated: "task_created"
        case .taskStarted: "task_started"
        case .taskCompleted: "task_completed"
        case .taskFailed: "task_failed"
        case .taskCancelled: "task_cancelled"
        case .taskUpdated: "task_updated"
        case .taskDeleted: "task_deleted"
        case .integrationConnected: "integration_connected"
        case .integrationDisconnected: "integration_disconnected"
        case .integrationUsed: "integration_used"
        case .integrationError: "integration_error"
        case .oauthFlowStarted: "oauth_flow_started"
        case .oauthFlowCompleted: "oauth_flow_completed"
        case .webhookReceived: "webhook_received"
        case .webhookProcessed: "webhook_processed"
        case .cocoonRegistered: "cocoon_registered"
        case .cocoonConnected: "cocoon_connected"
        case .cocoonDisconnected: "cocoon_disconnected"
        case .cocoonClaimed: "cocoon_claimed"
        case .cocoonSetupTokenCreated: "cocoon_setup_token_created"
        case .cocoonSetupTokenUsed: "cocoon_setup_token_used"
        case .projectCreated: "project_created"
        case .projectUpdated: "project_updated"
        case .projectDeleted: "project_deleted"
        case .pageView: "page_view"
        case .fileUploaded: "file_uploaded"
        case .searchPerformed: "search_performed"
        case .profileUpdated: "profile_updated"
        case .apiRequest: "api_request"
        case .databaseQuery: "database_query"
        case .applicationError: "application_error"
        }
    }

    /// The event's properties as they travel on the wire and are stored.
    /// Optional values that are `nil` are left out.
    public var properties: JSONObject {
        JSONObject(uniqueKeysWithValues: propertyMembers.lazy.map { ($0.key, $0.value) })
    }

    /// Appends ``properties`` as compact JSON with sorted keys, the bytes
    /// `JSONValue.object(properties).serialize(into:)` writes, without building
    /// the dictionary: every stored event is serialized once, and hashing its
    /// keys into a dictionary cost more than writing them.
    public func serializeProperties(into bytes: inout [UInt8]) {
        var members = propertyMembers
        members.sort { JSONValue.keyPrecedes($0.key, $1.key) }
        JSONValue.serializeMembers(members, into: &bytes, sortedKeys: true)
    }

    /// The properties as (key, value) pairs in the order the fields are written.
    private var propertyMembers: [(key: String, value: JSONValue)] {
        var p = PropertyWriter()
        switch self {
        case let .authLoginAttempt(success, method, failureReason):
            p[.success] = .bool(success); p[.authMethod] = .string(method); p[.failureReason] = failureReason.map(JSONValue.string)
        case .authCodeVerified, .authLogout:
            break
        case let .authTokenRefresh(success):
            p[.success] = .bool(success)
        case let .authSessionValidated(valid):
            p[.valid] = .bool(valid)
        case let .taskCreated(taskID, projectID, cocoonID, command):
            p[.taskID] = .string(taskID); p[.projectID] = projectID.map(JSONValue.string)
            p[.cocoonID] = cocoonID.map(JSONValue.string); p[.command] = .string(command)
        case let .taskStarted(taskID), let .taskCancelled(taskID), let .taskDeleted(taskID):
            p[.taskID] = .string(taskID)
        case let .taskCompleted(taskID, durationMs):
            p[.taskID] = .string(taskID); p[.durationMs] = .double(durationMs)
        case let .taskFailed(taskID, durationMs, error):
            p[.taskID] = .string(taskID); p[.durationMs] = durationMs.map(JSONValue.double); p[.error] = .string(error)
        case let .taskUpdated(taskID, fields):
            p[.taskID] = .string(taskID); p[.fields] = .array(fields.map(JSONValue.string))
        case let .integrationConnected(provider), let .integrationDisconnected(provider), let .oauthFlowStarted(provider):
            p[.provider] = .string(provider)
        case let .integrationUsed(provider, action):
            p[.provider] = .string(provider); p[.action] = .string(action)
        case let .integrationError(provider, error):
            p[.provider] = .string(provider); p[.error] = .string(error)
        case let .oauthFlowCompleted(provider, success):
            p[.provider] = .string(provider); p[.success] = .bool(success)
        case let .webhookReceived(provider, event):
            p[.provider] = .string(provider); p[.webhookEvent] = event.map(JSONValue.string)
        case let .webhookProcessed(provider, success, durationMs):
            p[.provider] = .string(provider); p[.success] = .bool(success); p[.durationMs] = .double(durationMs)
        case let .cocoonRegistered(cocoonID), let .cocoonConnected(cocoonID), let .cocoonClaimed(cocoonID),
             let .cocoonSetupTokenCreated(cocoonID), let .cocoonSetupTokenUsed(cocoonID):
            p[.cocoonID] = .string(cocoonID)
        case let .cocoonDisconnected(cocoonID, reason):
            p[.cocoonID] = .string(cocoonID); p[.reason] = reason.map(JSONValue.string)
        case let .projectCreated(projectID), let .projectUpdated(projectID), let .projectDeleted(projectID):
            p[.projectID] = .string(projectID)
        case let .pageView(path, referrer):
            p[.path] = .string(path); p[.referrer] = referrer.map(JSONValue.string)
        case let .fileUploaded(fileType, sizeBytes):
            p[.fileType] = .string(fileType); p[.sizeBytes] = .int(sizeBytes)
        case let .searchPerformed(resultsCount, queryLength):
            p[.resultsCount] = .int(resultsCount); p[.queryLength] = .int(queryLength)
        case let .profileUpdated(fields):
            p[.fields] = .array(fields.map(JSONValue.string))
        case let .apiRequest(method, route, statusCode, durationMs):
            p[.httpMethod] = .string(method); p[.route] = .string(route)
            p[.statusCode] = .int(statusCode); p[.durationMs] = .double(durationMs)
        case let .databaseQuery(operation, durationMs, success):
            p[.operation] = .string(operation); p[.durationMs] = .double(durationMs); p[.success] = .bool(success)
        case let .applicationError(errorType, severity, message):
            p[.errorType] = .string(errorType); p[.severity] = .string(severity.rawValue); p[.message] = .string(message)
        }
        return p.members
    }

    /// Decodes a catalogue event from its wire name and properties, checking every
    /// rule of its schema.
    ///
    /// - Returns: `nil` when `name` is not a catalogue event (it may still be a
    ///   custom event).
    /// - Throws: ``EventValidationError`` naming the first field that breaks a rule.
    public init?(name: String, properties: JSONObject, policy: PIIPolicy = .default) throws(EventValidationError) {
        guard let schema = Self.schema(named: name) else { return nil }
        let r = try PropertyReader(schema: schema, properties: properties, policy: policy)
        switch name {
        case "auth_login_attempt":
            self = .authLoginAttempt(success: r.bool(.success), method: r.string(.authMethod), failureReason: r.optionalString(.failureReason))
        case "auth_code_verified": self = .authCodeVerified
        case "auth_token_refresh": self = .authTokenRefresh(success: r.bool(.success))
        case "auth_session_validated": self = .authSessionValidated(valid: r.bool(.valid))
        case "auth_logout": self = .authLogout
        case "task_created":
            self = .taskCreated(taskID: r.string(.taskID), projectID: r.optionalString(.projectID),
                                cocoonID: r.optionalString(.cocoonID), command: r.string(.command))
        case "task_started": self = .taskStarted(taskID: r.string(.taskID))
        case "task_completed": self = .taskCompleted(taskID: r.string(.taskID), durationMs: r.double(.durationMs))
        case "task_failed":
            self = .taskFailed(taskID: r.string(.taskID), durationMs: r.optionalDouble(.durationMs), error: r.string(.error))
        case "task_cancelled": self = .taskCancelled(taskID: r.string(.taskID))
        case "task_updated": self = .taskUpdated(taskID: r.string(.taskID), fields: r.strings(.fields))
        case "task_deleted": self = .taskDeleted(taskID: r.string(.taskID))
        case "integration_connected": self = .integrationConnected(provider: r.string(.provider))
        case "integration_disconnected": self = .integrationDisconnected(provider: r.string(.provider))
        case "integration_used": self = .integrationUsed(provider: r.string(.provider), action: r.string(.action))
        case "integration_error": self = .integrationError(provider: r.string(.provider), error: r.string(.error))
        case "oauth_flow_started": self = .oauthFlowStarted(provider: r.string(.provider))
        case "oauth_flow_completed": self = .oauthFlowCompleted(provider: r.string(.provider), success: r.bool(.success))
        case "webhook_received": self = .webhookReceived(provider: r.string(.provider), event: r.optionalString(.webhookEvent))
        case "webhook_processed":
            self = .webhookProcessed(provider: r.string(.provider), success: r.bool(.success), durationMs: r.double(.durationMs))
        case "cocoon_registered": self = .cocoonRegistered(cocoonID: r.string(.cocoonID))
        case "cocoon_connected": self = .cocoonConnected(cocoonID: r.string(.cocoonID))
        case "cocoon_disconnected": self = .cocoonDisconnected(cocoonID: r.string(.cocoonID), reason: r.optionalString(.reason))
        case "cocoon_claimed": self = .cocoonClaimed(cocoonID: r.string(.cocoonID))
        case "cocoon_setup_token_created": self = .cocoonSetupTokenCreated(cocoonID: r.string(.cocoonID))
        case "cocoon_setup_token_used": self = .cocoonSetupTokenUsed(cocoonID: r.string(.cocoonID))
        case "project_created": self = .projectCreated(projectID: r.string(.projectID))
        case "project_updated": self = .projectUpdated(projectID: r.string(.projectID))
        case "project_deleted": self = .projectDeleted(projectID: r.string(.projectID))
        case "page_view": self = .pageView(path: r.string(.path), referrer: r.optionalString(.referrer))
        case "file_uploaded": self = .fileUploaded(fileType: r.string(.fileType), sizeBytes: r.int(.sizeBytes))
        case "search_performed": self = .searchPerformed(resultsCount: r.int(.resultsCount), queryLength: r.int(.queryLength))
        case "profile_updated": self = .profileUpdated(fields: r.strings(.fields))
        case "api_request":
            self = .apiRequest(method: r.string(.httpMethod), route: r.string(.route),
                               statusCode: r.int(.statusCode), durationMs: r.double(.durationMs))
        case "database_query":
            self = .databaseQuery(operation: r.string(.operation), durationMs: r.double(.durationMs), success: r.bool(.success))
        case "application_error":
            self = .applicationError(errorType: r.string(.errorType),
                                     severity: ErrorSeverity(rawValue: r.string(.severity)) ?? .error,
                                     message: r.string(.message))
        default:
            return nil
        }
    }
}

/// Collects properties under the keys of their ``EventField``s; a `nil` value is
/// left out. Each field is written once per event.
private struct PropertyWriter {
    var members: [(key: String, value: JSONValue)]

    init() {
        members = []
        // The most fields an event has: one allocation.
        members.reserveCapacity(4)
    }

    subscript(field: EventField) -> JSONValue? {
        get { members.first { $0.key == field.key }?.value }
        set { if let newValue { members.append((field.key, newValue)) } }
    }
}

/// Reads properties that have already passed their schema's rules, so every
/// read finds a value of the right type.
private struct PropertyReader {
    let properties: JSONObject

    init(schema: EventSchema, properties: JSONObject, policy: PIIPolicy) throws(EventValidationError) {
        try EventValidator.check(properties, against: schema, policy: policy)
        self.properties = properties
    }

    func string(_ field: EventField) -> String { properties[field.key]?.stringValue ?? "" }
    func optionalString(_ field: EventField) -> String? { properties[field.key]?.stringValue }
    func bool(_ field: EventField) -> Bool { properties[field.key]?.boolValue ?? false }
    func int(_ field: EventField) -> Int { properties[field.key]?.intValue ?? 0 }
    func double(_ field: EventField) -> Double { properties[field.key]?.doubleValue ?? 0 }
    func optionalDouble(_ field: EventField) -> Double? { properties[field.key]?.doubleValue }
    func strings(_ field: EventField) -> [String] {
        properties[field.key]?.arrayValue?.compactMap(\.stringValue) ?? []
    }
}
