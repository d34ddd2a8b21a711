import Tally

/// The aggregates' rows as JSON, with the column names of DESIGN.md §5.
enum AggregateJSON {
    static func row(_ r: ActiveUsersRow) -> JSONValue {
        ["day": r.day.jsonDay, "service": .string(r.service), "dau": .int(r.dau), "wau": .int(r.wau), "mau": .int(r.mau)]
    }

    static func row(_ r: TaskStatsRow) -> JSONValue {
        ["day": r.day.jsonDay, "service": .string(r.service), "created": .int(r.created), "started": .int(r.started),
         "completed": .int(r.completed), "failed": .int(r.failed), "cancelled": .int(r.cancelled),
         "success_rate": r.successRate.json, "duration_p50": r.durationP50.json, "duration_p95": r.durationP95.json]
    }

    static func row(_ r: APILatencyRow) -> JSONValue {
        ["hour": r.hour.jsonTime, "service": .string(r.service), "method": .string(r.method), "route": .string(r.route),
         "requests": .int(r.requests), "errors_4xx": .int(r.errors4xx), "errors_5xx": .int(r.errors5xx),
         "latency_p50": r.latencyP50.json, "latency_p95": r.latencyP95.json, "latency_p99": r.latencyP99.json,
         "latency_max": r.latencyMax.json]
    }

    static func row(_ r: IntegrationHealthRow) -> JSONValue {
        ["day": r.day.jsonDay, "provider": .string(r.provider), "connected": .int(r.connected), "disconnected": .int(r.disconnected),
         "used": .int(r.used), "errors": .int(r.errors), "oauth_started": .int(r.oauthStarted),
         "oauth_completed": .int(r.oauthCompleted), "error_rate": r.errorRate.json]
    }

    static func row(_ r: AuthEventsRow) -> JSONValue {
        ["day": r.day.jsonDay, "service": .string(r.service), "login_attempts": .int(r.loginAttempts),
         "login_successes": .int(r.loginSuccesses), "login_failures": .int(r.loginFailures), "codes_verified": .int(r.codesVerified),
         "token_refreshes": .int(r.tokenRefreshes), "sessions_validated": .int(r.sessionsValidated), "logouts": .int(r.logouts)]
    }

    static func row(_ r: CocoonActivityRow) -> JSONValue {
        ["day": r.day.jsonDay, "registered": .int(r.registered), "connected": .int(r.connected), "disconnected": .int(r.disconnected),
         "claimed": .int(r.claimed), "setup_tokens_created": .int(r.setupTokensCreated), "setup_tokens_used": .int(r.setupTokensUsed),
         "active_cocoons": .int(r.activeCocoons)]
    }

    static func row(_ r: ErrorsRow) -> JSONValue {
        ["hour": r.hour.jsonTime, "service": .string(r.service), "error_type": .string(r.errorType), "errors": .int(r.errors)]
    }

    /// Percentiles over the whole range, merged from the buckets' sketches (within 1%).
    static func percentiles(_ p: RangePercentiles, prefix: String) -> JSONObject {
        ["\(prefix)_p50": p.p50.json, "\(prefix)_p95": p.p95.json, "\(prefix)_p99": p.p99.json, "\(prefix)_max": p.max.json]
    }
}
