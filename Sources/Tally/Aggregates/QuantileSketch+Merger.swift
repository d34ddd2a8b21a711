extension QuantileSketch {
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
            // Wrapping adds here and below: only damaged counts could overflow,
            // and a range query must not trap on one bad row.
            count &+= header.count
            zeroCount &+= header.zeroCount
            max = Swift.max(max, header.max)
            guard low <= high else { return }
            let base = cover(low, high)
            var reader = header.reader
            dense.withUnsafeMutableBufferPointer { dense in
                _ = QuantileSketch.readBuckets(header.buckets, from: &reader) { index, n in dense[Int(index) - base] &+= n }
            }
        }

        public mutating func add(_ sketch: QuantileSketch) {
            if let bytes = sketch.stored {
                bytes.withUnsafeBytes { add(serialized: $0) }
                return
            }
            count &+= sketch.count
            zeroCount &+= sketch.zeroCount
            max = Swift.max(max, sketch.max)
            let (indices, counts) = (sketch.decodedIndices, sketch.decodedCounts)
            guard let low = indices.first, let high = indices.last else { return }
            let base = cover(low, high)
            dense.withUnsafeMutableBufferPointer { dense in
                for (index, n) in zip(indices, counts) { dense[Int(index) - base] &+= n }
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
                result.decodedIndices.append(lowest + Int32(offset))
                result.decodedCounts.append(n)
            }
            return result
        }
    }
}
