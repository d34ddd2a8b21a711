import Tally

/// Reads an HTTP `Retry-After` header (RFC 9110 §10.2.3): either a number of
/// seconds (`120`) or an HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`).
enum RetryAfter {
    /// The wait the header asks for, measured from `now`; `nil` when the header
    /// is absent or unreadable. A date in the past means "now" (zero).
    static func parse(_ header: String?, now: Timestamp = .now()) -> Duration? {
        guard let text = header?.trimmingWhitespace, !text.isEmpty else { return nil }
        if let seconds = Int(text) {
            return seconds >= 0 ? .seconds(seconds) : nil
        }
        guard let date = httpDate(text) else { return nil }
        let micros = max(0, date.microsecondsSinceEpoch - now.microsecondsSinceEpoch)
        return .microseconds(micros)
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// The IMF-fixdate form, the only one senders may generate today:
    /// `Sun, 06 Nov 1994 08:49:37 GMT`. Parsed by hand because Foundation's date
    /// formatters depend on the device's locale and calendar settings.
    static func httpDate(_ text: String) -> Timestamp? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT",
              let day = Int(parts[1]), parts[1].count == 2,
              let monthIndex = months.firstIndex(of: String(parts[2])),
              Int(parts[3]) != nil, parts[3].count == 4, parts[4].count == 8
        else { return nil }
        let month = monthIndex + 1
        let iso = "\(parts[3])-\(month < 10 ? "0" : "")\(month)-\(day < 10 ? "0" : "")\(day)T\(parts[4])Z"
        return Timestamp(iso8601: iso)
    }
}

extension String {
    var trimmingWhitespace: String {
        var view = Substring(self)
        while let first = view.first, first.isWhitespace { view.removeFirst() }
        while let last = view.last, last.isWhitespace { view.removeLast() }
        return String(view)
    }
}
