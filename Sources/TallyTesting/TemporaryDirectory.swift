import Foundation

/// A fresh directory under the system's temporary directory, for tests that need
/// real files. Remove it with ``remove()`` (a `defer` right after creating it).
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(prefix: String = "tally-test") throws {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/\(prefix)-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A path inside the directory.
    public func file(_ name: String) -> String { "\(path)/\(name)" }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
