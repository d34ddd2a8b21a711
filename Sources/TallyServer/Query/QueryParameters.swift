import Hummingbird
import HummingbirdCore
import Tally

/// Reads a request's query string, refusing bad values with a 400 that names the
/// parameter and shows a good value.
struct QueryParameters {
    let values: FlatDictionary<Substring, Substring>

    init(_ request: Request) {
        values = request.uri.queryParameters
    }

    func string(_ name: String) -> String? {
        values[name[...]].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
    }

    func int(_ name: String, default value: Int, range: ClosedRange<Int>) throws(APIError) -> Int {
        guard let text = string(name) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw APIError.badParameter(name, "must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return number
    }

    func choice<T: RawRepresentable & CaseIterable>(_ name: String, default value: T) throws(APIError) -> T where T.RawValue == String {
        guard let text = string(name) else { return value }
        guard let choice = T(rawValue: text) else {
            throw APIError.badParameter(name, "must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), not '\(text)'")
        }
        return choice
    }

    /// A time: `2026-11-23` (a day) or `2026-11-23T13:00:00Z`. A day given as `to`
    /// includes that whole day.
    func time(_ name: String, endOfDay: Bool = false) throws(APIError) -> Timestamp? {
        guard let text = string(name) else { return nil }
        guard let time = Timestamp(dayOrTime: text, endOfDay: endOfDay) else {
            throw APIError.badParameter(name, "must be a day (2026-11-23) or an ISO-8601 time (2026-11-23T13:00:00Z), not '\(text)'")
        }
        return time
    }

    /// `from` and `to`, by default the last `defaultDays` days up to the end of today.
    func range(defaultDays: Int = 30, maxDays: Int = 400, now: Timestamp = .now()) throws(APIError) -> (from: Timestamp, to: Timestamp) {
        let to = try time("to", endOfDay: true) ?? now.startOfDay.adding(days: 1)
        let from = try time("from") ?? to.adding(days: -defaultDays)
        guard from < to else { throw APIError.badParameter("from", "must be before 'to' (\(from.iso8601) is not before \(to.iso8601))") }
        guard to.microsecondsSinceEpoch - from.microsecondsSinceEpoch <= Int64(maxDays) * Timestamp.microsecondsPerDay else {
            throw APIError.badParameter("from", "starts a range longer than \(maxDays) days; ask for a shorter range")
        }
        return (from, to)
    }
}
