/// Why gzip compression or decompression failed.
///
/// ```swift
/// do { _ = try Gzip.decompress(bytes) } catch { print(error) }
/// // "gzip: the input is not gzip data or is corrupt (zlib: incorrect header check)"
/// ```
public struct GzipError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable, Hashable {
            case initializationFailed = "initialization_failed"
            case compressionFailed = "compression_failed"
            case corruptInput = "corrupt_input"
            case truncatedInput = "truncated_input"
            case outputTooLarge = "output_too_large"
        }

        fileprivate let base: Base
        private init(_ base: Base) { self.base = base }

        /// zlib refused to start (out of memory, or a mismatched zlib library).
        public static let initializationFailed = Code(.initializationFailed)
        /// zlib failed while compressing.
        public static let compressionFailed = Code(.compressionFailed)
        /// The input is not gzip data, or its checksum does not match.
        public static let corruptInput = Code(.corruptInput)
        /// The input ends before the gzip stream does.
        public static let truncatedInput = Code(.truncatedInput)
        /// Decompressing would exceed the caller's limit (a "zip bomb" guard).
        public static let outputTooLarge = Code(.outputTooLarge)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// zlib's return code (`Z_DATA_ERROR` is -3, `Z_MEM_ERROR` -4, …), when zlib reported one.
    public var zlibStatus: Int32?
    /// zlib's own message, when it gave one.
    public var zlibMessage: String?

    public init(code: Code, zlibStatus: Int32? = nil, zlibMessage: String? = nil) {
        self.code = code
        self.zlibStatus = zlibStatus
        self.zlibMessage = zlibMessage
    }

    public var description: String {
        let what: String = switch code.base {
        case .initializationFailed: "zlib could not be initialised (out of memory or an incompatible zlib)"
        case .compressionFailed: "compression failed"
        case .corruptInput: "the input is not gzip data or is corrupt"
        case .truncatedInput: "the input ends before the gzip stream does; it was cut off"
        case .outputTooLarge: "the decompressed data exceeds the allowed size"
        }
        var text = "gzip: \(what)"
        if let zlibMessage { text += " (zlib: \(zlibMessage))" } else if let zlibStatus { text += " (zlib status \(zlibStatus))" }
        return text
    }
}
