import Foundation

/// A mergeable quantile sketch (DDSketch): values fall into logarithmic buckets
/// `(γ^(i-1), γ^i]`, so any quantile is answered within `relativeAccuracy` of the
/// true value, and two sketches merge by adding bucket counts. Each aggregate
/// bucket stores one, so a week's p95 comes from seven merged days without
/// touching raw events.
///
/// ```swift
/// var sketch = QuantileSketch()
/// for latency in latencies { sketch.add(latency) }
/// let p95 = sketch.quantile(0.95)   // within 0.5% of the exact p95
/// ```
public struct QuantileSketch: Sendable, Hashable {
    /// The guaranteed relative error of a quantile. 0.5%, so that merged ranges
    /// stay well inside the 1% the design promises.
    public static let relativeAccuracy = 0.005
    static let gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy)
    static let logGamma = log(gamma)
    /// Values at or below this count as zero (latencies of 0 ms are common).
    static let minIndexable = 1e-9

    /// Bucket index → count.
    public private(set) var bins: [Int32: UInt64] = [:]
    public private(set) var zeroCount: UInt64 = 0
    public private(set) var count: UInt64 = 0
    public private(set) var max: Double = 0

    public init() {}

    /// Adds a value ≥ 0 (negative values are clamped to 0).
    public mutating func add(_ value: Double) {
        count += 1
        if value > max { max = value }
        guard value > Self.minIndexable else {
            zeroCount += 1
            return
        }
        bins[Self.index(of: value), default: 0] += 1
    }

    /// Adds every bucket of `other`.
    public mutating func merge(_ other: QuantileSketch) {
        count += other.count
        zeroCount += other.zeroCount
        max = Swift.max(max, other.max)
        for (index, n) in other.bins { bins[index, default: 0] += n }
    }

    /// The value at quantile `q` (0…1), or `nil` for an empty sketch. Like
    /// `percentile_cont` it interpolates between the two nearest ranks, each of
    /// which is within the relative accuracy of the true value.
    public func quantile(_ q: Double) -> Double? {
        guard count > 0 else { return nil }
        let position = Swift.min(Swift.max(q, 0), 1) * Double(count - 1)
        let lower = UInt64(position.rounded(.down))
        let fraction = position - Double(lower)
        let values = values(atRanks: lower, Swift.min(lower + 1, count - 1))
        return values.0 + (values.1 - values.0) * fraction
    }

    /// The estimated values at two ranks (0-based, ascending), in one walk.
    private func values(atRanks first: UInt64, _ second: UInt64) -> (Double, Double) {
        var result: (Double?, Double?) = (nil, nil)
        if first < zeroCount { result.0 = 0 }
        if second < zeroCount { result.1 = 0 }
        var seen = zeroCount
        for index in bins.keys.sorted() where result.1 == nil {
            seen += bins[index]!
            let value = Swift.min(Self.value(of: index), max)
            if result.0 == nil, seen > first { result.0 = value }
            if seen > second { result.1 = value }
        }
        return (result.0 ?? max, result.1 ?? max)
    }

    static func index(of value: Double) -> Int32 {
        Int32((log(value) / logGamma).rounded(.up))
    }

    /// The bucket's representative: the value with equal relative distance to both ends.
    static func value(of index: Int32) -> Double {
        2 * pow(gamma, Double(index)) / (gamma + 1)
    }

    // MARK: storage

    /// A compact binary form for a BLOB/bytea column: version, counts, then
    /// (index, count) pairs, little-endian.
    public var serialized: [UInt8] {
        var out: [UInt8] = [1]
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put(count); put(zeroCount); put(max.bitPattern); put(UInt32(bins.count))
        for index in bins.keys.sorted() { put(index); put(bins[index]!) }
        return out
    }

    /// Reads ``serialized``; `nil` if the bytes are not a sketch.
    public init?(serialized bytes: some Collection<UInt8>) {
        let b = Array(bytes)
        guard b.first == 1, b.count >= 29 else { return nil }
        var offset = 1
        func get<T: FixedWidthInteger>(_: T.Type) -> T? {
            guard offset + MemoryLayout<T>.size <= b.count else { return nil }
            var v: T = 0
            withUnsafeMutableBytes(of: &v) { $0.copyBytes(from: b[offset..<offset + MemoryLayout<T>.size]) }
            offset += MemoryLayout<T>.size
            return T(littleEndian: v)
        }
        guard let count = get(UInt64.self), let zero = get(UInt64.self), let maxBits = get(UInt64.self),
              let n = get(UInt32.self) else { return nil }
        self.count = count
        self.zeroCount = zero
        self.max = Double(bitPattern: maxBits)
        for _ in 0..<n {
            guard let index = get(Int32.self), let c = get(UInt64.self) else { return nil }
            bins[index] = c
        }
    }
}

/// Exact percentiles with linear interpolation between the two nearest ranks,
/// as PostgreSQL's `percentile_cont`.
public enum Percentile {
    /// - Parameter sorted: values in ascending order.
    public static func continuous(_ p: Double, sorted: [Double]) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let position = p * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = Swift.min(lower + 1, sorted.count - 1)
        let fraction = position - Double(lower)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }
}
