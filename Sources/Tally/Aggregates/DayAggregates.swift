/// Everything one UTC day contributes to the aggregates, computed from that day's
/// raw events alone. Active users need neighbouring days too: this holds the
/// day's distinct users per service, and the backend derives WAU and MAU from
/// those sets.
public struct DayAggregates: Sendable {
    public var day: Timestamp
    public var taskStats: [TaskStatsRow] = []
    public var apiLatency: [APILatencyRow] = []
    public var integrationHealth: [IntegrationHealthRow] = []
    public var authEvents: [AuthEventsRow] = []
    public var cocoonActivity: CocoonActivityRow?
    public var errors: [ErrorsRow] = []
    /// Distinct user ids per service (and under ``ActiveUsersRow/allServices``).
    public var users: [String: Set<String>] = [:]

    /// No rows yet: a backend that computes the aggregates itself fills them in.
    public init(day: Timestamp) {
        self.day = day.startOfDay
    }

    /// Aggregates `facts`, which must all fall on `day`.
    public init(day: Timestamp, facts: [EventFact]) {
        var accumulator = Accumulator(day: day)
        for fact in facts { accumulator.add(fact) }
        self = accumulator.aggregates()
    }

    /// Aggregates facts one at a time, as a backend reads them, so a day's
    /// million facts need not be held at once; ``aggregates()`` gives what
    /// ``init(day:facts:)`` would over the same facts.
    public struct Accumulator: Sendable {
        public let day: Timestamp
        var users: [String: Set<String>] = [:]
        var tasks: [String: TaskStatsRow] = [:]
        var taskDurations: [String: [Double]] = [:]
        var api: [APIKey: APIBucket] = [:]
        var integrations: [String: IntegrationHealthRow] = [:]
        var auth: [String: AuthEventsRow] = [:]
        var cocoon: CocoonActivityRow
        var cocoons: Set<String> = []
        var sawCocoonEvent = false
        var errorCounts: [ErrorKey: Int] = [:]

        public init(day: Timestamp) {
            self.day = day.startOfDay
            cocoon = CocoonActivityRow(day: self.day)
        }

        /// The event types whose facts aggregates read past their user: an event
        /// of any other type adds only its user (``addUser(_:service:)``).
        public static let eventTypes: Set<String> = [
            "task_created", "task_started", "task_completed", "task_failed", "task_cancelled", "api_request",
            "integration_connected", "integration_disconnected", "integration_used", "integration_error",
            "oauth_flow_started", "oauth_flow_completed",
            "auth_login_attempt", "auth_code_verified", "auth_token_refresh", "auth_session_validated", "auth_logout",
            "cocoon_registered", "cocoon_connected", "cocoon_disconnected", "cocoon_claimed",
            "cocoon_setup_token_created", "cocoon_setup_token_used", "application_error",
        ]

        /// Adds the user of an event whose type is not in ``eventTypes``: the same
        /// as adding its fact.
        public mutating func addUser(_ user: String, service: String) {
            users[service, default: []].insert(user)
        }

        /// Adds users of `service` that a backend collected itself (as SQLite
        /// does from its raw bytes): the same as adding their events' facts'
        /// users.
        public mutating func addUsers(_ ids: Set<String>, service: String) {
            users[service, default: []].formUnion(ids)
        }

        /// Adds a fact, which must fall on `day`.
        public mutating func add(_ fact: EventFact) {
            if let user = fact.userID {
                users[fact.service, default: []].insert(user)
            }
            let service = fact.service
            switch fact.eventType {
            case "task_created": tasks[service, default: .init(day: day, service: service)].created += 1
            case "task_started": tasks[service, default: .init(day: day, service: service)].started += 1
            case "task_completed":
                tasks[service, default: .init(day: day, service: service)].completed += 1
                if let d = fact.durationMs { taskDurations[service, default: []].append(d) }
            case "task_failed":
                tasks[service, default: .init(day: day, service: service)].failed += 1
                errorCounts[ErrorKey(hour: fact.timestamp.startOfHour, service: service, type: "task_failed"), default: 0] += 1
            case "task_cancelled": tasks[service, default: .init(day: day, service: service)].cancelled += 1

            case "api_request":
                guard let method = fact.method, let route = fact.route else { return }
                let key = APIKey(hour: fact.timestamp.startOfHour, service: service, method: method, route: route)
                let status = fact.statusCode ?? 0
                // One lookup: the row and its latencies are updated in place.
                api[key, default: APIBucket(row: APILatencyRow(hour: key.hour, service: service, method: method, route: route))]
                    .add(status: status, duration: fact.durationMs)
                if status >= 500 {
                    errorCounts[ErrorKey(hour: key.hour, service: service, type: "http_5xx"), default: 0] += 1
                }

            case "integration_connected", "integration_disconnected", "integration_used", "integration_error",
                 "oauth_flow_started", "oauth_flow_completed":
                guard let provider = fact.provider else { return }
                var row = integrations[provider] ?? IntegrationHealthRow(day: day, provider: provider)
                switch fact.eventType {
                case "integration_connected": row.connected += 1
                case "integration_disconnected": row.disconnected += 1
                case "integration_used": row.used += 1
                case "integration_error":
                    row.errors += 1
                    errorCounts[ErrorKey(hour: fact.timestamp.startOfHour, service: service, type: "integration_error"), default: 0] += 1
                case "oauth_flow_started": row.oauthStarted += 1
                default: row.oauthCompleted += 1
                }
                integrations[provider] = row

            case "auth_login_attempt":
                var row = auth[service] ?? AuthEventsRow(day: day, service: service)
                row.loginAttempts += 1
                if fact.success == true { row.loginSuccesses += 1 } else { row.loginFailures += 1 }
                auth[service] = row
            case "auth_code_verified": auth[service, default: .init(day: day, service: service)].codesVerified += 1
            case "auth_token_refresh": auth[service, default: .init(day: day, service: service)].tokenRefreshes += 1
            case "auth_session_validated": auth[service, default: .init(day: day, service: service)].sessionsValidated += 1
            case "auth_logout": auth[service, default: .init(day: day, service: service)].logouts += 1

            case "cocoon_registered", "cocoon_connected", "cocoon_disconnected", "cocoon_claimed",
                 "cocoon_setup_token_created", "cocoon_setup_token_used":
                sawCocoonEvent = true
                if let id = fact.cocoonID { cocoons.insert(id) }
                switch fact.eventType {
                case "cocoon_registered": cocoon.registered += 1
                case "cocoon_connected": cocoon.connected += 1
                case "cocoon_disconnected": cocoon.disconnected += 1
                case "cocoon_claimed": cocoon.claimed += 1
                case "cocoon_setup_token_created": cocoon.setupTokensCreated += 1
                default: cocoon.setupTokensUsed += 1
                }

            case "application_error":
                errorCounts[ErrorKey(hour: fact.timestamp.startOfHour, service: service, type: fact.errorType ?? "unknown"), default: 0] += 1
            default:
                return
            }
        }

        /// Adds what `other` accumulated from other events of the same day, so
        /// that a day can be read in parts at once (one reader per part) and
        /// aggregated as if read in one pass: counts add up, user and cocoon sets
        /// unite, durations join (the percentiles are computed from them later,
        /// in ``aggregates()``, which sorts them).
        public mutating func merge(_ other: Accumulator) {
            precondition(other.day == day, "merging the accumulators of two different days")
            users.merge(other.users) { $0.union($1) }
            tasks.merge(other.tasks) { a, b in
                var row = a
                row.created += b.created; row.started += b.started; row.completed += b.completed
                row.failed += b.failed; row.cancelled += b.cancelled
                return row
            }
            taskDurations.merge(other.taskDurations) { $0 + $1 }
            api.merge(other.api) { a, b in
                var bucket = a
                bucket.row.requests += b.row.requests
                bucket.row.errors4xx += b.row.errors4xx
                bucket.row.errors5xx += b.row.errors5xx
                bucket.latencies += b.latencies
                return bucket
            }
            integrations.merge(other.integrations) { a, b in
                var row = a
                row.connected += b.connected; row.disconnected += b.disconnected; row.used += b.used
                row.errors += b.errors; row.oauthStarted += b.oauthStarted; row.oauthCompleted += b.oauthCompleted
                return row
            }
            auth.merge(other.auth) { a, b in
                var row = a
                row.loginAttempts += b.loginAttempts; row.loginSuccesses += b.loginSuccesses
                row.loginFailures += b.loginFailures; row.codesVerified += b.codesVerified
                row.tokenRefreshes += b.tokenRefreshes; row.sessionsValidated += b.sessionsValidated
                row.logouts += b.logouts
                return row
            }
            cocoon.registered += other.cocoon.registered; cocoon.connected += other.cocoon.connected
            cocoon.disconnected += other.cocoon.disconnected; cocoon.claimed += other.cocoon.claimed
            cocoon.setupTokensCreated += other.cocoon.setupTokensCreated
            cocoon.setupTokensUsed += other.cocoon.setupTokensUsed
            cocoons.formUnion(other.cocoons)
            sawCocoonEvent = sawCocoonEvent || other.sawCocoonEvent
            errorCounts.merge(other.errorCounts, uniquingKeysWith: +)
        }

        /// The day's rows, and its distinct users.
        public func aggregates() -> DayAggregates {
            var result = DayAggregates(day: day)
            var users = self.users
            result.taskStats = tasks.values.map { row in
                var row = row
                row.summarize(durations: taskDurations[row.service] ?? [])
                return row
            }.sorted { $0.service < $1.service }

            result.apiLatency = api.values.map { bucket in
                var row = bucket.row
                row.summarize(latencies: bucket.latencies)
                return row
            }.sorted { ($0.hour, $0.service, $0.method, $0.route) < ($1.hour, $1.service, $1.method, $1.route) }

            result.integrationHealth = integrations.values.map { row in
                var row = row
                row.summarize()
                return row
            }.sorted { $0.provider < $1.provider }

            // Every service's users together, from the per-service sets (each user
            // hashed once per fact, not twice).
            if !users.isEmpty {
                var all = users[ActiveUsersRow.allServices] ?? []
                for (service, set) in users where service != ActiveUsersRow.allServices { all.formUnion(set) }
                users[ActiveUsersRow.allServices] = all
            }

            result.authEvents = auth.values.sorted { $0.service < $1.service }
            if sawCocoonEvent {
                var cocoon = cocoon
                cocoon.activeCocoons = cocoons.count
                result.cocoonActivity = cocoon
            }
            result.errors = errorCounts.map { ErrorsRow(hour: $0.key.hour, service: $0.key.service, errorType: $0.key.type, errors: $0.value) }
                .sorted { ($0.hour, $0.service, $0.errorType) < ($1.hour, $1.service, $1.errorType) }
            result.users = users
            return result
        }
    }

    struct APIBucket: Sendable {
        var row: APILatencyRow
        var latencies: [Double] = []

        mutating func add(status: Int, duration: Double?) {
            row.requests += 1
            if (400...499).contains(status) { row.errors4xx += 1 }
            if status >= 500 { row.errors5xx += 1 }
            if let duration { latencies.append(duration) }
        }
    }

    struct APIKey: Hashable, Sendable {
        let hour: Timestamp, service: String, method: String, route: String
    }

    struct ErrorKey: Hashable, Sendable {
        let hour: Timestamp, service: String, type: String
    }
}

extension Timestamp {
    /// The start of this instant's UTC hour.
    public var startOfHour: Timestamp {
        let us = microsecondsSinceEpoch
        let hour = us >= 0 ? us / Self.microsecondsPerHour : (us - Self.microsecondsPerHour + 1) / Self.microsecondsPerHour
        return Timestamp(microsecondsSinceEpoch: hour * Self.microsecondsPerHour)
    }
}
