import Tally
import TallyTesting
import Testing

/// An ISO-8601 text and the instant it names, in microseconds since the epoch.
struct ParsedTime: Sendable, CustomTestStringConvertible {
    var text: String
    var microseconds: Int64

    init(_ text: String, _ microseconds: Int64) {
        self.text = text
        self.microseconds = microseconds
    }

    var testDescription: String { text }
}

private let second: Int64 = 1_000_000
/// 2026-11-23T13:08:17Z (`date -u -d 2026-11-23T13:08:17Z +%s`).
private let anchor: Int64 = 1_795_439_297 * second

@Suite("Timestamp")
struct TimestampTests {
    static let parsed: [ParsedTime] = [
        .init("1970-01-01T00:00:00Z", 0),
        .init("1970-01-01", 0),
        .init("2000-01-01", 946_684_800 * second),
        .init("2026-11-23T13:08:17Z", anchor),
        .init("2026-11-23T13:08:17z", anchor),
        .init("2026-11-23t13:08:17Z", anchor),
        .init("2026-11-23 13:08:17Z", anchor),
        .init("2026-11-23T13:08:17+00:00", anchor),
        .init("2026-11-23T13:08:17-00:00", anchor),
        .init("2026-11-23T14:08:17+01:00", anchor),
        .init("2026-11-23T14:08:17+0100", anchor),
        .init("2026-11-23T07:38:17-05:30", anchor),
        .init("2026-11-24T01:08:17+12:00", anchor),
        .init("2026-11-22T23:08:17-14:00", anchor),
        .init("2026-11-23T13:08:17.1Z", anchor + 100_000),
        .init("2026-11-23T13:08:17.12Z", anchor + 120_000),
        .init("2026-11-23T13:08:17.123Z", anchor + 123_000),
        .init("2026-11-23T13:08:17.1234Z", anchor + 123_400),
        .init("2026-11-23T13:08:17.12345Z", anchor + 123_450),
        .init("2026-11-23T13:08:17.123456Z", anchor + 123_456),
        .init("2026-11-23T13:08:17.1234567Z", anchor + 123_456),
        .init("2026-11-23T13:08:17.12345678Z", anchor + 123_456),
        .init("2026-11-23T13:08:17.123456789Z", anchor + 123_456),
        .init("2026-11-23T13:08:17.000000999Z", anchor),
        .init("2026-11-23T14:08:17.5+01:00", anchor + 500_000),
        .init("2024-02-29T00:00:00Z", 1_709_164_800 * second),
        .init("2024-02-29", 1_709_164_800 * second),
        .init("2000-02-29", 951_782_400 * second),
        .init("1969-07-20T20:17:40Z", -14_182_940 * second),
        .init("1969-12-31T23:59:59.999999Z", -1),
        .init("1900-03-01", -2_203_891_200 * second),
        .init("0001-01-01T00:00:00Z", -62_135_596_800 * second),
        .init("9999-12-31T23:59:59.999999Z", 253_402_300_799_999_999),
        // A leap second is read as the last ordinary second of its minute.
        .init("2016-12-31T23:59:60Z", 1_483_228_799 * second),
    ]

    @Test(arguments: parsed)
    func parses(_ sample: ParsedTime) throws {
        let time = try #require(Timestamp(iso8601: sample.text))
        #expect(time.microsecondsSinceEpoch == sample.microseconds)
        // Formatting gives UTC with six fraction digits, which parses back to the same instant.
        #expect(Timestamp(iso8601: time.iso8601) == time)
        #expect(time.iso8601.hasSuffix("Z"))
        #expect(time.iso8601.utf8.count == 27)
    }

    @Test("iso8601 writes every field at its fixed width")
    func formatsAtFixedWidth() {
        #expect(Timestamp(microsecondsSinceEpoch: 1_483_228_799_000_001).iso8601 == "2016-12-31T23:59:59.000001Z")
        #expect(Timestamp(microsecondsSinceEpoch: 0).iso8601 == "1970-01-01T00:00:00.000000Z")
        #expect(Timestamp(microsecondsSinceEpoch: -62_135_596_800_000_000).iso8601 == "0001-01-01T00:00:00.000000Z")
        #expect(Timestamp(microsecondsSinceEpoch: 253_402_300_799_999_999).iso8601 == "9999-12-31T23:59:59.999999Z")
    }

    static let invalid: [String] = [
        "",
        "2026",
        "2026-11",
        "26-11-23",
        "2026/11/23",
        "2026-11-23T",
        "2026-02-30",
        "2026-02-29",
        "2023-02-29T00:00:00Z",
        "1900-02-29",
        "2026-11-31",
        "2026-13-01",
        "2026-00-10",
        "2026-11-00",
        "2026-11-23T13:08:17",
        "2026-11-23T13:08:17.123",
        "2026-11-23T13:08Z",
        "2026-11-23T24:00:00Z",
        "2026-11-23T13:60:00Z",
        "2026-11-23T13:08:61Z",
        "2026-11-23T13:08:17.Z",
        "2026-11-23T13:08:17,5Z",
        "2026-11-23T13:08:17+01",
        "2026-11-23T13:08:17+1:00",
        "2026-11-23T13:08:17+24:00",
        "2026-11-23T13:08:17 UTC",
        "2026-11-23T13:08:17Z ",
        " 2026-11-23T13:08:17Z",
        "2026-11-23T13:08:17ZZ",
        "2026-11-23X13:08:17Z",
        "2026-1-23",
        "２０２６-11-23",
        "+2026-11-23",
    ]

    @Test(arguments: invalid)
    func rejects(_ text: String) {
        #expect(Timestamp(iso8601: text) == nil)
    }

    @Test func parsesSubstrings() {
        let line = "at=2026-11-23T13:08:17Z level=info"
        let text = line.dropFirst(3).prefix(20)
        #expect(Timestamp(iso8601: text)?.microsecondsSinceEpoch == anchor)
    }

    @Test func formats() {
        #expect(Timestamp(microsecondsSinceEpoch: anchor + 123_456).iso8601 == "2026-11-23T13:08:17.123456Z")
        #expect(Timestamp(microsecondsSinceEpoch: anchor + 5).iso8601 == "2026-11-23T13:08:17.000005Z")
        #expect(Timestamp(microsecondsSinceEpoch: 0).iso8601 == "1970-01-01T00:00:00.000000Z")
        #expect(Timestamp(microsecondsSinceEpoch: -1).iso8601 == "1969-12-31T23:59:59.999999Z")
        #expect(Timestamp(microsecondsSinceEpoch: 1_709_164_800 * second).iso8601 == "2024-02-29T00:00:00.000000Z")
        #expect(Timestamp(microsecondsSinceEpoch: anchor).description == "2026-11-23T13:08:17.000000Z")
        #expect(Timestamp(microsecondsSinceEpoch: anchor).dateString == "2026-11-23")
        #expect(Timestamp(microsecondsSinceEpoch: -1).dateString == "1969-12-31")
        #expect(Timestamp(microsecondsSinceEpoch: -62_135_596_800 * second).dateString == "0001-01-01")
    }

    @Test func roundTripsEveryDayOfALeapCentury() {
        // Every day from 1896-01-01 to 2104-12-31 at an awkward time of day, through
        // every month length and the 1900/2000/2100 century rules.
        var time = Timestamp(iso8601: "1896-01-01T23:59:59.999999Z")!
        let end = Timestamp(iso8601: "2105-01-01T00:00:00Z")!
        var days = 0
        var previous = ""
        var mismatches: [String] = []
        while time < end {
            let text = time.iso8601
            if text <= previous { mismatches.append("\(text) does not sort after \(previous)") }
            if Timestamp(iso8601: text) != time { mismatches.append("\(text) does not parse back") }
            if Timestamp(iso8601: time.dateString) != time.startOfDay { mismatches.append("\(time.dateString) is not the start of \(text)") }
            previous = text
            time = time.adding(days: 1)
            days += 1
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
        // 209 years, 51 of them leap (1900 and 2100 are not, 2000 is).
        #expect(days == 209 * 365 + 51)
    }

    @Test func startOfDay() {
        let day = Timestamp.microsecondsPerDay
        let cases: [(Int64, Int64)] = [
            (0, 0),
            (1, 0),
            (day - 1, 0),
            (day, day),
            (anchor + 123_456, Timestamp(iso8601: "2026-11-23")!.microsecondsSinceEpoch),
            (-1, -day),
            (-day + 1, -day),
            (-day, -day),
            (-day - 1, -2 * day),
            (-14_182_940 * second, Timestamp(iso8601: "1969-07-20")!.microsecondsSinceEpoch),
            (-62_135_596_800 * second + 5, -62_135_596_800 * second),
        ]
        for (time, start) in cases {
            let t = Timestamp(microsecondsSinceEpoch: time)
            #expect(t.startOfDay.microsecondsSinceEpoch == start, "startOfDay of \(time)")
            #expect(t.startOfDay <= t)
            #expect(t.startOfDay.startOfDay == t.startOfDay)
            #expect(t.startOfDay.dateString == t.dateString)
        }
    }

    @Test func arithmeticAndConversions() {
        let t = Timestamp(microsecondsSinceEpoch: anchor)
        #expect(t.adding(days: 1).microsecondsSinceEpoch == anchor + Timestamp.microsecondsPerDay)
        #expect(t.adding(days: -1).dateString == "2026-11-22")
        #expect(t.adding(microseconds: Timestamp.microsecondsPerHour).iso8601 == "2026-11-23T14:08:17.000000Z")
        #expect(Timestamp(secondsSinceEpoch: 1.5).microsecondsSinceEpoch == 1_500_000)
        #expect(Timestamp(secondsSinceEpoch: -0.25).microsecondsSinceEpoch == -250_000)
        #expect(Timestamp(secondsSinceEpoch: 1_795_439_297.5).microsecondsSinceEpoch == anchor + 500_000)
        #expect(t.secondsSinceEpoch == 1_795_439_297)
        #expect(t < t.adding(microseconds: 1))
        #expect(!(t < t))
        #expect([t.adding(days: 2), t, t.adding(days: -2)].sorted() == [t.adding(days: -2), t, t.adding(days: 2)])
    }
}

@Suite("EventID")
struct EventIDTests {
    static let time = Timestamp(microsecondsSinceEpoch: anchor + 123_456)

    @Test func seededGeneratorIsSplitMix64() {
        var zero = SeededGenerator(seed: 0)
        #expect(zero.next() == 0xE220_A839_7B1D_CDAF)
        #expect(zero.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(zero.next() == 0x06C4_5D18_8009_454F)
        var fortyTwo = SeededGenerator(seed: 42)
        #expect(fortyTwo.next() == 0xBDD7_3226_2FEB_6E95)
    }

    @Test func generatesVersion7WithTheTime() {
        var rng = SeededGenerator(seed: 7)
        for offset in [Int64(0), 1, 999, 1_000, 86_400_000_000] {
            let time = Self.time.adding(microseconds: offset)
            let id = EventID.generate(at: time, using: &rng)
            #expect(id.version == 7)
            #expect(id.low >> 62 == 0b10, "RFC 9562 variant")
            #expect(id.milliseconds == time.microsecondsSinceEpoch / 1_000)
            let text = Array(id.uuidString)
            #expect(text[14] == "7")
            #expect("89ab".contains(text[19]))
            #expect(String(text[0..<8]) + String(text[9..<13]) == hex(UInt64(time.microsecondsSinceEpoch / 1_000), digits: 12))
        }
    }

    @Test func generationIsReproducibleWithASeed() {
        var a = SeededGenerator(seed: 99)
        var b = SeededGenerator(seed: 99)
        var c = SeededGenerator(seed: 100)
        let first = EventID.generate(at: Self.time, using: &a)
        #expect(first == EventID.generate(at: Self.time, using: &b))
        #expect(first != EventID.generate(at: Self.time, using: &c))
        #expect(first != EventID.generate(at: Self.time, using: &a))
    }

    @Test func systemRandomIDsDiffer() {
        let ids = (0..<100).map { _ in EventID.generate(at: Self.time) }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.version == 7 && $0.milliseconds == Self.time.microsecondsSinceEpoch / 1_000 })
    }

    @Test func idsGeneratedAtIncreasingTimesSortByTime() {
        var rng = SeededGenerator(seed: 2026)
        var ids: [EventID] = []
        for i in 0..<2_000 {
            // One id per millisecond, at varying microseconds within it (the time is at .123456 s).
            ids.append(EventID.generate(at: Self.time.adding(microseconds: Int64(i) * 1_000 + Int64(i % 7) * 50), using: &rng))
        }
        let sortedByID = ids.sorted() == ids
        #expect(sortedByID)
        let sortedByText = ids.map(\.uuidString).sorted() == ids.map(\.uuidString)
        #expect(sortedByText)
        var shuffler = SeededGenerator(seed: 1)
        let shuffled = ids.shuffled(using: &shuffler)
        let sortsBack = shuffled != ids && shuffled.sorted() == ids
        #expect(sortsBack)
    }

    @Test func parsesTheCanonicalForm() throws {
        let id = try #require(EventID("0192f0c1-7b3a-7cde-8f01-23456789abcd"))
        #expect(id.high == 0x0192_F0C1_7B3A_7CDE)
        #expect(id.low == 0x8F01_2345_6789_ABCD)
        #expect(id.version == 7)
        #expect(id.milliseconds == 0x0192_F0C1_7B3A)
        #expect(id.uuidString == "0192f0c1-7b3a-7cde-8f01-23456789abcd")
        #expect(id.description == id.uuidString)
        #expect(EventID("0192F0C1-7B3A-7CDE-8F01-23456789ABCD") == id)
        #expect(EventID("0192f0c1-7B3A-7cde-8F01-23456789AbCd") == id)
        #expect(EventID("0192f0c1-7b3a-7cde-8f01-23456789abcd"[...]) == id)
        #expect(EventID("00000000-0000-0000-0000-000000000000") == EventID(high: 0, low: 0))
        #expect(EventID("ffffffff-ffff-ffff-ffff-ffffffffffff") == EventID(high: .max, low: .max))
    }

    @Test func uuidStringRoundTrips() throws {
        var rng = SeededGenerator(seed: 3)
        for _ in 0..<200 {
            let id = EventID(high: rng.next(), low: rng.next())
            let text = id.uuidString
            #expect(text.utf8.count == 36)
            #expect(text == text.lowercased())
            #expect(EventID(text) == id)
            #expect(EventID(text.uppercased()) == id)
        }
    }

    static let invalid: [String] = [
        "",
        "0192f0c1-7b3a-7cde-8f01-23456789abc",
        "0192f0c1-7b3a-7cde-8f01-23456789abcde",
        "0192f0c17b3a7cde8f0123456789abcd",
        "0192f0c1x7b3a-7cde-8f01-23456789abcd",
        "0192f0c1-7b3a-7cde-8f0-123456789abcd",
        "0192f0c1-7b3a-7cde-8f01_23456789abcd",
        "g192f0c1-7b3a-7cde-8f01-23456789abcd",
        "0192f0c1-7b3a-7cde-8f01-23456789abcG",
        " 192f0c1-7b3a-7cde-8f01-23456789abcd",
        "{0192f0c1-7b3a-7cde-8f01-23456789abcd}",
        "urn:uuid:0192f0c1-7b3a-7cde-8f01-23456789abcd",
        "0192f0c1-7b3a-7cde-8f01-23456789abc\u{E9}",
        "------------------------------------",
    ]

    @Test(arguments: invalid)
    func rejectsMalformedText(_ text: String) {
        #expect(EventID(text) == nil)
    }

    @Test func derivedIDsAreVersion8AndStable() {
        let a = EventID.derived(fromMessageID: "ajs-1732367297123-5f8e")
        #expect(a == EventID.derived(fromMessageID: "ajs-1732367297123-5f8e"))
        #expect(a != EventID.derived(fromMessageID: "ajs-1732367297123-5f8f"))
        #expect(a.version == 8)
        #expect(a.low >> 62 == 0b10)
        #expect(EventID.derived(fromMessageID: "").version == 8)
    }

    private func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
