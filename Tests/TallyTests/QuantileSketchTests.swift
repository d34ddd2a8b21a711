@testable import Tally
import TallyTesting
import Testing

@Suite("Quantile sketch")
struct QuantileSketchTests {
    /// Latency-like values: many small, a long tail, some zeros.
    static func values(count: Int, seed: UInt64) -> [Double] {
        var random = SeededGenerator(seed: seed)
        return (0..<count).map { n in
            n % 50 == 0 ? 0 : Double.random(in: 0...1, using: &random) < 0.9
                ? Double.random(in: 1...200, using: &random) : Double.random(in: 200...30_000, using: &random)
        }
    }

    @Test("merging sketches pairwise, all at once, or adding every value gives the same sketch")
    func mergesAgree() {
        let parts = (0..<24).map { Self.values(count: 500 + $0 * 37, seed: UInt64($0)) }
        var whole = QuantileSketch()
        for value in parts.joined() { whole.add(value) }
        let sketches = parts.map { part in
            var sketch = QuantileSketch()
            for value in part { sketch.add(value) }
            return sketch
        }
        var pairwise = QuantileSketch()
        for sketch in sketches { pairwise.merge(sketch) }
        #expect(pairwise == whole)
        #expect(QuantileSketch.merged(sketches) == whole)
        #expect(QuantileSketch.merged([QuantileSketch]()) == QuantileSketch())
        #expect(whole.indices == whole.indices.sorted())
        #expect(!whole.counts.contains(0))
        #expect(whole.bins.values.reduce(0, +) + whole.zeroCount == whole.count)
    }

    @Test("a Merger of serialized sketches (either version, some not sketches at all) gives what merging the parsed ones gives")
    func mergerOfSerializedAgrees() throws {
        let parts = (0..<40).map { Self.values(count: $0 == 3 ? 0 : 200 + $0 * 53, seed: UInt64(100 + $0)) }
        let sketches = parts.map { part in
            var sketch = QuantileSketch()
            for value in part { sketch.add(value) }
            return sketch
        }
        var merger = QuantileSketch.Merger()
        for (n, sketch) in sketches.enumerated() {
            // Every fourth as the fixed-width version 1, as rows written before version 2 hold it.
            let bytes = n % 4 == 1 ? Self.version1(sketch) : sketch.serialized
            bytes.withUnsafeBytes { merger.add(serialized: $0) }
        }
        for garbage: [UInt8] in [[], [9, 1, 2], [2, 5], Array(sketches[5].serialized.dropLast(3))] {
            garbage.withUnsafeBytes { merger.add(serialized: $0) }
        }
        #expect(merger.merged == QuantileSketch.merged(sketches))
        #expect(merger.merged.count == UInt64(parts.joined().count))
        #expect(QuantileSketch.Merger().merged == QuantileSketch())
    }

    @Test("quantiles stay within 1% of the exact percentile_cont of the values")
    func accuracy() throws {
        let values = Self.values(count: 20_000, seed: 7)
        var sketch = QuantileSketch()
        for value in values { sketch.add(value) }
        let sorted = values.sorted()
        for q in [0.5, 0.9, 0.95, 0.99] {
            let exact = try #require(Percentile.continuous(q, sorted: sorted))
            let estimate = try #require(sketch.quantile(q))
            #expect(abs(estimate - exact) <= 0.01 * exact, "q \(q): \(estimate) vs \(exact)")
        }
    }

    @Test("the serialized form reads back equal, at about 2 bytes a bucket; anything else is refused")
    func serializedRoundTrip() throws {
        var sketch = QuantileSketch()
        for value in Self.values(count: 3_000, seed: 3) { sketch.add(value) }
        let bytes = sketch.serialized
        #expect(bytes.first == 2)
        #expect(QuantileSketch(serialized: bytes) == sketch)
        #expect(bytes.count <= 16 + 3 * sketch.indices.count, "\(bytes.count) bytes for \(sketch.indices.count) buckets")
        // Read from a slice too (a bytea column arrives as part of a larger buffer).
        #expect(QuantileSketch(serialized: ([9, 9] + bytes + [9]).dropFirst(2).dropLast()) == sketch)

        // Truncated at any point, or of an unknown version: not a sketch.
        for length in [0, 1, 5, 10, bytes.count / 2, bytes.count - 1] {
            #expect(QuantileSketch(serialized: bytes.prefix(length)) == nil, "\(length) bytes")
        }
        #expect(QuantileSketch(serialized: [3] + bytes.dropFirst()) == nil)
    }

    @Test("a stored bucket no value can fall in (damage) makes the bytes not a sketch, and a Merger skips them; the extreme values still read")
    func refusesImpossibleBuckets() throws {
        var extremes = QuantileSketch()
        for value in [2e-9, 1.0, Double.greatestFiniteMagnitude] { extremes.add(value) }
        #expect(QuantileSketch(serialized: extremes.serialized) == extremes)
        #expect(QuantileSketch(serialized: Self.version1(extremes)) == extremes)

        // One bucket at index 100,000: past the largest double's (about 71,000).
        let farIndex: UInt64 = 100_000
        let version2: [UInt8] = [2, 1, 0] + le(1.0.bitPattern) + [1] + varint(farIndex << 1) + [1]
        let version1 = [UInt8(1)] + le(UInt64(1)) + le(UInt64(0)) + le(1.0.bitPattern) + le(UInt32(1))
            + le(Int32(farIndex)) + le(UInt64(1))
        for bytes in [version2, version1] {
            #expect(QuantileSketch(serialized: bytes) == nil, "version \(bytes[0])")
            var merger = QuantileSketch.Merger()
            merger.add(extremes)
            bytes.withUnsafeBytes { merger.add(serialized: $0) }
            #expect(merger.merged == extremes, "version \(bytes[0])")
        }
    }

    @Test("a sketch read from storage (kept as its bytes until changed) answers, hashes, merges and changes as the one written")
    func readSketchBehavesAsWritten() throws {
        var written = QuantileSketch()
        for value in Self.values(count: 2_000, seed: 5) { written.add(value) }
        let read = try #require(QuantileSketch(serialized: written.serialized))
        #expect(read.stored != nil, "kept as its bytes")
        #expect(read == written && written == read)
        #expect(read.hashValue == written.hashValue)
        #expect(Set([read, written]).count == 1)
        #expect(read.serialized == written.serialized)
        #expect(read.indices == written.indices && read.counts == written.counts && read.bins == written.bins)
        for q in [0, 0.25, 0.5, 0.95, 0.99, 1] { #expect(read.quantile(q) == written.quantile(q), "q \(q)") }

        var other = QuantileSketch()
        for value in Self.values(count: 500, seed: 6) { other.add(value) }
        var mergedIntoRead = read, mergedIntoWritten = written
        mergedIntoRead.merge(other)
        mergedIntoWritten.merge(other)
        #expect(mergedIntoRead == mergedIntoWritten)
        var otherMergingRead = other
        otherMergingRead.merge(read)
        #expect(otherMergingRead == mergedIntoWritten)
        #expect(QuantileSketch.merged([read, other]) == mergedIntoWritten)

        var changedRead = read, changedWritten = written
        for value in [0, 0.5, 1e6] { changedRead.add(value); changedWritten.add(value) }
        #expect(changedRead.stored == nil, "decoded once changed")
        #expect(changedRead == changedWritten)
        #expect(changedRead != read)
        #expect(try #require(QuantileSketch(serialized: changedRead.serialized)) == changedWritten)

        // A zero changes only the header's counts, no bucket: the stored bytes must
        // not be what is written or merged afterwards.
        var zeroRead = read, zeroWritten = written
        zeroRead.add(0)
        zeroWritten.add(0)
        #expect(try #require(QuantileSketch(serialized: zeroRead.serialized)) == zeroWritten)
        #expect(QuantileSketch.merged([zeroRead]) == zeroWritten)
    }

    @Test("a bucket index delta that would overflow is damage, not a crash, for the parser and the Merger")
    func overflowingDeltaIsRefused() {
        // Two buckets: index 100, then a delta of Int64.max (zigzag UInt64.max - 1).
        let bytes: [UInt8] = [2, 2, 0] + le(1.0.bitPattern) + [2] + varint(200) + [1] + varint(UInt64.max - 1) + [1]
        #expect(QuantileSketch(serialized: bytes) == nil)
        var merger = QuantileSketch.Merger()
        bytes.withUnsafeBytes { merger.add(serialized: $0) }
        #expect(merger.merged == QuantileSketch())
    }

    /// The fixed-width version 1 of `sketch`: header, then its buckets in the order given.
    static func version1(_ sketch: QuantileSketch, reversed: Bool = false, droppingLast: Bool = false) -> [UInt8] {
        let header = [UInt8(1)] + le(sketch.count) + le(sketch.zeroCount) + le(sketch.max.bitPattern) + le(UInt32(sketch.indices.count))
        var bins = zip(sketch.indices, sketch.counts).map { le($0.0) + le($0.1) }
        if reversed { bins.reverse() }
        if droppingLast { bins.removeLast() }
        return header + bins.joined()
    }

    @Test("rows written in version 1 (fixed-width buckets) still read, even with their buckets out of order")
    func readsVersion1() throws {
        var sketch = QuantileSketch()
        for value in Self.values(count: 3_000, seed: 4) { sketch.add(value) }
        #expect(QuantileSketch(serialized: Self.version1(sketch)) == sketch)
        #expect(QuantileSketch(serialized: Self.version1(sketch, reversed: true)) == sketch)
        #expect(QuantileSketch(serialized: Self.version1(sketch, droppingLast: true)) == nil)
    }
}

/// Little-endian bytes of an integer, as version 1 and the `max` field store them.
private func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

/// A LEB128 varint, as version 2 stores counts and (zigzagged) index deltas.
private func varint(_ value: UInt64) -> [UInt8] {
    var value = value, out: [UInt8] = []
    while value >= 0x80 {
        out.append(UInt8(truncatingIfNeeded: value) | 0x80)
        value >>= 7
    }
    return out + [UInt8(value)]
}
