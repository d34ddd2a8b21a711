/// One row of each of the seven aggregates of DESIGN.md §5. Day and hour buckets
/// are UTC; `day` is midnight, `hour` the start of the hour.

public struct ActiveUsersRow: Sendable, Hashable {
    public var day: Timestamp
    /// A service name, or ``allServices`` for users of any service.
    public var service: String
    /// Distinct users that day; in the 7 days ending that day; in the 30 days ending that day.
    public var dau: Int
    public var wau: Int
    public var mau: Int

    /// The `service` of rows counting every service together.
    public static let allServices = "*"

    public init(day: Timestamp, service: String, dau: Int, wau: Int, mau: Int) {
        self.day = day; self.service = service; self.dau = dau; self.wau = wau; self.mau = mau
    }
}

public struct TaskStatsRow: Sendable, Hashable {
    public var day: Timestamp
    public var service: String
    public var created = 0, started = 0, completed = 0, failed = 0, cancelled = 0
    /// completed / (completed + failed); `nil` when nothing finished.
    public var successRate: Double?
    /// Exact percentiles of `task_completed` durations (ms).
    public var durationP50: Double?
    public var durationP95: Double?
    public var durationSketch = QuantileSketch()

    public init(day: Timestamp, service: String) {
        self.day = day; self.service = service
    }

    /// Fills what derives from the counts and the day's `task_completed`
    /// durations (in any order): the success rate, the exact percentiles and the
    /// sketch. Every backend finishes its rows here, so they agree to the bit.
    public mutating func summarize(durations: [Double]) {
        let finished = completed + failed
        successRate = finished > 0 ? Double(completed) / Double(finished) : nil
        let sorted = durations.sorted()
        durationP50 = Percentile.continuous(0.5, sorted: sorted)
        durationP95 = Percentile.continuous(0.95, sorted: sorted)
        for d in sorted { durationSketch.add(d) }
    }
}

public struct APILatencyRow: Sendable, Hashable {
    public var hour: Timestamp
    public var service: String
    public var method: String
    public var route: String
    public var requests = 0, errors4xx = 0, errors5xx = 0
    /// Exact percentiles and maximum of `api_request` durations (ms).
    public var latencyP50: Double?, latencyP95: Double?, latencyP99: Double?, latencyMax: Double?
    public var latencySketch = QuantileSketch()

    public init(hour: Timestamp, service: String, method: String, route: String) {
        self.hour = hour; self.service = service; self.method = method; self.route = route
    }

    /// Fills the exact percentiles, the maximum and the sketch from the bucket's
    /// `api_request` durations (in any order).
    public mutating func summarize(latencies: [Double]) {
        let sorted = latencies.sorted()
        latencyP50 = Percentile.continuous(0.5, sorted: sorted)
        latencyP95 = Percentile.continuous(0.95, sorted: sorted)
        latencyP99 = Percentile.continuous(0.99, sorted: sorted)
        latencyMax = sorted.last
        for d in sorted { latencySketch.add(d) }
    }
}

public struct IntegrationHealthRow: Sendable, Hashable {
    public var day: Timestamp
    public var provider: String
    public var connected = 0, disconnected = 0, used = 0, errors = 0, oauthStarted = 0, oauthCompleted = 0
    /// errors / (used + errors); `nil` when the integration did nothing.
    public var errorRate: Double?

    public init(day: Timestamp, provider: String) {
        self.day = day; self.provider = provider
    }

    /// Fills the error rate from the counts.
    public mutating func summarize() {
        let attempts = used + errors
        errorRate = attempts > 0 ? Double(errors) / Double(attempts) : nil
    }
}

public struct AuthEventsRow: Sendable, Hashable {
    public var day: Timestamp
    public var service: String
    public var loginAttempts = 0, loginSuccesses = 0, loginFailures = 0
    public var codesVerified = 0, tokenRefreshes = 0, sessionsValidated = 0, logouts = 0

    public init(day: Timestamp, service: String) {
        self.day = day; self.service = service
    }
}

public struct CocoonActivityRow: Sendable, Hashable {
    public var day: Timestamp
    public var registered = 0, connected = 0, disconnected = 0, claimed = 0
    public var setupTokensCreated = 0, setupTokensUsed = 0
    /// Distinct cocoons with any cocoon event that day.
    public var activeCocoons = 0

    public init(day: Timestamp) {
        self.day = day
    }
}

public struct ErrorsRow: Sendable, Hashable {
    public var hour: Timestamp
    public var service: String
    /// `application_error`'s error_type; `http_5xx` for API responses ≥ 500;
    /// `task_failed`; `integration_error`.
    public var errorType: String
    public var errors: Int

    public init(hour: Timestamp, service: String, errorType: String, errors: Int) {
        self.hour = hour; self.service = service; self.errorType = errorType; self.errors = errors
    }
}
