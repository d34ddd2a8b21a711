/// Realistic, reproducible traffic for every catalogue event: pseudonymous users in
/// sessions over a span of days, weekly seasonality, log-normal latencies and
/// durations, a few percent of errors, and late events (received days after they
/// happened, as from a device that was offline).
///
/// Each day is generated from its own seed, so any day can be produced alone and
/// the same configuration always yields the same events, ids included.
///
/// ```swift
/// let traffic = DemoTraffic(configuration: .init(end: .now()))
/// for day in 0..<traffic.configuration.days {
///     try await store.write(traffic.events(forDay: day))
/// }
/// ```
public struct DemoTraffic: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// How many distinct users exist by the last day. Defaults to 1,000.
        public var users: Int = 1_000
        /// How many days of history, ending with the day of `end`. Defaults to 30.
        public var days: Int = 30
        /// Same seed, same events. Defaults to 42.
        public var seed: UInt64 = 42
        /// The present of the demo: nothing happens or arrives after it.
        public var end: Timestamp
        /// The share of events that arrive late, 1–6 days after they happened. Defaults to 1%.
        public var lateFraction: Double = 0.01

        public init(end: Timestamp) {
            self.end = end
        }
    }

    public let configuration: Configuration
    private let pseudonymizer: Pseudonymizer

    public init(configuration: Configuration) {
        self.configuration = configuration
        var keyRandom = DemoRandom(seed: configuration.seed ^ 0x5EED_0F_DE_A0)
        pseudonymizer = Pseudonymizer(key: (0..<32).map { _ in UInt8(truncatingIfNeeded: keyRandom.next()) })
    }

    /// The start of the UTC day `index` (0 is the oldest).
    public func startOfDay(_ index: Int) -> Timestamp {
        configuration.end.startOfDay.adding(days: index - (configuration.days - 1))
    }

    /// Every event of day `index` (0 is the oldest), sorted by time.
    public func events(forDay index: Int) -> [EnrichedEvent] {
        var day = DayGenerator(traffic: self, dayIndex: index)
        day.generate()
        // Today is only generated up to now, and late events still in flight have not arrived.
        let end = configuration.end
        return day.events.filter { $0.timestamp <= end && $0.receivedAt <= end }.sorted { ($0.timestamp, $0.eventID) < ($1.timestamp, $1.eventID) }
    }

    /// A rough upper estimate of the events per day, for progress bars.
    public var estimatedEventsPerDay: Int { max(1, configuration.users * 18) }

    fileprivate func userID(_ n: Int) -> String { pseudonymizer.pseudonym(for: "demo-user-\(n)") }
}

// MARK: - One day

private struct DayGenerator {
    let traffic: DemoTraffic
    let dayIndex: Int
    let dayStart: Timestamp
    var random: DemoRandom
    var events: [EnrichedEvent] = []

    static let providers = ["github", "slack", "linear", "jira", "google_drive"]
    static let routes: [((String, String, Double), Double)] = [
        (("GET", "/v1/tasks", 24), 30), (("GET", "/v1/tasks/:id", 12), 25), (("POST", "/v1/tasks", 45), 8),
        (("PATCH", "/v1/tasks/:id", 38), 6), (("DELETE", "/v1/tasks/:id", 30), 1), (("GET", "/v1/projects", 18), 10),
        (("POST", "/v1/projects", 52), 1), (("GET", "/v1/integrations", 35), 5), (("POST", "/v1/auth/login", 120), 4),
        (("POST", "/v1/auth/refresh", 15), 6), (("GET", "/v1/search", 85), 4), (("POST", "/v1/uploads", 240), 2),
    ]
    static let pages = ["/", "/tasks", "/tasks/:id", "/projects", "/projects/:id", "/integrations", "/settings", "/settings/profile", "/search"]
    static let commands = ["swift build", "swift test", "deploy staging", "deploy production", "lint", "benchmark", "migrate"]
    static let errorTypes: [(String, Double)] = [("TimeoutError", 4), ("DecodingError", 3), ("DatabaseError", 2), ("RateLimitError", 1), ("CancellationError", 1)]

    init(traffic: DemoTraffic, dayIndex: Int) {
        self.traffic = traffic
        self.dayIndex = dayIndex
        self.dayStart = traffic.startOfDay(dayIndex)
        // A distinct stream per day, so days can be generated alone.
        self.random = DemoRandom(seed: traffic.configuration.seed &* 0x100_0000_01B3 &+ UInt64(dayIndex))
    }

    var weekday: Int {
        // 1970-01-01 was a Thursday: 0 = Monday … 6 = Sunday.
        let days = Int(dayStart.microsecondsSinceEpoch / Timestamp.microsecondsPerDay)
        return ((days % 7) + 10) % 7
    }

    mutating func generate() {
        let config = traffic.configuration
        // Users join over the period: two thirds exist from the start.
        let growth = Double(dayIndex + 1) / Double(config.days)
        let usersToday = max(1, Int(Double(config.users) * (0.66 + 0.34 * growth)))
        let activity = weekday >= 5 ? 0.22 : 0.48
        for user in 0..<usersToday where random.chance(activity) {
            let sessions = random.pick([(1, 6.0), (2, 3.0), (3, 1.0)])
            for _ in 0..<sessions { session(user: user) }
        }
        cocoonsAndWebhooks()
    }

    /// Office hours dominate, with a long evening tail.
    mutating func sessionStart() -> Timestamp {
        let hour = min(23.5, max(0, random.chance(0.8) ? 9 + random.normal() * 2.5 + 4 : random.unit() * 24))
        return dayStart.adding(microseconds: Int64(hour * 3_600_000_000))
    }

    mutating func session(user: Int) {
        var time = sessionStart()
        let userID = traffic.userID(user)
        let sessionID = "s_" + String(random.next() & 0xFFFF_FFFF_FFFF, radix: 16)
        let web = random.chance(0.7)
        func advance(_ random: inout DemoRandom, _ seconds: Double) -> Timestamp {
            time = time.adding(microseconds: Int64(seconds * 1_000_000))
            return time
        }

        if random.chance(0.3) {
            let success = random.chance(0.92)
            let method = random.pick([("password", 5.0), ("magic_link", 3.0), ("oauth", 2.0)])
            emit(.authLoginAttempt(success: success, method: method,
                                   failureReason: success ? nil : random.pick(["bad_password", "expired_code", "rate_limited"])),
                 at: advance(&random, 1), service: "auth", user: userID, session: sessionID)
            apiRequest(route: ("POST", "/v1/auth/login", 120), at: time, user: userID, session: sessionID, failed: !success)
            if success, method == "magic_link" {
                emit(.authCodeVerified, at: advance(&random, 20), service: "auth", user: userID, session: sessionID)
            }
        }
        emit(.authSessionValidated(valid: random.chance(0.98)), at: advance(&random, 0.2), service: "auth", user: userID, session: sessionID)

        let actions = random.int(3...14)
        for _ in 0..<actions {
            let t = advance(&random, random.logNormal(median: 25, sigma: 1))
            if web {
                emit(.pageView(path: random.pick(Self.pages), referrer: random.chance(0.1) ? "https://news.example/launch" : nil),
                     at: t, service: "web", user: userID, session: sessionID)
            }
            let route = random.pick(Self.routes)
            apiRequest(route: route, at: t, user: userID, session: sessionID, failed: false)
            switch random.unit() {
            case ..<0.18: task(at: t, user: userID, session: sessionID)
            case ..<0.26: integration(at: t, user: userID, session: sessionID)
            case ..<0.30:
                emit(.searchPerformed(resultsCount: Int(random.logNormal(median: 12, sigma: 1.2)), queryLength: random.int(2...40)),
                     at: t, service: "web", user: userID, session: sessionID)
            case ..<0.32:
                emit(.fileUploaded(fileType: random.pick(["png", "pdf", "csv", "zip"]), sizeBytes: Int(random.logNormal(median: 180_000, sigma: 1.5))),
                     at: t, service: "api", user: userID, session: sessionID)
            case ..<0.335:
                emit(.profileUpdated(fields: [random.pick(["display_name", "avatar", "timezone", "notifications"])]),
                     at: t, service: "web", user: userID, session: sessionID)
            case ..<0.35: project(at: t, user: userID, session: sessionID)
            default: break
            }
            if random.chance(0.15) {
                emit(.authTokenRefresh(success: random.chance(0.995)), at: t, service: "auth", user: userID, session: sessionID)
            }
            if random.chance(0.004) {
                emit(.applicationError(errorType: random.pick(Self.errorTypes),
                                       severity: random.pick([(ErrorSeverity.warning, 5.0), (.error, 4.0), (.critical, 1.0)]),
                                       message: "request handler failed after retries"),
                     at: t, service: random.pick(["api", "worker"]), user: userID, session: sessionID)
            }
        }
        if random.chance(0.2) {
            emit(.authLogout, at: advance(&random, 5), service: "auth", user: userID, session: sessionID)
        }
    }

    mutating func apiRequest(route: (String, String, Double), at time: Timestamp, user: String, session: String, failed: Bool) {
        let roll = random.unit()
        let status: Int = failed ? 401
            : roll < 0.008 ? random.pick([500, 502, 503])
            : roll < 0.035 ? random.pick([400, 404, 409, 422, 429])
            : route.0 == "POST" ? 201 : route.0 == "DELETE" ? 204 : 200
        let latency = (random.logNormal(median: route.2, sigma: 0.55) * (status >= 500 ? 4 : 1) * 1000).rounded() / 1000
        emit(.apiRequest(method: route.0, route: route.1, statusCode: status, durationMs: latency),
             at: time.adding(microseconds: Int64(latency * 1000)), service: "api", user: user, session: session)
        for _ in 0..<random.int(0...2) {
            emit(.databaseQuery(operation: random.pick([("select", 8.0), ("insert", 2.0), ("update", 2.0), ("delete", 0.3)]),
                                durationMs: (random.logNormal(median: 1.8, sigma: 0.9) * 1000).rounded() / 1000,
                                success: random.chance(0.997)),
                 at: time, service: "api", user: user, session: session)
        }
    }

    mutating func task(at time: Timestamp, user: String, session: String) {
        let taskID = "t_" + String(random.next() & 0xFF_FFFF_FFFF, radix: 16)
        let cocoon = random.chance(0.6) ? cocoonID(random.int(0...(cocoonCount - 1))) : nil
        emit(.taskCreated(taskID: taskID, projectID: random.chance(0.8) ? "p_\(random.int(1...max(1, traffic.configuration.users / 8)))" : nil,
                          cocoonID: cocoon, command: random.pick(Self.commands)),
             at: time, service: "api", user: user, session: session)
        if random.chance(0.04) {
            emit(.taskCancelled(taskID: taskID), at: time.adding(microseconds: 5_000_000), service: "api", user: user, session: session)
            return
        }
        let started = time.adding(microseconds: Int64(random.logNormal(median: 2, sigma: 0.8) * 1_000_000))
        emit(.taskStarted(taskID: taskID), at: started, service: "worker", user: user, session: session)
        if random.chance(0.1) {
            emit(.taskUpdated(taskID: taskID, fields: [random.pick(["title", "priority", "assignee"])]),
                 at: started, service: "api", user: user, session: session)
        }
        let duration = (random.logNormal(median: 42_000, sigma: 0.9)).rounded()
        let finished = started.adding(microseconds: Int64(duration * 1000))
        if random.chance(0.07) {
            emit(.taskFailed(taskID: taskID, durationMs: duration, error: random.pick(["exit code 1", "timed out", "out of memory"])),
                 at: finished, service: "worker", user: user, session: session)
        } else {
            emit(.taskCompleted(taskID: taskID, durationMs: duration), at: finished, service: "worker", user: user, session: session)
        }
        if random.chance(0.05) {
            emit(.taskDeleted(taskID: taskID), at: finished.adding(microseconds: 60_000_000), service: "api", user: user, session: session)
        }
    }

    mutating func integration(at time: Timestamp, user: String, session: String) {
        let provider = random.pick(Self.providers)
        // Each provider has its own reliability, so the health chart has something to show.
        let errorRate = [0.01, 0.02, 0.015, 0.06, 0.03][Self.providers.firstIndex(of: provider) ?? 0]
        if random.chance(0.03) {
            emit(.oauthFlowStarted(provider: provider), at: time, service: "api", user: user, session: session)
            let success = random.chance(0.9)
            emit(.oauthFlowCompleted(provider: provider, success: success), at: time.adding(microseconds: 30_000_000),
                 service: "api", user: user, session: session)
            if success {
                emit(.integrationConnected(provider: provider), at: time.adding(microseconds: 31_000_000), service: "api", user: user, session: session)
            }
        } else if random.chance(0.01) {
            emit(.integrationDisconnected(provider: provider), at: time, service: "api", user: user, session: session)
        } else if random.chance(errorRate) {
            emit(.integrationError(provider: provider, error: random.pick(["rate limited by provider", "token expired", "provider returned 502"])),
                 at: time, service: "worker", user: user, session: session)
        } else {
            emit(.integrationUsed(provider: provider, action: random.pick(["sync_issues", "post_message", "fetch_repo", "create_ticket"])),
                 at: time, service: "worker", user: user, session: session)
        }
    }

    mutating func project(at time: Timestamp, user: String, session: String) {
        let projectID = "p_\(random.int(1...max(1, traffic.configuration.users / 8)))"
        let event: AnalyticsEvent = random.pick([(.projectUpdated(projectID: projectID), 6.0),
                                                 (.projectCreated(projectID: projectID), 2.0),
                                                 (.projectDeleted(projectID: projectID), 0.5)])
        emit(event, at: time, service: "api", user: user, session: session)
    }

    var cocoonCount: Int { max(2, traffic.configuration.users / 20) }

    func cocoonID(_ n: Int) -> String { "c_\(1000 + n)" }

    /// Machines rather than people: cocoons connect and drop, webhooks arrive at all hours.
    mutating func cocoonsAndWebhooks() {
        for n in 0..<cocoonCount {
            let id = cocoonID(n)
            let firstDay = n % traffic.configuration.days
            let at = dayStart.adding(microseconds: Int64(random.unit() * 86_000_000_000))
            if dayIndex == firstDay {
                emit(.cocoonSetupTokenCreated(cocoonID: id), at: at, service: "api", user: nil, session: nil)
                emit(.cocoonSetupTokenUsed(cocoonID: id), at: at.adding(microseconds: 90_000_000), service: "api", user: nil, session: nil)
                emit(.cocoonRegistered(cocoonID: id), at: at.adding(microseconds: 91_000_000), service: "api", user: nil, session: nil)
                emit(.cocoonClaimed(cocoonID: id), at: at.adding(microseconds: 300_000_000), service: "api", user: nil, session: nil)
            }
            guard dayIndex >= firstDay || dayIndex >= traffic.configuration.days - 1, random.chance(0.7) else { continue }
            for _ in 0..<random.int(1...3) {
                let connected = dayStart.adding(microseconds: Int64(random.unit() * 80_000_000_000))
                emit(.cocoonConnected(cocoonID: id), at: connected, service: "api", user: nil, session: nil)
                emit(.cocoonDisconnected(cocoonID: id, reason: random.pick([("shutdown", 5.0), ("timeout", 2.0), ("network_error", 1.0)])),
                     at: connected.adding(microseconds: Int64(random.logNormal(median: 3_600, sigma: 1) * 1_000_000)),
                     service: "api", user: nil, session: nil)
            }
        }
        let webhooks = traffic.configuration.users * (weekday >= 5 ? 1 : 3) / 4
        for _ in 0..<webhooks {
            let provider = random.pick(["github", "slack", "linear"])
            let at = dayStart.adding(microseconds: Int64(random.unit() * 86_000_000_000))
            emit(.webhookReceived(provider: provider, event: random.chance(0.9) ? random.pick(["push", "issue_comment", "message"]) : nil),
                 at: at, service: "api", user: nil, session: nil)
            let duration = (random.logNormal(median: 120, sigma: 0.7) * 1000).rounded() / 1000
            emit(.webhookProcessed(provider: provider, success: random.chance(0.98), durationMs: duration),
                 at: at.adding(microseconds: Int64(duration * 1000)), service: "worker", user: nil, session: nil)
        }
    }

    mutating func emit(_ event: AnalyticsEvent, at time: Timestamp, service: String, user: String?, session: String?) {
        // Keep every event inside its day, so a day's traffic is that day's alone.
        let clamped = min(max(time, dayStart), dayStart.adding(microseconds: Timestamp.microsecondsPerDay - 1))
        let late = random.chance(traffic.configuration.lateFraction)
        let receivedAt = late
            ? clamped.adding(microseconds: Int64((1 + random.unit() * 5) * Double(Timestamp.microsecondsPerDay)))
            : clamped.adding(microseconds: Int64(random.logNormal(median: 0.05, sigma: 1) * 1_000_000))
        events.append(EnrichedEvent(
            eventID: EventID.generate(at: clamped, using: &random),
            payload: .catalogue(event),
            timestamp: clamped,
            receivedAt: receivedAt,
            service: service,
            userID: user,
            sessionID: session,
            context: user == nil
                ? EventContext(libraryName: "tally-swift", libraryVersion: TallyVersion.current, osName: "Linux")
                : EventContext(libraryName: "tally-swift", libraryVersion: TallyVersion.current, appVersion: "2.\(dayIndex / 10).0",
                               osName: "Linux", locale: "en-US")
        ))
    }
}
