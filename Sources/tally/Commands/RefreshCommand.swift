import ArgumentParser
import Foundation
import Synchronization
import Tally

struct RefreshCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refresh",
        abstract: "Recompute the aggregates of a range of days from raw events.",
        discussion: """
            Without --from/--to it does what the hourly refresh does: the last 3 days plus every \
            day a late event or an erase marked dirty.
            """
    )

    @OptionGroup var options: DatabaseOptions

    @Option(help: "First day (ISO-8601 date), inclusive.")
    var from: String?

    @Option(help: "Last day (ISO-8601 date), exclusive. Defaults to tomorrow.")
    var to: String?

    func run() async throws {
        let range = try dayRange()
        let progress = LockedProgress(unit: "days")
        let clock = ContinuousClock()
        let start = clock.now
        let report = try await options.withAggregateStore { store in
            let refresher = AggregateRefresher(store: store)
            if let range {
                return try await refresher.refresh(from: range.lowerBound, to: range.upperBound) { done, total in progress.update(done, total) }
            }
            return try await refresher.refreshDue { done, total in progress.update(done, total) }
        }
        progress.finish()
        let seconds = (clock.now - start).seconds
        print("Refreshed the aggregates of \(report.days.count) days (\(Format.count(report.events)) events) in \(String(format: "%.2f", seconds)) s.")
    }

    /// `--from`/`--to`, or `nil` for the scheduled refresh's days.
    private func dayRange() throws -> Range<Timestamp>? {
        guard let from else { return nil }
        guard let first = Timestamp(iso8601: from) else { throw ValidationError("--from must be an ISO-8601 date such as 2026-11-01") }
        let last = try to.map { text in
            guard let t = Timestamp(iso8601: text) else { throw ValidationError("--to must be an ISO-8601 date such as 2026-11-30") }
            return t
        } ?? Timestamp.now().startOfDay.adding(days: 1)
        guard first < last else { throw ValidationError("--from must be before --to") }
        return first..<last
    }
}

/// A progress bar fed from a `@Sendable` callback (the refresher calls back from
/// its own task).
final class LockedProgress: Sendable {
    private struct State {
        var bar: ProgressBar?
        var done = 0
    }

    private let state = Mutex(State())
    private let unit: String

    init(unit: String) { self.unit = unit }

    func update(_ done: Int, _ total: Int) {
        state.withLock { state in
            if state.bar == nil { state.bar = ProgressBar(total: total, unit: unit) }
            state.done = done
            state.bar?.update(done)
        }
    }

    func finish() {
        state.withLock { state in state.bar?.finish(state.done) }
    }
}
