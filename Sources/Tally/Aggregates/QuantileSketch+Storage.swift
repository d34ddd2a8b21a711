/// The stored form of a ``QuantileSketch``: a BLOB/bytea column of every
/// aggregate bucket that has percentiles.
extension QuantileSketch {
    /// A compact binary form (version 2): the version byte, then `count`,
    /// `zeroCount` as LEB128 varints, `max` as 8 bytes little-endian, the number
    /// of buckets as a varint, and each bucket as the zigzag varint of its index's
    /// distance from the previous one and the varint of its count. Neighbouring
    /// buckets are 1 apart and most counts are small, so a bucket takes about 2
    /// bytes; version 1 (still read) spent 12. A month of hourly rows is thousands
    /// of sketches read per query, and at 12 bytes a bucket most were over
    /// PostgreSQL's 2 kB TOAST threshold, compressed and decompressed on every read.
    public var serialized: [UInt8] {
        if let stored { return stored }
        var out: [UInt8] = [2]
        out.reserveCapacity(16 + decodedIndices.count * 3)
        Self.putVarint(count, to: &out)
        Self.putVarint(zeroCount, to: &out)
        withUnsafeBytes(of: max.bitPattern.littleEndian) { out.append(contentsOf: $0) }
        Self.putVarint(UInt64(decodedIndices.count), to: &out)
        var previous: Int64 = 0
        for (index, n) in zip(decodedIndices, decodedCounts) {
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

    /// Version 2's header, and a reader at its first bucket; `nil` if the bytes
    /// are not a version-2 sketch's.
    static func readVersion2Header(_ b: UnsafeRawBufferPointer)
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
    static func readBuckets(_ n: Int, from reader: inout VarintReader, _ bucket: (Int32, UInt64) -> Void) -> Bool {
        var index: Int64 = 0
        let possible = storedIndices
        for _ in 0..<n {
            guard let zigzag = reader.next(), let binCount = reader.next() else { return false }
            // Wrapping: a damaged delta must not trap; a wrapped index lands
            // outside the possible ones and is refused just below.
            index &+= Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)
            guard possible.contains(index) else { return false }
            if binCount > 0 { bucket(Int32(truncatingIfNeeded: index), binCount) }
        }
        return true
    }

    /// The indices a stored bucket can have: those of the values from
    /// `minIndexable` to the largest finite double. Anything else is damage, and
    /// refusing it bounds the dense array a ``Merger`` grows (~600 KB at most).
    static let storedIndices = Int64(index(of: minIndexable))...Int64(index(of: .greatestFiniteMagnitude))

    /// Version 2, checked in one pass. Bytes in the canonical form (ascending
    /// buckets, none empty, nothing after the last), which is what ``serialized``
    /// writes, are kept as they are (see `stored`); any other readable form is
    /// decoded now.
    private static func parseVersion2(_ b: UnsafeRawBufferPointer) -> QuantileSketch? {
        guard let header = readVersion2Header(b) else { return nil }
        var reader = header.reader
        var ascending = true, previous = Int32.min, occupied = 0
        let valid = readBuckets(header.buckets, from: &reader) { index, _ in
            if index <= previous { ascending = false }
            previous = index
            occupied += 1
        }
        guard valid else { return nil }
        var sketch = QuantileSketch()
        sketch.count = header.count
        sketch.zeroCount = header.zeroCount
        sketch.max = header.max
        guard occupied > 0 else { return sketch }
        if ascending, occupied == header.buckets, reader.offset == b.count {
            sketch.stored = Array(b)
        } else {
            // Out of order, repeated or padded: a form another writer might produce.
            var reader = header.reader
            _ = readBuckets(header.buckets, from: &reader) { sketch.appendStored(count: $1, at: $0) }
        }
        return sketch
    }

    /// The buckets of canonical version-2 bytes (`stored`).
    static func decodeBuckets(_ bytes: [UInt8]) -> (indices: [Int32], counts: [UInt64]) {
        var indices: [Int32] = [], counts: [UInt64] = []
        bytes.withUnsafeBytes { b in
            guard let header = readVersion2Header(b) else { return }
            indices.reserveCapacity(header.buckets)
            counts.reserveCapacity(header.buckets)
            var reader = header.reader
            _ = readBuckets(header.buckets, from: &reader) { index, n in
                indices.append(index)
                counts.append(n)
            }
        }
        return (indices, counts)
    }

    /// Adds a bucket read from storage: in order, appended; out of order (a form
    /// another writer might produce), placed where it belongs.
    private mutating func appendStored(count n: UInt64, at index: Int32) {
        guard n > 0 else { return }
        if let last = decodedIndices.last, last >= index {
            add(count: n, at: index)
        } else {
            decodedIndices.append(index)
            decodedCounts.append(n)
        }
    }

    /// LEB128 varints from a byte buffer.
    struct VarintReader {
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
    static func parseVersion1(_ b: UnsafeRawBufferPointer) -> QuantileSketch? {
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
        sketch.decodedIndices.reserveCapacity(n)
        sketch.decodedCounts.reserveCapacity(n)
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
