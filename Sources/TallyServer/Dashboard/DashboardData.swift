import Tally

/// The aggregates of one date range, folded into daily series for the charts.
struct DashboardData {
    var days: [Timestamp]
    var activeUsers: [TimeSeriesChart.Series] = []
    var tasks: [TimeSeriesChart.Series] = []
    var taskDurations: [TimeSeriesChart.Series] = []
    var latency: [TimeSeriesChart.Series] = []
    var errors: [TimeSeriesChart.Series] = []
    var auth: [TimeSeriesChart.Series] = []
    var cocoons: [TimeSeriesChart.Series] = []
    var integrations: [IntegrationHealthRow] = []
    var routes: [(route: String, requests: Int, p95: Double?)] = []
    var totals = Totals()

    struct Totals {
        var latestDAU: Int?
        var latestMAU: Int?
        var tasksCompleted = 0
        var successRate: Double?
        var apiRequests = 0
        var apiP95: Double?
        var errors = 0
    }

    static func load(from store: any AggregateStore, from: Timestamp, to: Timestamp) async throws -> DashboardData {
        var days: [Timestamp] = []
        var day = from.startOfDay
        while day < to { days.append(day); day = day.adding(days: 1) }
        var data = DashboardData(days: days)
        let index = Dictionary(uniqueKeysWithValues: days.enumerated().map { ($1, $0) })
        func series(_ count: Int = days.count) -> [Double?] { Array(repeating: nil, count: count) }
        func add(_ values: inout [Double?], _ time: Timestamp, _ amount: Double) {
            guard let i = index[time.startOfDay] else { return }
            values[i] = (values[i] ?? 0) + amount
        }

        let active = try await store.activeUsers(from: from, to: to, service: ActiveUsersRow.allServices)
        var dau = series(), wau = series(), mau = series()
        for row in active {
            add(&dau, row.day, Double(row.dau)); add(&wau, row.day, Double(row.wau)); add(&mau, row.day, Double(row.mau))
        }
        data.activeUsers = [.init(name: "DAU", values: dau), .init(name: "WAU", values: wau), .init(name: "MAU", values: mau)]
        data.totals.latestDAU = active.last?.dau
        data.totals.latestMAU = active.last?.mau

        let tasks = try await store.taskStats(from: from, to: to, service: nil)
        var completed = series(), failed = series(), cancelled = series()
        var sketches = Array(repeating: QuantileSketch(), count: days.count)
        for row in tasks {
            add(&completed, row.day, Double(row.completed)); add(&failed, row.day, Double(row.failed))
            add(&cancelled, row.day, Double(row.cancelled))
            if let i = index[row.day] { sketches[i].merge(row.durationSketch) }
        }
        data.tasks = [.init(name: "completed", values: completed), .init(name: "failed", values: failed), .init(name: "cancelled", values: cancelled)]
        data.taskDurations = [.init(name: "p50", values: sketches.map { $0.quantile(0.5) }), .init(name: "p95", values: sketches.map { $0.quantile(0.95) })]
        data.totals.tasksCompleted = tasks.reduce(0) { $0 + $1.completed }
        let finished = data.totals.tasksCompleted + tasks.reduce(0) { $0 + $1.failed }
        data.totals.successRate = finished > 0 ? Double(data.totals.tasksCompleted) / Double(finished) : nil

        let latency = try await store.apiLatency(from: from, to: to, service: nil)
        // Each day's and each route's hourly sketches, merged once per group.
        var dayRows = Array(repeating: [QuantileSketch](), count: days.count)
        var routeRows: [String: (requests: Int, sketches: [QuantileSketch])] = [:]
        for row in latency {
            if let i = index[row.hour.startOfDay] { dayRows[i].append(row.latencySketch) }
            routeRows["\(row.method) \(row.route)", default: (0, [])].requests += row.requests
            routeRows["\(row.method) \(row.route)"]!.sketches.append(row.latencySketch)
            data.totals.apiRequests += row.requests
        }
        let daySketches = dayRows.map(QuantileSketch.merged)
        data.latency = [.init(name: "p50", values: daySketches.map { $0.quantile(0.5) }), .init(name: "p95", values: daySketches.map { $0.quantile(0.95) }), .init(name: "p99", values: daySketches.map { $0.quantile(0.99) })]
        data.totals.apiP95 = QuantileSketch.merged(latency.lazy.map(\.latencySketch)).quantile(0.95)
        data.routes = routeRows.map { ($0.key, $0.value.requests, QuantileSketch.merged($0.value.sketches).quantile(0.95)) }
            .sorted { $0.requests != $1.requests ? $0.requests > $1.requests : $0.route < $1.route }
        data.routes = Array(data.routes.prefix(10))

        var errorsByType: [String: [Double?]] = [:]
        for row in try await store.errors(from: from, to: to, service: nil) {
            add(&errorsByType[row.errorType, default: series()], row.hour, Double(row.errors))
            data.totals.errors += row.errors
        }
        let ranked = errorsByType.sorted { a, b in
            let x = a.value.reduce(0) { $0 + ($1 ?? 0) }, y = b.value.reduce(0) { $0 + ($1 ?? 0) }
            return x != y ? x > y : a.key < b.key
        }
        data.errors = ranked.prefix(7).map { TimeSeriesChart.Series(name: $0.key, values: $0.value) }
        if ranked.count > 7 {
            var other = series()
            for (_, values) in ranked.dropFirst(7) {
                for (i, v) in values.enumerated() where v != nil { other[i] = (other[i] ?? 0) + v! }
            }
            data.errors.append(TimeSeriesChart.Series(name: "other", values: other))
        }

        var successes = series(), failures = series(), refreshes = series()
        for row in try await store.authEvents(from: from, to: to, service: nil) {
            add(&successes, row.day, Double(row.loginSuccesses)); add(&failures, row.day, Double(row.loginFailures))
            add(&refreshes, row.day, Double(row.tokenRefreshes))
        }
        data.auth = [.init(name: "login successes", values: successes), .init(name: "login failures", values: failures), .init(name: "token refreshes", values: refreshes)]

        var activeCocoons = series(), registered = series()
        for row in try await store.cocoonActivity(from: from, to: to) {
            add(&activeCocoons, row.day, Double(row.activeCocoons)); add(&registered, row.day, Double(row.registered))
        }
        data.cocoons = [.init(name: "active cocoons", values: activeCocoons), .init(name: "registered", values: registered)]

        var providers: [String: IntegrationHealthRow] = [:]
        for row in try await store.integrationHealth(from: from, to: to, provider: nil) {
            var total = providers[row.provider] ?? IntegrationHealthRow(day: from, provider: row.provider)
            total.connected += row.connected; total.disconnected += row.disconnected; total.used += row.used
            total.errors += row.errors; total.oauthStarted += row.oauthStarted; total.oauthCompleted += row.oauthCompleted
            providers[row.provider] = total
        }
        data.integrations = providers.values.map { row in
            var row = row
            row.errorRate = row.used + row.errors > 0 ? Double(row.errors) / Double(row.used + row.errors) : nil
            return row
        }.sorted { $0.provider < $1.provider }
        return data
    }
}
