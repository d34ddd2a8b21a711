#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An event's identity: a UUIDv7 generated once, when the event is tracked, and
/// kept through every retry. It is the dedupe key of every store.
///
/// Version 7 puts the millisecond time first, so ids sort roughly by time and
/// index well.
public struct EventID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The 128 bits, most significant first.
    public let high: UInt64
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// A new UUIDv7 for an event at `time`.
    public static func generate(at time: Timestamp = .now()) -> EventID {
        var rng = SystemRandomNumberGenerator()
        return generate(at: time, using: &rng)
    }

    /// A UUIDv7 from a given random source (seeded for reproducible demo data).
    ///
    /// The 12 bits after the version hold the sub-millisecond part of the time
    /// (RFC 9562 §6.2, method 3), so ids of events a microsecond apart sort in time order.
    public static func generate(at time: Timestamp, using rng: inout some RandomNumberGenerator) -> EventID {
        EventID(at: time, counter: rng.next())
    }

    /// A UUIDv7 for an event at `time` whose last 62 bits are `counter`: a
    /// buffer counts up from a random start (RFC 9562 §6.2, method 2), so its ids
    /// are unique and one thread's sort in the order it tracked them, without a
    /// random draw or a lock per event. The counter grows with the time of the
    /// call (see `ProducerLanes.Ticket.serial`): an id is a dedupe key, not a
    /// secret, and says roughly when an event was tracked, as its time does.
    @inline(__always)
    init(at time: Timestamp, counter: UInt64) {
        let micros = max(0, time.microsecondsSinceEpoch)
        let millis = UInt64(micros / 1_000) & 0xFFFF_FFFF_FFFF
        let randA = UInt64(micros % 1_000) * 4_096 / 1_000
        self.init(high: millis << 16 | 0x7000 | randA, low: 0x8000_0000_0000_0000 | counter & 0x3FFF_FFFF_FFFF_FFFF)
    }

    /// Parses the canonical 8-4-4-4-12 hexadecimal form, in either case.
    public init?(_ text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 36 else { return nil }
        var value: (UInt64, UInt64) = (0, 0)
        var nibbles = 0
        for (i, c) in utf8.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard c == UInt8(ascii: "-") else { return nil }
                continue
            }
            guard let nibble = Self.nibble(c) else { return nil }
            if nibbles < 16 { value.0 = value.0 << 4 | UInt64(nibble) } else { value.1 = value.1 << 4 | UInt64(nibble) }
            nibbles += 1
        }
        self.init(high: value.0, low: value.1)
    }

    /// The UUID version (7 for ids Tally generates).
    public var version: Int { Int(high >> 12 & 0xF) }

    /// The millisecond time a UUIDv7 carries.
    public var milliseconds: Int64 { Int64(high >> 16) }

    /// The canonical lowercase form, e.g. `0192f0c1-7b3a-7cde-8f01-23456789abcd`.
    public var uuidString: String {
        String(unsafeUninitializedCapacity: 36) { writeUUIDString(into: $0) }
    }

    /// Appends ``uuidString``'s 36 bytes, for encoders that build rows in one
    /// buffer: the String would be a heap allocation of its own.
    public func appendUUIDString(to bytes: inout [UInt8]) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: 36))
        bytes.withUnsafeMutableBufferPointer { buffer in
            _ = writeUUIDString(into: UnsafeMutableBufferPointer(rebasing: buffer[start...]))
        }
    }

    /// Writes the 36 bytes of the canonical form at the start of `buffer`.
    private func writeUUIDString(into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let digits: StaticString = "0123456789abcdef"
        var out = 0
        digits.withUTF8Buffer { hex in
            for i in 0..<32 {
                if i == 8 || i == 12 || i == 16 || i == 20 {
                    buffer[out] = UInt8(ascii: "-"); out += 1
                }
                let word = i < 16 ? high : low
                let shift = UInt64(60 - (i % 16) * 4)
                buffer[out] = hex[Int(word >> shift & 0xF)]
                out += 1
            }
        }
        return out
    }

    public var description: String { uuidString }

    public static func < (a: EventID, b: EventID) -> Bool {
        (a.high, a.low) < (b.high, b.low)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
