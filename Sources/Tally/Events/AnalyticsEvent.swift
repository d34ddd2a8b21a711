/// Every event of Tally's catalogue, one case per event, with typed values.
///
/// The wire name of a case is the snake_case of its name (`taskCreated` →
/// `task_created`) and its associated values become the event's properties under
/// snake_case keys. Durations are milliseconds.
///
/// ```swift
/// client.track(.taskCompleted(taskID: "t_42", durationMs: 1840))
/// client.track(.apiRequest(method: "GET", route: "/v1/tasks/:id", statusCode: 200, durationMs: 3.2))
/// ```
///
/// Values are checked by ``validate(policy:)`` (and by every boundary that takes
/// events) against the rules of ``EventSchema``: identifiers are well formed,
/// latencies are ≥ 0, status codes are 100–599, strings are bounded.
public enum AnalyticsEvent: Sendable, Hashable {
    // MARK: auth
    case authLoginAttempt(success: Bool, method: String, failureReason: String? = nil)
    case authCodeVerified
    case authTokenRefresh(success: Bool)
    case authSessionValidated(valid: Bool)
    case authLogout

    // MARK: task
    case taskCreated(taskID: String, projectID: String? = nil, cocoonID: String? = nil, command: String)
    case taskStarted(taskID: String)
    case taskCompleted(taskID: String, durationMs: Double)
    case taskFailed(taskID: String, durationMs: Double? = nil, error: String)
    case taskCancelled(taskID: String)
    case taskUpdated(taskID: String, fields: [String])
    case taskDeleted(taskID: String)

    // MARK: integration
    case integrationConnected(provider: String)
    case integrationDisconnected(provider: String)
    case integrationUsed(provider: String, action: String)
    case integrationError(provider: String, error: String)
    case oauthFlowStarted(provider: String)
    case oauthFlowCompleted(provider: String, success: Bool)

    // MARK: webhook
    case webhookReceived(provider: String, event: String? = nil)
    case webhookProcessed(provider: String, success: Bool, durationMs: Double)

    // MARK: cocoon
    case cocoonRegistered(cocoonID: String)
    case cocoonConnected(cocoonID: String)
    case cocoonDisconnected(cocoonID: String, reason: String? = nil)
    case cocoonClaimed(cocoonID: String)
    case cocoonSetupTokenCreated(cocoonID: String)
    case cocoonSetupTokenUsed(cocoonID: String)

    // MARK: project
    case projectCreated(projectID: String)
    case projectUpdated(projectID: String)
    case projectDeleted(projectID: String)

    // MARK: web app
    case pageView(path: String, referrer: String? = nil)
    case fileUploaded(fileType: String, sizeBytes: Int)
    case searchPerformed(resultsCount: Int, queryLength: Int)
    case profileUpdated(fields: [String])

    // MARK: system
    case apiRequest(method: String, route: String, statusCode: Int, durationMs: Double)
    case databaseQuery(operation: String, durationMs: Double, success: Bool)
    case applicationError(errorType: String, severity: ErrorSeverity, message: String)
}

/// How bad an `application_error` was.
public enum ErrorSeverity: String, Sendable, Hashable, CaseIterable {
    case debug, info, warning, error, critical
}

/// The families the catalogue groups its events into.
public enum EventFamily: String, Sendable, Hashable, CaseIterable {
    case auth, task, integration, webhook, cocoon, project, webApp = "web_app", system
}
