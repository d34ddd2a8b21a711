import Foundation
import Tally

/// DESIGN.md §8's query target, timed the same way on every backend: each of the
/// eight aggregate questions over `[from, to)` (median of 5 runs by default) next to the
/// same question asked of the raw events (1 run), printed as one table.
public enum AggregateQueryTimings {
    /// The questions, in the order the raw SQL of ``printTable(_:from:to:rawSQL:raw:)`` follows.
    public static let names = [
        "daily active users (dau, wau, mau)", "task stats daily", "api latency hourly",
        "api p50/p95/p99 over 30 days (merged sketches)", "integration health daily", "auth events daily",
        "cocoon activity daily", "errors hourly",
    ]

    /// - Parameters:
    ///   - runs: how many times each aggregate question is asked; the median is printed.
    ///   - rawSQL: the same questions asked of `analytics_events`, one per ``names`` entry.
    ///   - raw: runs one raw query and returns its row count; `nil` leaves the
    ///     (slow) raw questions out, e.g. to profile the aggregate ones.
    public static func printTable(_ aggregates: any AggregateStore, from: Timestamp, to: Timestamp, runs: Int = 5,
                                  rawSQL: [String], raw: ((String) async throws -> Int)?) async throws {
        precondition(rawSQL.count == names.count, "one raw query per aggregate question")
        let questions: [() async throws -> Int] = [
            { try await aggregates.activeUsers(from: from, to: to, service: nil).count },
            { try await aggregates.taskStats(from: from, to: to, service: nil).count },
            { try await aggregates.apiLatency(from: from, to: to, service: nil).count },
            { try await aggregates.apiLatencyPercentiles(from: from, to: to).count > 0 ? 1 : 0 },
            { try await aggregates.integrationHealth(from: from, to: to, provider: nil).count },
            { try await aggregates.authEvents(from: from, to: to, service: nil).count },
            { try await aggregates.cocoonActivity(from: from, to: to).count },
            { try await aggregates.errors(from: from, to: to, service: nil).count },
        ]
        let clock = ContinuousClock()
        func milliseconds(_ duration: Duration) -> Double {
            let (seconds, attoseconds) = duration.components
            return (Double(seconds) + Double(attoseconds) / 1e18) * 1000
        }
        print("  aggregate                                        aggregate (ms, rows)    raw events (ms, rows)   raw/aggregate")
        for (index, question) in questions.enumerated() {
            var times: [Double] = []
            var rows = 0
            for _ in 0..<max(1, runs) {
                let start = clock.now
                rows = try await question()
                times.append(milliseconds(clock.now - start))
            }
            let ms = times.sorted()[times.count / 2]
            let padded = names[index].padding(toLength: 48, withPad: " ", startingAt: 0)
            guard let raw else {
                print(padded + String(format: " %8.1f ms %6d    (raw left out)", ms, rows))
                continue
            }
            let start = clock.now
            let rawRows = try await raw(rawSQL[index])
            let rawMs = milliseconds(clock.now - start)
            print(padded + String(format: " %8.1f ms %6d    %9.1f ms %7d   %7.0f×", ms, rows, rawMs, rawRows, rawMs / ms))
        }
    }
}
