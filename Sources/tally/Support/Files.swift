#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file read in large chunks (or standard input), with errors that say which
/// file and what to do.
struct InputFile: Sendable {
    let path: String
    private let descriptor: Int32
    /// Its size in bytes; `nil` for standard input and pipes.
    let size: Int?

    /// Opens `path`, or standard input for `-`.
    init(path: String) throws {
        self.path = path
        if path == "-" {
            descriptor = 0
            size = nil
            return
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw CommandError("cannot read \(path): \(String(cString: strerror(errno))). Give the path of an NDJSON file, or - for standard input.")
        }
        var info = stat()
        let isRegular = fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
        descriptor = fd
        size = isRegular ? Int(info.st_size) : nil
    }

    /// The next chunk, or `nil` at the end of the file.
    func nextChunk(upTo count: Int = 1 << 20) throws -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: count)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, count) }
            if n > 0 { chunk.removeSubrange(n...); return chunk }
            if n == 0 { return nil }
            if errno == EINTR { continue }
            throw CommandError("reading \(path) failed: \(String(cString: strerror(errno))). Check the file and run the import again: events already stored are skipped.")
        }
    }

    func finishReading() {
        if descriptor > 2 { _ = close(descriptor) }
    }
}

/// A file written next to its final path and renamed into place when complete,
/// so an interrupted export never leaves a file that looks whole; or standard
/// output for `-`.
struct OutputFile: Sendable {
    let path: String
    private let temporaryPath: String?
    private let descriptor: Int32

    init(path: String) throws {
        self.path = path
        if path == "-" {
            descriptor = 1
            temporaryPath = nil
            return
        }
        let temporary = path + ".partial"
        // Raw events are personal data: readable by their owner only.
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw CommandError("cannot write \(temporary): \(String(cString: strerror(errno))). Check that the directory exists and is writable, or give another --output.")
        }
        descriptor = fd
        temporaryPath = temporary
    }

    func append(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CommandError("writing \(path) failed: \(String(cString: strerror(errno))). Free some space or give another --output.")
            }
            offset += n
        }
    }

    /// Flushes to disk, closes, and renames the finished file into place; on a
    /// failure the unfinished file is removed.
    func commit() throws {
        guard let temporaryPath else { return }
        let synced = fsync(descriptor) == 0
        let closed = close(descriptor) == 0
        guard synced, closed, rename(temporaryPath, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporaryPath)
            throw CommandError("finishing \(path) failed: \(reason). Free some space or give another --output, and export again.")
        }
    }

    /// Closes and removes the unfinished file (before ``commit()`` only).
    func discard() {
        guard let temporaryPath else { return }
        _ = close(descriptor)
        unlink(temporaryPath)
    }
}
