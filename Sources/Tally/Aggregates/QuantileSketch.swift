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
///
/// Its stored form is in QuantileSketch+Storage.swift; merging many at once in
/// QuantileSketch+Merger.swift.
public struct QuantileSketch: Sendable {
    /// The guaranteed relative error of a quantile. 0.5%, so that merged ranges
    /// stay well inside the 1% the design promises.
    public static let relativeAccuracy = 0.005
    static let gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy)
    static let logGamma = log(gamma)
    /// Values at or below this count as zero (latencies of 0 ms are common).
    static let minIndexable = 1e-9

    /// The occupied buckets in ascending index order, and their counts (never 0),
    /// unless `stored` holds them. Sorted arrays rather than a dictionary: a month
    /// of hourly buckets is thousands of sketches read, merged and walked per
    /// query, and arrays are read without hashing and walked in order without sorting.
    var decodedIndices: [Int32] = []
    var decodedCounts: [UInt64] = []
    /// A sketch read from storage in its canonical form keeps those bytes, not
    /// decoded, until something changes it. A month of hourly rows carries
    /// thousands of sketches that are mostly merged (straight from the bytes, see
    /// ``Merger``) or not looked at, and decoding each into two arrays — five
    /// times the memory, written fresh — cost more than the rest of reading its row.
    /// Every mutation calls `decodeStored()` first: the bytes hold `count`,
    /// `zeroCount` and `max` as well, and would otherwise go stale.
    var stored: [UInt8]?
    public internal(set) var zeroCount: UInt64 = 0
    public internal(set) var count: UInt64 = 0
    public internal(set) var max: Double = 0

    public init() {}

    /// The occupied buckets' indices, ascending. (Decoded on each use while the
    /// sketch is in its stored form: loops go through `forEachBucket`.)
    public var indices: [Int32] { buckets.indices }
    /// The occupied buckets' counts, in the order of ``indices``.
    public var counts: [UInt64] { buckets.counts }

    /// Both, decoded at once if stored.
    var buckets: (indices: [Int32], counts: [UInt64]) {
        stored.map(Self.decodeBuckets) ?? (decodedIndices, decodedCounts)
    }

    /// Bucket index → count.
    public var bins: [Int32: UInt64] {
        var bins: [Int32: UInt64] = [:]
        forEachBucket { bins[$0] = $1 }
        return bins
    }

    /// Calls `body` with each occupied bucket's index and count, ascending,
    /// reading stored bytes in place.
    func forEachBucket(_ body: (Int32, UInt64) -> Void) {
        guard let stored else {
            for (index, n) in zip(decodedIndices, decodedCounts) { body(index, n) }
            return
        }
        stored.withUnsafeBytes { bytes in
            guard let header = Self.readVersion2Header(bytes) else { return }
            var reader = header.reader
            _ = Self.readBuckets(header.buckets, from: &reader, body)
        }
    }

    /// Decodes stored bytes before a change.
    private mutating func decodeStored() {
        guard let bytes = stored else { return }
        stored = nil
        (decodedIndices, decodedCounts) = Self.decodeBuckets(bytes)
    }

    /// Adds a value ≥ 0 (negative values are clamped to 0).
    public mutating func add(_ value: Double) {
        // Before any field changes: stored bytes carry count, zeroCount and max too.
        decodeStored()
        count += 1
        if value > max { max = value }
        guard value > Self.minIndexable else {
            zeroCount += 1
            return
        }
        // Infinity counts in the last bucket rather than overflowing the index.
        add(count: 1, at: Self.index(of: Swift.min(value, .greatestFiniteMagnitude)))
    }

    mutating func add(count n: UInt64, at index: Int32) {
        decodeStored()
        // Values arrive in no order, but a bucket's neighbours are few: a binary search.
        var low = 0, high = decodedIndices.count
        while low < high {
            let middle = (low + high) / 2
            if decodedIndices[middle] < index { low = middle + 1 } else { high = middle }
        }
        if low < decodedIndices.count, decodedIndices[low] == index {
            decodedCounts[low] &+= n
        } else {
            decodedIndices.insert(index, at: low)
            decodedCounts.insert(n, at: low)
        }
    }

    /// Adds every bucket of `other`.
    public mutating func merge(_ other: QuantileSketch) {
        decodeStored()
        // Wrapping: only damaged stored counts could overflow, and a query must not trap on them.
        count &+= other.count
        zeroCount &+= other.zeroCount
        max = Swift.max(max, other.max)
        let (otherIndices, otherCounts) = other.buckets
        guard !otherIndices.isEmpty else { return }
        guard !decodedIndices.isEmpty else {
            (decodedIndices, decodedCounts) = (otherIndices, otherCounts)
            return
        }
        // Two sorted runs into one.
        let (indices, counts) = (decodedIndices, decodedCounts)
        var mergedIndices: [Int32] = [], mergedCounts: [UInt64] = []
        mergedIndices.reserveCapacity(indices.count + otherIndices.count)
        mergedCounts.reserveCapacity(indices.count + otherIndices.count)
        var a = 0, b = 0
        while a < indices.count || b < otherIndices.count {
            if b == otherIndices.count || (a < indices.count && indices[a] < otherIndices[b]) {
                mergedIndices.append(indices[a]); mergedCounts.append(counts[a]); a += 1
            } else if a == indices.count || otherIndices[b] < indices[a] {
                mergedIndices.append(otherIndices[b]); mergedCounts.append(otherCounts[b]); b += 1
            } else {
                mergedIndices.append(indices[a]); mergedCounts.append(counts[a] &+ otherCounts[b]); a += 1; b += 1
            }
        }
        decodedIndices = mergedIndices
        decodedCounts = mergedCounts
    }

    /// All of `sketches` merged into one, through a ``Merger``'s dense array of
    /// counts: linear in their buckets, however many there are.
    public static func merged(_ sketches: some Sequence<QuantileSketch>) -> QuantileSketch {
        var merger = Merger()
        for sketch in sketches { merger.add(sketch) }
        return merger.merged
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
        forEachBucket { index, n in
            guard result.1 == nil else { return }
            seen &+= n
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
}

/// Two sketches are equal when they hold the same counts in the same buckets,
/// whether either is still in its stored form or not.
extension QuantileSketch: Hashable {
    public static func == (a: QuantileSketch, b: QuantileSketch) -> Bool {
        if a.count != b.count || a.zeroCount != b.zeroCount || a.max != b.max { return false }
        if let x = a.stored, let y = b.stored, x == y { return true }
        let (x, y) = (a.buckets, b.buckets)
        return x.indices == y.indices && x.counts == y.counts
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        hasher.combine(zeroCount)
        hasher.combine(max)
        forEachBucket { index, n in
            hasher.combine(index)
            hasher.combine(n)
        }
    }
}

extension QuantileSketch: CustomStringConvertible {
    public var description: String {
        let (indices, counts) = buckets
        return "QuantileSketch(count: \(count), zeroCount: \(zeroCount), max: \(max), indices: \(indices), counts: \(counts))"
    }
}
