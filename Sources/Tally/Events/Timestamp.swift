#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A UTC instant with microsecond precision, as every store keeps it.
///
/// Formatting and parsing ISO-8601 is done by hand: Foundation's date formatters
/// are slow on Linux and timestamps are on every event's path.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var microsecondsSinceEpoch: Int64

    public init(microsecondsSinceEpoch: Int64) {
        self.microsecondsSinceEpoch = microsecondsSinceEpoch
    }

    public init(secondsSinceEpoch: Double) {
        self.microsecondsSinceEpoch = Int64((secondsSinceEpoch * 1_000_000).rounded())
    }

    /// The instant `nanoseconds` after the epoch, truncated to the microsecond: a
    /// clock reading, after 1970 (before it, `/` would round toward the epoch).
    init(nanosecondsSinceEpoch nanoseconds: Int) {
        self.microsecondsSinceEpoch = Int64(nanoseconds / 1_000)
    }

    /// The current wall-clock time.
    public static func now() -> Timestamp {
        Timestamp(nanosecondsSinceEpoch: nanosecondsSinceEpochNow())
    }

    /// The wall clock to the nanosecond, for callers that order by it (see
    /// `ProducerLanes`) before making a `Timestamp` of it.
    @inline(__always)
    static func nanosecondsSinceEpochNow() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return ts.tv_sec * 1_000_000_000 + ts.tv_nsec
    }

    public static let microsecondsPerDay: Int64 = 86_400_000_000
    public static let microsecondsPerHour: Int64 = 3_600_000_000

    public var secondsSinceEpoch: Double { Double(microsecondsSinceEpoch) / 1_000_000 }

    public func adding(microseconds: Int64) -> Timestamp {
        Timestamp(microsecondsSinceEpoch: microsecondsSinceEpoch + microseconds)
    }

    /// This instant moved by `duration`, truncated to the microsecond.
    public func adding(_ duration: Duration) -> Timestamp {
        let (seconds, attoseconds) = duration.components
        return adding(microseconds: seconds * 1_000_000 + attoseconds / 1_000_000_000_000)
    }

    public func adding(days: Int) -> Timestamp {
        adding(microseconds: Int64(days) * Self.microsecondsPerDay)
    }

    /// The start of this instant's UTC day.
    public var startOfDay: Timestamp {
        let us = microsecondsSinceEpoch
        let day = us >= 0 ? us / Self.microsecondsPerDay : (us - Self.microsecondsPerDay + 1) / Self.microsecondsPerDay
        return Timestamp(microsecondsSinceEpoch: day * Self.microsecondsPerDay)
    }

    /// The UTC calendar date, `YYYY-MM-DD`.
    public var dateString: String {
        let (y, m, d, _, _, _, _) = components
        return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2)
    }

    /// ISO-8601 in UTC with microseconds, e.g. `2026-11-23T13:08:17.123456Z`.
    public var iso8601: String {
        let (y, mo, d, h, mi, s, us) = components
        guard (0...9999).contains(y) else {
            return pad(y, 4) + "-" + pad(mo, 2) + "-" + pad(d, 2) + "T" + pad(h, 2) + ":" + pad(mi, 2) + ":" + pad(s, 2)
                + "." + pad(us, 6) + "Z"
        }
        // Every field has a fixed width: write the 27 bytes in place (this runs
        // for every exported row and every row COPY sends to PostgreSQL).
        return String(unsafeUninitializedCapacity: 27) { buffer in
            var index = 0
            func put(_ value: Int, _ width: Int) {
                var value = value
                for position in stride(from: index + width - 1, through: index, by: -1) {
                    buffer[position] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
                index += width
            }
            func put(_ byte: Unicode.Scalar) {
                buffer[index] = UInt8(ascii: byte)
                index += 1
            }
            put(y, 4); put("-"); put(mo, 2); put("-"); put(d, 2); put("T")
            put(h, 2); put(":"); put(mi, 2); put(":"); put(s, 2); put("."); put(us, 6); put("Z")
            return index
        }
    }

    public var description: String { iso8601 }

    public static func < (a: Timestamp, b: Timestamp) -> Bool {
        a.microsecondsSinceEpoch < b.microsecondsSinceEpoch
    }

    private var components: (Int, Int, Int, Int, Int, Int, Int) {
        let us = microsecondsSinceEpoch
        var days = us / Self.microsecondsPerDay
        var rest = us % Self.microsecondsPerDay
        if rest < 0 { rest += Self.microsecondsPerDay; days -= 1 }
        let (y, m, d) = Self.civil(fromDays: Int(days))
        let seconds = Int(rest / 1_000_000)
        return (y, m, d, seconds / 3600, seconds / 60 % 60, seconds % 60, Int(rest % 1_000_000))
    }

    private func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// A day (`2026-11-23`) or an ISO-8601 time, as range options and query
    /// parameters take them. A day given as a range's end (`endOfDay`) includes
    /// that whole day: it means the midnight after it.
    public init?(dayOrTime text: some StringProtocol, endOfDay: Bool = false) {
        guard let time = Timestamp(iso8601: text) else { return nil }
        self = endOfDay && text.utf8.count == 10 ? time.adding(days: 1) : time
    }

    /// Parses ISO-8601 / RFC 3339 date-times: `2026-11-23T13:08:17Z`,
    /// `2026-11-23T13:08:17.123+01:00`, `2026-11-23 13:08:17.5Z`, and a bare date
    /// `2026-11-23` (midnight UTC). Fractions beyond microseconds are truncated.
    public init?(iso8601 text: some StringProtocol) {
        let b = Array(text.utf8)
        var i = 0
        func number(_ width: Int) -> Int? {
            guard i + width <= b.count else { return nil }
            var n = 0
            for k in i..<i + width {
                guard b[k] >= 48, b[k] <= 57 else { return nil }
                n = n * 10 + Int(b[k] - 48)
            }
            i += width
            return n
        }
        func expect(_ c: Character) -> Bool {
            guard i < b.count, b[i] == c.asciiValue! else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
              (1...12).contains(month), (1...Self.daysIn(month: month, year: year)).contains(day) else { return nil }
        var micros: Int64 = 0
        var offsetSeconds = 0
        if i < b.count {
            guard b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == UInt8(ascii: " ") else { return nil }
            i += 1
            guard let hour = number(2), expect(":"), let minute = number(2), expect(":"), let second = number(2),
                  hour < 24, minute < 60, second < 61 else { return nil }
            var fraction = 0
            if i < b.count, b[i] == UInt8(ascii: ".") {
                i += 1
                var digits = 0
                while i < b.count, b[i] >= 48, b[i] <= 57 {
                    if digits < 6 { fraction = fraction * 10 + Int(b[i] - 48) }
                    digits += 1
                    i += 1
                }
                guard digits > 0 else { return nil }
                for _ in min(digits, 6)..<6 { fraction *= 10 }
            }
            guard i < b.count else { return nil }
            if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
                i += 1
            } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                let sign = b[i] == UInt8(ascii: "+") ? 1 : -1
                i += 1
                guard let oh = number(2) else { return nil }
                _ = expect(":")
                guard let om = number(2), oh < 24, om < 60 else { return nil }
                offsetSeconds = sign * (oh * 3600 + om * 60)
            } else {
                return nil
            }
            micros = Int64(hour * 3600 + minute * 60 + min(second, 59) - offsetSeconds) * 1_000_000 + Int64(fraction)
        }
        guard i == b.count else { return nil }
        self.init(microsecondsSinceEpoch: Int64(Self.days(year: year, month: month, day: day)) * Self.microsecondsPerDay + micros)
    }

    // Howard Hinnant's days-from-civil and civil-from-days (proleptic Gregorian).
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
