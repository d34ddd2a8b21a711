extension AnalyticsEvent {
    /// Checks every associated value against its field's rule and the PII policy,
    /// directly on the typed values: no properties dictionary is built, so the
    /// worker can validate millions of events cheaply. The wire decoder
    /// (`init(name:properties:)`) applies the same ``EventField`` rules.
    func validateFields(policy: PIIPolicy) throws(EventValidationError) {
        let c = FieldChecker(event: name, policy: policy)
        switch self {
        case let .authLoginAttempt(success, method, failureReason):
            try c.check(.success, .bool(success)); try c.check(.authMethod, method); try c.check(.failureReason, failureReason)
        case .authCodeVerified, .authLogout:
            break
        case let .authTokenRefresh(success):
            try c.check(.success, .bool(success))
        case let .authSessionValidated(valid):
            try c.check(.valid, .bool(valid))
        case let .taskCreated(taskID, projectID, cocoonID, command):
            try c.check(.taskID, taskID); try c.check(.projectID, projectID); try c.check(.cocoonID, cocoonID); try c.check(.command, command)
        case let .taskStarted(taskID), let .taskCancelled(taskID), let .taskDeleted(taskID):
            try c.check(.taskID, taskID)
        case let .taskCompleted(taskID, durationMs):
            try c.check(.taskID, taskID); try c.check(.durationMs, .double(durationMs))
        case let .taskFailed(taskID, durationMs, error):
            try c.check(.taskID, taskID); try c.check(.durationMs, durationMs.map(JSONValue.double)); try c.check(.error, error)
        case let .taskUpdated(taskID, fields):
            try c.check(.taskID, taskID); try c.check(.fields, .array(fields.map(JSONValue.string)))
        case let .integrationConnected(provider), let .integrationDisconnected(provider), let .oauthFlowStarted(provider):
            try c.check(.provider, provider)
        case let .integrationUsed(provider, action):
            try c.check(.provider, provider); try c.check(.action, action)
        case let .integrationError(provider, error):
            try c.check(.provider, provider); try c.check(.error, error)
        case let .oauthFlowCompleted(provider, success):
            try c.check(.provider, provider); try c.check(.success, .bool(success))
        case let .webhookReceived(provider, event):
            try c.check(.provider, provider); try c.check(.webhookEvent, event)
        case let .webhookProcessed(provider, success, durationMs):
            try c.check(.provider, provider); try c.check(.success, .bool(success)); try c.check(.durationMs, .double(durationMs))
        case let .cocoonRegistered(cocoonID), let .cocoonConnected(cocoonID), let .cocoonClaimed(cocoonID),
             let .cocoonSetupTokenCreated(cocoonID), let .cocoonSetupTokenUsed(cocoonID):
            try c.check(.cocoonID, cocoonID)
        case let .cocoonDisconnected(cocoonID, reason):
            try c.check(.cocoonID, cocoonID); try c.check(.reason, reason)
        case let .projectCreated(projectID), let .projectUpdated(projectID), let .projectDeleted(projectID):
            try c.check(.projectID, projectID)
        case let .pageView(path, referrer):
            try c.check(.path, path); try c.check(.referrer, referrer)
        case let .fileUploaded(fileType, sizeBytes):
            try c.check(.fileType, fileType); try c.check(.sizeBytes, .int(sizeBytes))
        case let .searchPerformed(resultsCount, queryLength):
            try c.check(.resultsCount, .int(resultsCount)); try c.check(.queryLength, .int(queryLength))
        case let .profileUpdated(fields):
            try c.check(.fields, .array(fields.map(JSONValue.string)))
        case let .apiRequest(method, route, statusCode, durationMs):
            try c.check(.httpMethod, method); try c.check(.route, route)
            try c.check(.statusCode, .int(statusCode)); try c.check(.durationMs, .double(durationMs))
        case let .databaseQuery(operation, durationMs, success):
            try c.check(.operation, operation); try c.check(.durationMs, .double(durationMs)); try c.check(.success, .bool(success))
        case let .applicationError(errorType, _, message):
            // `severity` is an enum: it cannot hold a value outside its rule.
            try c.check(.errorType, errorType); try c.check(.message, message)
        }
    }
}

/// Applies field rules and the PII policy to typed values, building error text
/// only when something fails.
private struct FieldChecker {
    let event: String
    let policy: PIIPolicy

    func check(_ field: EventField, _ value: String?) throws(EventValidationError) {
        guard let value else { return }
        try check(field, .string(value))
    }

    func check(_ field: EventField, _ value: JSONValue?) throws(EventValidationError) {
        guard let value else { return }
        if let failure = field.rule.check(value) {
            throw EventValidationError(code: failure.code, event: event, field: "properties.\(field.key)", reason: failure.reason, value: value)
        }
        guard policy.isEnabled, !policy.allowedKeys.contains(field.key) else { return }
        switch value {
        case .string(let s):
            try screen(s, path: "properties.\(field.key)", field: field)
        case .array(let items):
            for (i, item) in items.enumerated() {
                if case .string(let s) = item { try screen(s, path: "properties.\(field.key)[\(i)]", field: field) }
            }
        default:
            return
        }
    }

    private func screen(_ s: String, path: @autoclosure () -> String, field: EventField) throws(EventValidationError) {
        if let kind = policy.violation(inValue: s) {
            throw EventValidationError(code: .personalData, event: event, field: path(),
                                       reason: "looks like \(kind), which must not be tracked; remove it or pseudonymize it", value: .string(s))
        }
    }
}
