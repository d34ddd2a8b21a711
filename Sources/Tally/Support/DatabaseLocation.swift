/// Which database a command works on, and where that choice came from.
///
/// The core never reads the environment itself: the command line passes its
/// flag and environment in, so precedence is testable.
public enum DatabaseLocation: Sendable, Hashable, CustomStringConvertible {
    /// An embedded SQLite file.
    case sqlite(path: String)
    /// A PostgreSQL server, as a `postgres://` URL.
    case postgres(url: String)

    /// The embedded default: `./tally.sqlite`.
    public static let defaultSQLitePath = "./tally.sqlite"

    /// The environment variables consulted, in order, after the `--database` flag.
    public static let environmentVariables = ["DATABASE_URL", "PLATFORM_DATABASE_URL"]

    /// Where the choice came from, for messages.
    public enum Source: Sendable, Hashable, CustomStringConvertible {
        case flag
        case environment(String)
        case defaultValue

        public var description: String {
            switch self {
            case .flag: "--database"
            case .environment(let name): name
            case .defaultValue: "default"
            }
        }
    }

    /// `--database`, else `DATABASE_URL`, else `PLATFORM_DATABASE_URL`, else the
    /// default SQLite file. Empty values count as unset.
    public static func resolve(flag: String?, environment: [String: String]) throws(DatabaseLocationError) -> (location: DatabaseLocation, source: Source) {
        if let flag, !flag.isEmpty { return (try DatabaseLocation(parsing: flag, source: .flag), .flag) }
        for name in environmentVariables {
            if let value = environment[name], !value.isEmpty {
                return (try DatabaseLocation(parsing: value, source: .environment(name)), .environment(name))
            }
        }
        return (.sqlite(path: defaultSQLitePath), .defaultValue)
    }

    /// Reads a URL or a path: `postgres://…`/`postgresql://…`, `sqlite:///abs/path`,
    /// `sqlite:relative/path`, `file:path`, or a plain file path.
    public init(parsing text: String, source: Source = .flag) throws(DatabaseLocationError) {
        let lowered = text.lowercased()
        if lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") {
            self = .postgres(url: text)
            return
        }
        for prefix in ["sqlite://", "sqlite:", "file://", "file:"] where lowered.hasPrefix(prefix) {
            let path = String(text.dropFirst(prefix.count))
            guard !path.isEmpty else { throw DatabaseLocationError(text: text, source: source, reason: "names no file") }
            self = .sqlite(path: path)
            return
        }
        if let schemeEnd = lowered.range(of: "://") {
            let scheme = lowered[..<schemeEnd.lowerBound]
            throw DatabaseLocationError(text: text, source: source, reason: "uses the scheme '\(scheme)', which Tally does not support")
        }
        self = .sqlite(path: text)
    }

    /// The location without credentials, for logs and messages.
    public var description: String {
        switch self {
        case .sqlite(let path): "SQLite file \(path)"
        case .postgres(let url): "PostgreSQL \(Self.redacted(url))"
        }
    }

    /// `postgres://user:secret@host/db?password=x` → `postgres://user:***@host/db?password=***`.
    public static func redacted(_ url: String) -> String {
        var text = url
        if let schemeEnd = text.range(of: "://"), let at = text[schemeEnd.upperBound...].lastIndex(of: "@"),
           let colon = text[schemeEnd.upperBound..<at].firstIndex(of: ":") {
            text = String(text[..<colon]) + ":***" + String(text[at...])
        }
        guard let query = text.firstIndex(of: "?") else { return text }
        let parameters = text[text.index(after: query)...].split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            let name = pair.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
            return ["password", "sslpassword", "pass", "secret"].contains(name.lowercased()) ? name + "=***" : String(pair)
        }
        return String(text[...query]) + parameters.joined(separator: "&")
    }
}

/// A database location that cannot be used, with what to do about it.
public struct DatabaseLocationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var text: String
    public var source: DatabaseLocation.Source
    public var reason: String

    public var description: String {
        "the database given by \(source) (\(DatabaseLocation.redacted(text))) \(reason). "
            + "Give a SQLite file path such as ./tally.sqlite, or a postgres://user@host:5432/dbname URL."
    }
}
