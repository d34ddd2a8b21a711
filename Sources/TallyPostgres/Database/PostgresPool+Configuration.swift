import PostgresNIO
import Tally

extension PostgresPool {
    /// Where the server is and how to talk to it.
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var username: String
        public var password: String?
        public var database: String
        /// `disable`, `prefer` or `require`, as libpq's `sslmode`. Defaults to `prefer`.
        public var tlsMode: TLSMode = .prefer
        /// The most connections the pool opens. Defaults to 10.
        public var maximumConnections = 10
        /// How long to wait for a connection to open. Defaults to 10 s.
        public var connectTimeout: Duration = .seconds(10)

        public enum TLSMode: String, Sendable, CaseIterable {
            case disable, prefer, require
        }

        public init(host: String, port: Int = 5432, username: String, password: String?, database: String) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
        }

        /// Reads `postgres://user:password@host:port/database?sslmode=disable`
        /// (or `postgresql://`). The user defaults to `postgres`, the port to 5432,
        /// the database to the user's name.
        ///
        /// - Throws: ``PostgresStoreError`` with code `invalidURL`, saying what is wrong.
        public init(url text: String) throws(PostgresStoreError) {
            func invalid(_ reason: String) -> PostgresStoreError {
                PostgresStoreError(code: .invalidURL, database: DatabaseLocation.redacted(text), message: """
                    the PostgreSQL URL \(DatabaseLocation.redacted(text)) \(reason); \
                    write it as postgres://user:password@host:5432/database
                    """)
            }
            var rest = Substring(text)
            guard let schemeEnd = rest.range(of: "://") else { throw invalid("has no scheme") }
            let scheme = rest[..<schemeEnd.lowerBound].lowercased()
            guard scheme == "postgres" || scheme == "postgresql" else { throw invalid("does not start with postgres://") }
            rest = rest[schemeEnd.upperBound...]
            var query: Substring = ""
            if let mark = rest.firstIndex(of: "?") {
                query = rest[rest.index(after: mark)...]
                rest = rest[..<mark]
            }
            var path: Substring = ""
            if let slash = rest.firstIndex(of: "/") {
                path = rest[rest.index(after: slash)...]
                rest = rest[..<slash]
            }
            var username = "postgres"
            var password: String?
            if let at = rest.lastIndex(of: "@") {
                let credentials = rest[..<at]
                rest = rest[rest.index(after: at)...]
                if let colon = credentials.firstIndex(of: ":") {
                    username = Self.percentDecoded(credentials[..<colon])
                    password = Self.percentDecoded(credentials[credentials.index(after: colon)...])
                } else {
                    username = Self.percentDecoded(credentials)
                }
            }
            var host = String(rest)
            var port = 5432
            if host.hasPrefix("[") {
                guard let close = host.firstIndex(of: "]") else { throw invalid("has an unclosed [ in its host") }
                let after = host[host.index(after: close)...]
                if after.hasPrefix(":") {
                    guard let value = Int(after.dropFirst()), (1...65_535).contains(value) else { throw invalid("has an invalid port") }
                    port = value
                }
                host = String(host[host.index(after: host.startIndex)..<close])
            } else if let colon = host.lastIndex(of: ":") {
                guard let value = Int(host[host.index(after: colon)...]), (1...65_535).contains(value) else {
                    throw invalid("has an invalid port")
                }
                port = value
                host = String(host[..<colon])
            }
            if host.isEmpty { host = "localhost" }
            let database = path.isEmpty ? username : Self.percentDecoded(path)
            self.init(host: host, port: port, username: username, password: password, database: database)
            for pair in query.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { continue }
                switch parts[0] {
                case "sslmode":
                    switch parts[1] {
                    case "disable", "allow": tlsMode = .disable
                    case "prefer": tlsMode = .prefer
                    case "require", "verify-ca", "verify-full": tlsMode = .require
                    default: throw invalid("has sslmode=\(parts[1]); use disable, prefer or require")
                    }
                case "password":
                    password = Self.percentDecoded(Substring(parts[1]))
                case "user":
                    username = Self.percentDecoded(Substring(parts[1]))
                default:
                    continue
                }
            }
        }

        /// The same server, another database (tests create one each).
        public func with(database: String) -> Configuration {
            var copy = self
            copy.database = database
            return copy
        }

        /// `PostgreSQL tally@db.internal:5432/tally`: never the password.
        public var displayName: String {
            "PostgreSQL \(username)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
        }

        var client: PostgresClient.Configuration {
            let tls: PostgresClient.Configuration.TLS = switch tlsMode {
            case .disable: .disable
            case .prefer: .prefer(.makeClientConfiguration())
            case .require: .require(.makeClientConfiguration())
            }
            var configuration = PostgresClient.Configuration(
                host: host, port: port, username: username, password: password, database: database, tls: tls)
            configuration.options.maximumConnections = maximumConnections
            configuration.options.connectTimeout = connectTimeout
            configuration.options.keepAliveBehavior = nil
            return configuration
        }

        private static func percentDecoded(_ text: Substring) -> String {
            var bytes: [UInt8] = []
            var utf8 = Array(text.utf8)[...]
            while let byte = utf8.popFirst() {
                if byte == UInt8(ascii: "%"), utf8.count >= 2,
                   let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                    bytes.append(value)
                    utf8 = utf8.dropFirst(2)
                } else {
                    bytes.append(byte)
                }
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}
