import Logging
import ServiceLifecycle

/// Keeps the aggregates current: every `interval` it recomputes the days of the
/// window [now − `window`, now] plus every day a late event (or an erase) marked
/// dirty. Recomputing a day replaces its rows, so a refresh is idempotent and safe
/// to run while events are written.
///
/// ```swift
/// let refresher = AggregateRefresher(store: aggregates, configuration: .init())
/// try await refresher.refresh(from: start, to: end) { done, total in print(done, total) }
/// ```
public struct AggregateRefresher: Service {
    public struct Configuration: Sendable {
        /// How often the scheduled refresh of the whole window runs. Defaults to 1 hour.
        public var interval: Duration = .seconds(3_600)
        /// How far back each scheduled refresh recomputes. Defaults to 3 days.
        public var window: Int = 3
        /// When set, days marked dirty (by new events, late events or an erase)
        /// are also recomputed this often between the window refreshes, so a
        /// dashboard follows live traffic. `nil` (the default) waits for `interval`.
        public var dirtyInterval: Duration?
        public var logger = Logger(label: "tally.refresh")
        public init() {}
    }

    public let store: any AggregateStore
    public let configuration: Configuration
    private let wakeUp = WakeUpSignal()

    public init(store: any AggregateStore, configuration: Configuration = Configuration()) {
        self.store = store
        self.configuration = configuration
    }

    /// What a refresh did.
    public struct Report: Sendable, Hashable {
        public var days: [Timestamp]
        public var events: Int
    }

    /// Asks the running service to recompute the dirty days now rather than at
    /// its next tick (a privacy erase calls this).
    public func refreshDirtyDaysSoon() {
        wakeUp.ring()
    }

    public func run() async throws {
        let clock = ContinuousClock()
        var nextWindow = clock.now
        while !Task.isShuttingDownGracefully {
            do {
                let report: Report
                if clock.now >= nextWindow {
                    nextWindow = clock.now.advanced(by: configuration.interval)
                    report = try await refreshDue()
                } else {
                    report = try await refreshDirty()
                }
                if !report.days.isEmpty {
                    configuration.logger.info("refreshed aggregates of \(report.days.count) days (\(report.events) events)")
                }
            } catch {
                configuration.logger.error("aggregate refresh failed, will retry at the next tick: \(error)")
            }
            let next = configuration.dirtyInterval.map { min(nextWindow, clock.now.advanced(by: $0)) } ?? nextWindow
            let wakeUp = self.wakeUp
            await cancelWhenGracefulShutdown {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { try? await Task.sleep(until: next, clock: .continuous) }
                    group.addTask { await wakeUp.wait() }
                    await group.next()
                    group.cancelAll()
                }
            }
        }
    }

    /// Recomputes only the days marked dirty.
    @discardableResult
    public func refreshDirty(now: Timestamp = .now()) async throws -> Report {
        let today = now.startOfDay
        let dirty = try await store.dirtyDays().filter { $0.day <= today }
        guard !dirty.isEmpty else { return Report(days: [], events: 0) }
        let report = try await refresh(days: dirty.map(\.day).sorted(), today: today, progress: { _, _ in })
        try await store.clearDirty(dirty)
        return report
    }

    /// The scheduled work, once: the window plus dirty days.
    @discardableResult
    public func refreshDue(now: Timestamp = .now(), progress: @Sendable (Int, Int) -> Void = { _, _ in }) async throws -> Report {
        let today = now.startOfDay
        let windowDays = (0...configuration.window).map { today.adding(days: -$0) }
        let dirty = try await store.dirtyDays()
        let days = Set(windowDays + dirty.map(\.day)).filter { $0 <= today }.sorted()
        let report = try await refresh(days: days, today: today, progress: progress)
        try await store.clearDirty(dirty)
        return report
    }

    /// Recomputes every day touching `[from, to)`, on demand (`tally refresh`).
    @discardableResult
    public func refresh(from: Timestamp, to: Timestamp, now: Timestamp = .now(),
                        progress: @Sendable (Int, Int) -> Void = { _, _ in }) async throws -> Report {
        var days: [Timestamp] = []
        var day = from.startOfDay
        while day < to {
            days.append(day)
            day = day.adding(days: 1)
        }
        return try await refresh(days: days, today: now.startOfDay, progress: progress)
    }

    private func refresh(days: [Timestamp], today: Timestamp, progress: @Sendable (Int, Int) -> Void) async throws -> Report {
        var events = 0
        for (i, day) in days.enumerated() {
            events += try await store.refreshDay(day)
            progress(i + 1, days.count)
        }
        // A day's users count toward the WAU of the next 6 days and the MAU of the next 29.
        var activeDays = Set<Timestamp>()
        for day in days {
            for offset in 0..<30 where day.adding(days: offset) <= Swift.max(today, day) {
                activeDays.insert(day.adding(days: offset))
            }
        }
        try await store.recomputeActiveUsers(days: activeDays.sorted())
        return Report(days: days, events: events)
    }
}
