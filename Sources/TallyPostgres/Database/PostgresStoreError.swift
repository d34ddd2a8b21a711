import PostgresNIO
import Tally

/// Why a PostgreSQL operation failed, with what to do about it.
///
/// `description` never includes bound values (event data) nor credentials; the
/// server's full report, which may quote a value, is in `debugDescription`.
public struct PostgresStoreError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case invalidURL, unreachable, authenticationFailed, databaseMissing, notMigrated, rejected, failed
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// The URL cannot be read.
        public static let invalidURL = Code(.invalidURL)
        /// No server answered at the host and port.
        public static let unreachable = Code(.unreachable)
        /// The server refused the user or the password.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// The server has no database of that name.
        public static let databaseMissing = Code(.databaseMissing)
        /// The Tally schema is missing: the database was never migrated.
        public static let notMigrated = Code(.notMigrated)
        /// The server refused a value or a statement (a constraint, a type, a syntax error).
        public static let rejected = Code(.rejected)
        public static let failed = Code(.failed)
        public var description: String { base.rawValue }
    }

    public var code: Code
    /// The database's display name (no credentials).
    public var database: String
    public var message: String
    /// The SQLSTATE the server sent, e.g. `42P01`.
    public var sqlState: String?
    /// The server's detail, which may quote values: only in `debugDescription`.
    var serverDetail: String?

    public init(code: Code, database: String, message: String, sqlState: String? = nil) {
        self.code = code
        self.database = database
        self.message = message
        self.sqlState = sqlState
    }

    public var description: String { message }

    public var debugDescription: String {
        message + (serverDetail.map { " (detail: \($0))" } ?? "")
    }

    /// Translates postgres-nio's error into one line that says what to do.
    init(_ error: PSQLError, database configuration: PostgresPool.Configuration) {
        let name = configuration.displayName
        let server = "\(configuration.host):\(configuration.port)"
        self.database = name
        if let info = error.serverInfo {
            let state = info[.sqlState] ?? ""
            let serverMessage = info[.message] ?? "unknown error"
            self.sqlState = state
            self.serverDetail = info[.detail]
            switch state {
            case "28P01", "28000":
                code = .authenticationFailed
                message = """
                    PostgreSQL at \(server) refused user '\(configuration.username)' (\(serverMessage)): \
                    check the user name and password in the database URL
                    """
            case "3D000":
                code = .databaseMissing
                message = """
                    PostgreSQL at \(server) has no database '\(configuration.database)': create it \
                    (createdb -h \(configuration.host) -p \(configuration.port) \(configuration.database)) \
                    or fix the database name in the URL
                    """
            case "42P01":
                code = .notMigrated
                message = """
                    \(name) has no Tally schema (\(serverMessage)): run `tally migrate all` on it first
                    """
            default:
                // Classes 22 (data exception) and 23 (integrity constraint) quote the
                // offending value in their message: keep it for debugDescription.
                if state.hasPrefix("22") || state.hasPrefix("23") {
                    code = .rejected
                    message = "\(name) rejected a value (SQLSTATE \(state)); nothing of that statement was stored"
                    serverDetail = serverMessage + (info[.detail].map { "; \($0)" } ?? "")
                } else {
                    code = state.hasPrefix("42") ? .rejected : .failed
                    message = "\(name): \(serverMessage) (SQLSTATE \(state))"
                }
            }
            return
        }
        self.sqlState = nil
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .uncleanShutdown:
            let reason = error.underlying.map { Self.summary(of: $0) } ?? error.code.description
            code = .unreachable
            message = """
                cannot reach PostgreSQL at \(server) (\(reason)): check that the server is running and \
                accepts TCP connections there, and the host and port of the database URL
                """
        case .authMechanismRequiresPassword:
            code = .authenticationFailed
            message = """
                PostgreSQL at \(server) asks user '\(configuration.username)' for a password and the \
                database URL has none: add it, as postgres://user:password@host/database
                """
        case .sslUnsupported:
            code = .unreachable
            message = "PostgreSQL at \(server) does not offer TLS, and the URL requires it: use sslmode=prefer or enable TLS on the server"
        default:
            code = .failed
            message = "\(name): \(error.code)\(error.underlying.map { " (\(Self.summary(of: $0)))" } ?? "")"
        }
    }

    /// An underlying network error in a few words: NIO's own descriptions nest
    /// several structures.
    private static func summary(of error: any Error) -> String {
        let text = String(describing: error)
        let lower = text.lowercased()
        if lower.contains("connection refused") { return "connection refused" }
        if lower.contains("timeout") || lower.contains("timed out") { return "connection timed out" }
        if lower.contains("socketaddresserror") || lower.contains("unknown(host") { return "the host name does not resolve" }
        if lower.contains("network is unreachable") || lower.contains("no route to host") { return "no route to the host" }
        if lower.contains("connection reset") { return "the connection was reset" }
        return text.count > 160 ? String(text.prefix(160)) + "…" : text
    }
}
