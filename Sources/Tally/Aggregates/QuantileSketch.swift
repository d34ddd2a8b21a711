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

    /// The occupied buckets in ascending index order, and their counts (never 0).
    /// Sorted arrays rather than a dictionary: a month of hourly buckets is
    /// thousands of sketches read, merged and walked per query, and arrays are
    /// read without hashing and walked in order without sorting.
    public private(set) var indices: [Int32] = []
    public private(set) var counts: [UInt64] = []
    public private(set) var zeroCount: UInt64 = 0
    public private(set) var count: UInt64 = 0
    public private(set) var max: Double = 0

    public init() {}

    /// Bucket index → count.
    public var bins: [Int32: UInt64] { Dictionary(uniqueKeysWithValues: zip(indices, counts)) }

    /// Adds a value ≥ 0 (negative values are clamped to 0).
    public mutating func add(_ value: Double) {
        count += 1
        if value > max { max = value }
        guard value > Self.minIndexable else {
            zeroCount += 1
            return
        }
        add(count: 1, at: Self.index(of: value))
    }

    private mutating func add(count n: UInt64, at index: Int32) {
        // Values arrive in no order, but a bucket's neighbours are few: a binary search.
        var low = 0, high = indices.count
        while low < high {
            let middle = (low + high) / 2
            if indices[middle] < index { low = middle + 1 } else { high = middle }
        }
        if low < indices.count, indices[low] == index {
            counts[low] += n
        } else {
            indices.insert(index, at: low)
            counts.insert(n, at: low)
        }
    }

    /// Adds every bucket of `other`.
    public mutating func merge(_ other: QuantileSketch) {
        count += other.count
        zeroCount += other.zeroCount
        max = Swift.max(max, other.max)
        guard !other.indices.isEmpty else { return }
        guard !indices.isEmpty else {
            indices = other.indices
            counts = other.counts
            return
        }
        // Two sorted runs into one.
        var mergedIndices: [Int32] = [], mergedCounts: [UInt64] = []
        mergedIndices.reserveCapacity(indices.count + other.indices.count)
        mergedCounts.reserveCapacity(indices.count + other.indices.count)
        var a = 0, b = 0
        while a < indices.count || b < other.indices.count {
            if b == other.indices.count || (a < indices.count && indices[a] < other.indices[b]) {
                mergedIndices.append(indices[a]); mergedCounts.append(counts[a]); a += 1
            } else if a == indices.count || other.indices[b] < indices[a] {
                mergedIndices.append(other.indices[b]); mergedCounts.append(other.counts[b]); b += 1
            } else {
                mergedIndices.append(indices[a]); mergedCounts.append(counts[a] + other.counts[b]); a += 1; b += 1
            }
        }
        indices = mergedIndices
        counts = mergedCounts
    }

    /// All of `sketches` merged into one, through one dense array of counts over
    /// their whole index range: linear in their buckets, however many there are.
    public static func merged(_ sketches: some Sequence<QuantileSketch>) -> QuantileSketch {
        var result = QuantileSketch()
        var lowest = Int32.max, highest = Int32.min
        for sketch in sketches {
            result.count += sketch.count
            result.zeroCount += sketch.zeroCount
            result.max = Swift.max(result.max, sketch.max)
            if let first = sketch.indices.first, let last = sketch.indices.last {
                lowest = Swift.min(lowest, first)
                highest = Swift.max(highest, last)
            }
        }
        guard lowest <= highest else { return result }
        var dense = [UInt64](repeating: 0, count: Int(highest - lowest) + 1)
        dense.withUnsafeMutableBufferPointer { dense in
            for sketch in sketches {
                for (index, n) in zip(sketch.indices, sketch.counts) { dense[Int(index - lowest)] += n }
            }
        }
        for (offset, n) in dense.enumerated() where n > 0 {
            result.indices.append(lowest + Int32(offset))
            result.counts.append(n)
        }
        return result
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
        for (index, n) in zip(indices, counts) where result.1 == nil {
            seen += n
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
        put(count); put(zeroCount); put(max.bitPattern); put(UInt32(indices.count))
        for (index, n) in zip(indices, counts) { put(index); put(n) }
        return out
    }

    /// Reads ``serialized``; `nil` if the bytes are not a sketch. Reads the bytes
    /// in place when they are contiguous (a query over a month of hourly buckets
    /// decodes thousands of sketches).
    public init?(serialized bytes: some Collection<UInt8>) {
        let parsed = bytes.withContiguousStorageIfAvailable { Self.parse(UnsafeRawBufferPointer($0)) }
        guard let sketch = parsed ?? Array(bytes).withUnsafeBytes({ Self.parse($0) }) else { return nil }
        self = sketch
    }

    private static let headerSize = 29, binSize = 12

    private static func parse(_ b: UnsafeRawBufferPointer) -> QuantileSketch? {
        guard b.count >= headerSize, b[0] == 1 else { return nil }
        func load<T: FixedWidthInteger>(_ offset: Int, as: T.Type) -> T {
            T(littleEndian: b.loadUnaligned(fromByteOffset: offset, as: T.self))
        }
        let n = Int(load(25, as: UInt32.self))
        guard b.count - headerSize >= n * binSize else { return nil }
        var sketch = QuantileSketch()
        sketch.count = load(1, as: UInt64.self)
        sketch.zeroCount = load(9, as: UInt64.self)
        sketch.max = Double(bitPattern: load(17, as: UInt64.self))
        sketch.indices.reserveCapacity(n)
        sketch.counts.reserveCapacity(n)
        var offset = headerSize
        for _ in 0..<n {
            let index = load(offset, as: Int32.self), binCount = load(offset + 4, as: UInt64.self)
            offset += binSize
            guard binCount > 0 else { continue }
            if let last = sketch.indices.last, last >= index {
                // Not in the order ``serialized`` writes: place it where it belongs.
                sketch.add(count: binCount, at: index)
            } else {
                sketch.indices.append(index)
                sketch.counts.append(binCount)
            }
        }
        return sketch
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
