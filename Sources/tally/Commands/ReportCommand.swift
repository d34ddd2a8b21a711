import ArgumentParser
import Foundation
import Tally

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Print one aggregate over a range of days as a table."
    )

    enum Aggregate: String, ExpressibleByArgument, CaseIterable {
        case activeUsers = "active-users", tasks, apiLatency = "api-latency", integrations, auth, cocoons, errors
    }

    @Argument(help: ArgumentHelp("One of: \(Aggregate.allCases.map(\.rawValue).joined(separator: ", "))."))
    var aggregate: Aggregate

    @OptionGroup var options: DatabaseOptions

    @Option(help: "First day (ISO-8601), inclusive. Defaults to 7 days ago.")
    var from: String?

    @Option(help: "End (ISO-8601), exclusive. Defaults to tomorrow.")
    var to: String?

    @Option(help: "Only this service (or provider, for integrations).")
    var service: String?

    func run() async throws {
        let today = Timestamp.now().startOfDay
        guard let start = from.map({ Timestamp(iso8601: $0) }) ?? today.adding(days: -7),
              let end = to.map({ Timestamp(iso8601: $0) }) ?? today.adding(days: 1) else {
            throw ValidationError("--from and --to must be ISO-8601 dates such as 2026-11-01")
        }
        let command = self
        try await options.withAggregateStore { store in
            try await command.printTable(of: store, start: start, end: end)
        }
    }

    private func printTable(of store: any AggregateStore, start: Timestamp, end: Timestamp) async throws {
        func n(_ v: Int) -> String { Format.count(v) }
        func ms(_ v: Double?) -> String { v.map { String(format: "%.1f", $0) } ?? "—" }
        func pct(_ v: Double?) -> String { v.map { String(format: "%.1f%%", $0 * 100) } ?? "—" }
        var table: TextTable
        switch aggregate {
        case .activeUsers:
            table = TextTable(["day", "service", "dau", "wau", "mau"])
            for r in try await store.activeUsers(from: start, to: end, service: service) {
                table.add([r.day.dateString, r.service, n(r.dau), n(r.wau), n(r.mau)])
            }
        case .tasks:
            table = TextTable(["day", "service", "created", "started", "completed", "failed", "cancelled", "success", "p50 ms", "p95 ms"])
            for r in try await store.taskStats(from: start, to: end, service: service) {
                table.add([r.day.dateString, r.service, n(r.created), n(r.started), n(r.completed), n(r.failed), n(r.cancelled),
                           pct(r.successRate), ms(r.durationP50), ms(r.durationP95)])
            }
        case .apiLatency:
            table = TextTable(["hour", "service", "method", "route", "requests", "4xx", "5xx", "p50", "p95", "p99", "max"])
            for r in try await store.apiLatency(from: start, to: end, service: service) {
                table.add([String(r.hour.iso8601.prefix(13)) + "h", r.service, r.method, r.route, n(r.requests), n(r.errors4xx), n(r.errors5xx),
                           ms(r.latencyP50), ms(r.latencyP95), ms(r.latencyP99), ms(r.latencyMax)])
            }
            let overall = try await store.apiLatencyPercentiles(from: start, to: end, service: service)
            print("Whole range (from sketches): \(Format.count(Int(overall.count))) requests, p50 \(ms(overall.p50)) ms, p95 \(ms(overall.p95)) ms, p99 \(ms(overall.p99)) ms\n")
        case .integrations:
            table = TextTable(["day", "provider", "connected", "disconnected", "used", "errors", "oauth started", "oauth completed", "error rate"])
            for r in try await store.integrationHealth(from: start, to: end, provider: service) {
                table.add([r.day.dateString, r.provider, n(r.connected), n(r.disconnected), n(r.used), n(r.errors),
                           n(r.oauthStarted), n(r.oauthCompleted), pct(r.errorRate)])
            }
        case .auth:
            table = TextTable(["day", "service", "logins", "ok", "failed", "codes", "refreshes", "validated", "logouts"])
            for r in try await store.authEvents(from: start, to: end, service: service) {
                table.add([r.day.dateString, r.service, n(r.loginAttempts), n(r.loginSuccesses), n(r.loginFailures), n(r.codesVerified),
                           n(r.tokenRefreshes), n(r.sessionsValidated), n(r.logouts)])
            }
        case .cocoons:
            table = TextTable(["day", "registered", "connected", "disconnected", "claimed", "tokens created", "tokens used", "active"])
            for r in try await store.cocoonActivity(from: start, to: end) {
                table.add([r.day.dateString, n(r.registered), n(r.connected), n(r.disconnected), n(r.claimed),
                           n(r.setupTokensCreated), n(r.setupTokensUsed), n(r.activeCocoons)])
            }
        case .errors:
            table = TextTable(["hour", "service", "error type", "errors"])
            for r in try await store.errors(from: start, to: end, service: service) {
                table.add([String(r.hour.iso8601.prefix(13)) + "h", r.service, r.errorType, n(r.errors)])
            }
        }
        if table.rows.isEmpty {
            print("No rows between \(start.dateString) and \(end.dateString). Run `tally refresh` if events were written since the last refresh.")
        } else {
            print(table.render())
        }
    }
}
