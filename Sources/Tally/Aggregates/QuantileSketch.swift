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
        // Infinity counts in the last bucket rather than overflowing the index.
        add(count: 1, at: Self.index(of: Swift.min(value, .greatestFiniteMagnitude)))
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

    /// A compact binary form for a BLOB/bytea column (version 2): the version
    /// byte, then `count`, `zeroCount` as LEB128 varints, `max` as 8 bytes
    /// little-endian, the number of buckets as a varint, and each bucket as the
    /// zigzag varint of its index's distance from the previous one and the varint
    /// of its count. Neighbouring buckets are 1 apart and most counts are small, so
    /// a bucket takes about 2 bytes; version 1 (still read) spent 12. A month of
    /// hourly rows is thousands of sketches read per query, and at 12 bytes a
    /// bucket most were over PostgreSQL's 2 kB TOAST threshold, compressed and
    /// decompressed on every read.
    public var serialized: [UInt8] {
        var out: [UInt8] = [2]
        out.reserveCapacity(16 + indices.count * 3)
        Self.putVarint(count, to: &out)
        Self.putVarint(zeroCount, to: &out)
        withUnsafeBytes(of: max.bitPattern.littleEndian) { out.append(contentsOf: $0) }
        Self.putVarint(UInt64(indices.count), to: &out)
        var previous: Int64 = 0
        for (index, n) in zip(indices, counts) {
            let delta = Int64(index) - previous
            previous = Int64(index)
            Self.putVarint(UInt64(bitPattern: (delta << 1) ^ (delta >> 63)), to: &out)
            Self.putVarint(n, to: &out)
        }
        return out
    }

    /// Reads ``serialized`` (version 2, or the fixed-width version 1 that rows
    /// written before it hold); `nil` if the bytes are not a sketch. Reads the
    /// bytes in place when they are contiguous.
    public init?(serialized bytes: some Collection<UInt8>) {
        let parsed = bytes.withContiguousStorageIfAvailable { Self.parse(UnsafeRawBufferPointer($0)) }
        guard let sketch = parsed ?? Array(bytes).withUnsafeBytes({ Self.parse($0) }) else { return nil }
        self = sketch
    }

    /// Reads ``serialized`` from bytes in place (a database cell's).
    public init?(serialized bytes: UnsafeRawBufferPointer) {
        guard let sketch = Self.parse(bytes) else { return nil }
        self = sketch
    }

    private static func putVarint(_ value: UInt64, to out: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
    }

    private static func parse(_ b: UnsafeRawBufferPointer) -> QuantileSketch? {
        guard let version = b.first else { return nil }
        switch version {
        case 1: return parseVersion1(b)
        case 2: return parseVersion2(b)
        default: return nil
        }
    }

    /// Adds a bucket read from storage: in order, appended; out of order (a form
    /// another writer might produce), placed where it belongs.
    private mutating func appendStored(count n: UInt64, at index: Int32) {
        guard n > 0 else { return }
        if let last = indices.last, last >= index {
            add(count: n, at: index)
        } else {
            indices.append(index)
            counts.append(n)
        }
    }

    /// Version 2's header, and a reader at its first bucket; `nil` if the bytes
    /// are not a version-2 sketch's.
    private static func readVersion2Header(_ b: UnsafeRawBufferPointer)
        -> (count: UInt64, zeroCount: UInt64, max: Double, buckets: Int, reader: VarintReader)? {
        guard b.first == 2 else { return nil }
        var reader = VarintReader(bytes: b, offset: 1)
        guard let count = reader.next(), let zeroCount = reader.next(), reader.offset + 8 <= b.count else { return nil }
        let max = Double(bitPattern: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: reader.offset, as: UInt64.self)))
        reader.offset += 8
        // Each bucket takes at least two bytes: a count beyond that is not a sketch.
        guard let stored = reader.next(), stored <= UInt64(b.count - reader.offset) / 2 else { return nil }
        return (count, zeroCount, max, Int(stored), reader)
    }

    /// Reads `n` stored buckets, handing each non-empty one to `bucket` in stored
    /// order. Returns whether they all read; `bucket` may have seen some before a
    /// failure.
    @inline(__always)
    private static func readBuckets(_ n: Int, from reader: inout VarintReader, _ bucket: (Int32, UInt64) -> Void) -> Bool {
        var index: Int64 = 0
        let possible = storedIndices
        for _ in 0..<n {
            guard let zigzag = reader.next(), let binCount = reader.next() else { return false }
            index += Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)
            guard possible.contains(index) else { return false }
            if binCount > 0 { bucket(Int32(truncatingIfNeeded: index), binCount) }
        }
        return true
    }

    /// The indices a stored bucket can have: those of the values from
    /// `minIndexable` to the largest finite double. Anything else is damage, and
    /// refusing it bounds the dense array a ``Merger`` grows (~600 KB at most).
    static let storedIndices = Int64(index(of: minIndexable))...Int64(index(of: .greatestFiniteMagnitude))

    private static func parseVersion2(_ b: UnsafeRawBufferPointer) -> QuantileSketch? {
        guard let header = readVersion2Header(b) else { return nil }
        var reader = header.reader
        let n = header.buckets
        var sketch = QuantileSketch()
        sketch.count = header.count
        sketch.zeroCount = header.zeroCount
        sketch.max = header.max
        // Thousands of sketches are read per query: the buckets go straight into
        // the arrays' storage, in the order ``serialized`` writes them.
        var valid = true, ordered = true
        var counts: [UInt64] = []
        let indices = [Int32](unsafeUninitializedCapacity: n) { indexSlots, indicesWritten in
            counts = [UInt64](unsafeUninitializedCapacity: n) { countSlots, countsWritten in
                var written = 0, previous = Int32.min
                valid = readBuckets(n, from: &reader) { index, binCount in
                    if index <= previous { ordered = false }
                    previous = index
                    indexSlots[written] = index
                    countSlots[written] = binCount
                    written += 1
                }
                countsWritten = written
            }
            indicesWritten = counts.count
        }
        guard valid else { return nil }
        if ordered {
            sketch.indices = indices
            sketch.counts = counts
        } else {
            // Out of order or repeated (a form another writer might produce).
            for (index, n) in zip(indices, counts) { sketch.appendStored(count: n, at: index) }
        }
        return sketch
    }

    /// Merges many sketches as they are read, serialized ones without building
    /// each: a month's range percentiles read ~9k sketches, and building one
    /// (two new arrays) cost more than adding its buckets to one dense array.
    ///
    /// ```swift
    /// var merger = QuantileSketch.Merger()
    /// for bytes in storedSketches { merger.add(serialized: bytes) }
    /// let p95 = merger.merged.quantile(0.95)
    /// ```
    public struct Merger {
        private var count: UInt64 = 0, zeroCount: UInt64 = 0, max: Double = 0
        /// Counts of buckets `lowest`, `lowest + 1`, …; grown at either end as needed.
        private var lowest: Int32 = 0
        private var dense: [UInt64] = []

        public init() {}

        /// Adds a sketch in ``QuantileSketch/serialized`` form (or version 1).
        /// Bytes that are not a sketch add nothing, as an empty sketch would.
        public mutating func add(serialized bytes: UnsafeRawBufferPointer) {
            guard let header = QuantileSketch.readVersion2Header(bytes) else {
                // Rows written before version 2 hold version 1.
                if bytes.first == 1, let sketch = QuantileSketch.parseVersion1(bytes) { add(sketch) }
                return
            }
            // Two passes: the first checks that every bucket reads and finds the
            // lowest and highest index, so a damaged sketch adds nothing and the
            // dense array grows at most once; the second adds the counts. Reading
            // the varints twice costs less than keeping the buckets in between.
            var check = header.reader
            var low = Int32.max, high = Int32.min
            let valid = QuantileSketch.readBuckets(header.buckets, from: &check) { index, _ in
                low = Swift.min(low, index)
                high = Swift.max(high, index)
            }
            guard valid else { return }
            count += header.count
            zeroCount += header.zeroCount
            max = Swift.max(max, header.max)
            guard low <= high else { return }
            let base = cover(low, high)
            var reader = header.reader
            dense.withUnsafeMutableBufferPointer { dense in
                _ = QuantileSketch.readBuckets(header.buckets, from: &reader) { index, n in dense[Int(index) - base] += n }
            }
        }

        public mutating func add(_ sketch: QuantileSketch) {
            count += sketch.count
            zeroCount += sketch.zeroCount
            max = Swift.max(max, sketch.max)
            guard let low = sketch.indices.first, let high = sketch.indices.last else { return }
            let base = cover(low, high)
            dense.withUnsafeMutableBufferPointer { dense in
                for (index, n) in zip(sketch.indices, sketch.counts) { dense[Int(index) - base] += n }
            }
        }

        /// Grows the dense array to hold buckets `low...high`; returns the index of its first slot.
        private mutating func cover(_ low: Int32, _ high: Int32) -> Int {
            if dense.isEmpty {
                lowest = low
                dense = Array(repeating: 0, count: Int(high) - Int(low) + 1)
                return Int(low)
            }
            if low < lowest {
                dense.insert(contentsOf: repeatElement(0, count: Int(lowest) - Int(low)), at: 0)
                lowest = low
            }
            let needed = Int(high) - Int(lowest) + 1
            if needed > dense.count { dense.append(contentsOf: repeatElement(0, count: needed - dense.count)) }
            return Int(lowest)
        }

        /// Everything added, as one sketch.
        public var merged: QuantileSketch {
            var result = QuantileSketch()
            result.count = count
            result.zeroCount = zeroCount
            result.max = max
            for (offset, n) in dense.enumerated() where n > 0 {
                result.indices.append(lowest + Int32(offset))
                result.counts.append(n)
            }
            return result
        }
    }

    /// LEB128 varints from a byte buffer.
    private struct VarintReader {
        let bytes: UnsafeRawBufferPointer
        var offset: Int

        /// The next varint, or `nil` if the bytes end first or it overflows 64 bits.
        @inline(__always)
        mutating func next() -> UInt64? {
            // Most of a sketch's varints (index deltas, small counts) are one byte.
            if offset < bytes.count, bytes[offset] < 0x80 {
                defer { offset += 1 }
                return UInt64(bytes[offset])
            }
            return nextLong()
        }

        private mutating func nextLong() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while offset < bytes.count, shift < 64 {
                let byte = bytes[offset]
                offset += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
            return nil
        }
    }

    private static let headerSize = 29, binSize = 12

    /// Version 1: version, count, zeroCount, max, bucket count (29 bytes), then
    /// (Int32 index, UInt64 count) pairs, little-endian.
    private static func parseVersion1(_ b: UnsafeRawBufferPointer) -> QuantileSketch? {
        guard b.count >= headerSize else { return nil }
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
            let index = load(offset, as: Int32.self)
            guard storedIndices.contains(Int64(index)) else { return nil }
            sketch.appendStored(count: load(offset + 4, as: UInt64.self), at: index)
            offset += binSize
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
