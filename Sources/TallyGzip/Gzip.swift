import CZlib

/// gzip (RFC 1952) with the system zlib: request bodies to the collector are
/// compressed, as Segment's ingest accepts, which typically shrinks a batch of
/// JSON events five- to tenfold on a metered mobile connection.
///
/// ```swift
/// let body = try Gzip.compress(Array(json.utf8))
/// let back = try Gzip.decompress(body)   // == Array(json.utf8)
/// ```
public enum Gzip {
    /// zlib's window bits for a 32 KiB window; adding 16 selects the gzip wrapper
    /// (header and CRC-32) instead of the raw zlib one.
    private static let gzipWindowBits: Int32 = 15 + 16
    private static let memoryLevel: Int32 = 8

    /// Compresses `bytes` into one gzip member.
    ///
    /// - Parameters:
    ///   - bytes: The data to compress; may be empty.
    ///   - level: 0 (store only) to 9 (smallest, slowest). Defaults to 6, zlib's
    ///     own default and a good trade-off for JSON on a phone's CPU.
    /// - Throws: ``GzipError`` when zlib cannot start or fails.
    public static func compress(_ bytes: [UInt8], level: Int = 6) throws(GzipError) -> [UInt8] {
        var stream = z_stream()
        let initStatus = deflateInit2_(
            &stream, Int32(max(0, min(9, level))), Z_DEFLATED, gzipWindowBits, memoryLevel, Z_DEFAULT_STRATEGY,
            zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else {
            throw GzipError(code: .initializationFailed, zlibStatus: initStatus, zlibMessage: message(of: stream))
        }
        defer { deflateEnd(&stream) }

        // deflateBound (called after init, so it counts the gzip wrapper) is large
        // enough for one Z_FINISH call to complete.
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))))
        var input = bytes
        let status = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = uInt(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = uInt(outBuffer.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else {
            throw GzipError(code: .compressionFailed, zlibStatus: status, zlibMessage: message(of: stream))
        }
        output.removeLast(output.count - Int(stream.total_out))
        return output
    }

    /// Decompresses gzip data (one member, as ``compress(_:level:)`` writes).
    ///
    /// - Parameters:
    ///   - bytes: The gzip data.
    ///   - maxOutputBytes: The most it may decompress to, so that hostile input
    ///     cannot exhaust memory. Defaults to 64 MiB.
    /// - Throws: ``GzipError`` saying whether the input is corrupt, cut off or too large.
    public static func decompress(_ bytes: [UInt8], maxOutputBytes: Int = 64 << 20) throws(GzipError) -> [UInt8] {
        var stream = z_stream()
        let initStatus = inflateInit2_(&stream, gzipWindowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else {
            throw GzipError(code: .initializationFailed, zlibStatus: initStatus, zlibMessage: message(of: stream))
        }
        defer { inflateEnd(&stream) }

        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var input = bytes
        var status = Z_OK
        input.withUnsafeMutableBufferPointer { inBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = uInt(inBuffer.count)
            repeat {
                let produced = chunk.withUnsafeMutableBufferPointer { outBuffer in
                    stream.next_out = outBuffer.baseAddress
                    stream.avail_out = uInt(outBuffer.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return outBuffer.count - Int(stream.avail_out)
                }
                output.append(contentsOf: chunk[0..<produced])
                // Z_BUF_ERROR with input left means "no progress possible": stop and report.
            } while status == Z_OK && output.count <= maxOutputBytes
        }
        if output.count > maxOutputBytes {
            throw GzipError(code: .outputTooLarge)
        }
        switch status {
        case Z_STREAM_END:
            return output
        case Z_BUF_ERROR:
            throw GzipError(code: .truncatedInput, zlibStatus: status)
        case Z_MEM_ERROR:
            throw GzipError(code: .initializationFailed, zlibStatus: status, zlibMessage: message(of: stream))
        default:
            throw GzipError(code: .corruptInput, zlibStatus: status, zlibMessage: message(of: stream))
        }
    }

    private static func message(of stream: z_stream) -> String? {
        stream.msg.map { String(cString: $0) }
    }
}
