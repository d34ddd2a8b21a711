import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization
import Tally

/// One PostgreSQL database opened for Tally: a `PostgresClient` and its
/// connection pool.
///
/// The database is a ServiceLifecycle `Service`: add it to the `ServiceGroup`
/// before the services that use it (the worker, the lifecycle job), so it starts
/// first and closes last. For a command or a test, ``withRunning(_:logger:_:)``
/// runs it around a closure.
///
/// ```swift
/// let configuration = try PostgresPool.Configuration(url: "postgres://tally@localhost/tally")
/// try await PostgresPool.withRunning(configuration) { database in
///     try await PostgresEventStore(database: database).write(batch)
/// }
/// ```
public final class PostgresPool: Service, Sendable {
    public let configuration: Configuration
    let client: PostgresClient
    let logger: Logger
    /// Whether a caller of ``withConnectionPair(_:)`` holds two connections now.
    private let pairLeased = Mutex(false)

    /// Creates the client; nothing connects until ``run()`` runs and a query is made.
    public init(configuration: Configuration, logger: Logger = Logger(label: "tally.postgres")) {
        self.configuration = configuration
        self.logger = logger
        self.client = PostgresClient(configuration: configuration.client, backgroundLogger: logger)
    }

    /// Runs the connection pool until the task is cancelled or a graceful shutdown
    /// is triggered. Queries made before it runs wait for it.
    public func run() async throws {
        await client.run()
    }

    /// Opens one connection and closes it: fails at once, with a
    /// ``PostgresStoreError`` that says what to do, when the server is unreachable,
    /// refuses the credentials or has no such database. (The pool instead retries
    /// for a minute before giving up, which suits a long-running service.)
    public static func checkConnection(_ configuration: Configuration, logger: Logger = Logger(label: "tally.postgres")) async throws {
        let tls: PostgresConnection.Configuration.TLS = switch configuration.tlsMode {
        case .disable: .disable
        case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var connectionConfiguration = PostgresConnection.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database, tls: tls)
        connectionConfiguration.options.connectTimeout = .seconds(configuration.connectTimeout.components.seconds)
        do {
            let connection = try await PostgresConnection.connect(configuration: connectionConfiguration, id: 0, logger: logger)
            try await connection.close()
        } catch let error as PSQLError {
            throw PostgresStoreError(error, database: configuration)
        }
    }

    /// Runs `database`'s pool for the duration of `body`, then closes it.
    ///
    /// - Parameter check: first ``checkConnection(_:logger:)``, so a bad URL fails
    ///   at once with a clear message. Defaults to true.
    public static func withRunning<Result: Sendable>(
        _ configuration: Configuration,
        logger: Logger = Logger(label: "tally.postgres"),
        check: Bool = true,
        _ body: @Sendable (PostgresPool) async throws -> Result
    ) async throws -> Result {
        if check { try await checkConnection(configuration, logger: logger) }
        let database = PostgresPool(configuration: configuration, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            // postgres-nio warns when a connection is leased before `run()` has
            // started. `run()` marks the client running before its first
            // suspension, and an immediate task runs on this thread up to that
            // suspension, so by the time `body` runs the client is running.
            if #available(macOS 26.0, iOS 26.0, *) {
                group.addImmediateTask { try await database.run() }
            } else {
                let (started, continuation) = AsyncStream<Void>.makeStream()
                group.addTask {
                    continuation.finish()
                    try await database.run()
                }
                for await _ in started {}
                try? await Task.sleep(for: .milliseconds(1))
            }
            defer { group.cancelAll() }
            return try await body(database)
        }
    }

    /// What messages call this database: host, port and name, never credentials.
    public var displayName: String { configuration.displayName }

    /// Runs `body` on one leased connection, translating errors.
    func withConnection<Result: Sendable>(
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        do {
            return try await client.withConnection { connection in try await body(connection) }
        } catch let error as PSQLError {
            throw PostgresStoreError(error, database: configuration)
        } catch let error as PostgresDecodingError {
            throw decodingFailure(error)
        }
    }

    /// Runs `body` on two leased connections when the pool can spare them, else on
    /// one (the second `nil`), for work that can run in two halves at once.
    ///
    /// Only one caller at a time holds a pair: callers that each hold one
    /// connection while waiting for a second could otherwise take the whole pool
    /// and wait for each other forever. A caller that finds the pair taken does not
    /// wait for it; it runs on one connection.
    func withConnectionPair<Result: Sendable>(
        _ body: (PostgresConnection, PostgresConnection?) async throws -> Result
    ) async throws -> Result {
        let paired = configuration.maximumConnections >= 2 && pairLeased.withLock { leased in
            guard !leased else { return false }
            leased = true
            return true
        }
        guard paired else { return try await withConnection { try await body($0, nil) } }
        defer { pairLeased.withLock { $0 = false } }
        return try await withConnection { first in
            try await withConnection { second in try await body(first, second) }
        }
    }

    /// Runs `body` in one transaction on one leased connection: committed when
    /// `body` returns, rolled back when it throws.
    func withTransaction<Result: Sendable>(
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let logger = logger
        return try await withConnection { connection in
            try await connection.exec("BEGIN", logger: logger)
            do {
                let result = try await body(connection)
                try await connection.exec("COMMIT", logger: logger)
                return result
            } catch {
                try? await connection.exec("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// Runs `query` and collects its rows, translating errors. Bind values with
    /// `PostgresQuery` interpolation, never by building SQL text.
    public func query<Row: Sendable>(
        _ query: PostgresQuery,
        decoding: @Sendable (PostgresRow) throws -> Row
    ) async throws -> [Row] {
        do {
            var rows: [Row] = []
            for try await row in try await client.query(query, logger: logger) {
                rows.append(try decoding(row))
            }
            return rows
        } catch let error as PSQLError {
            throw PostgresStoreError(error, database: configuration)
        } catch let error as PostgresDecodingError {
            throw decodingFailure(error)
        }
    }

    /// A column that did not decode. Its description can quote the column's
    /// bytes: name the column only.
    private func decodingFailure(_ error: PostgresDecodingError) -> PostgresStoreError {
        PostgresStoreError(code: .failed, database: displayName, message: """
            \(displayName): column \(error.columnName) (\(error.postgresType)) could not be read as \(error.targetType): \
            the schema differs from what this build expects; check `tally migrate status`
            """)
    }

    /// Runs a statement and discards any rows.
    public func execute(_ query: PostgresQuery) async throws {
        _ = try await self.query(query) { _ in () }
    }
}

extension PostgresConnection {
    /// Runs a statement and reads its rows to the end, so the connection is free
    /// for the next one.
    func exec(_ query: PostgresQuery, logger: Logger) async throws {
        for try await _ in try await self.query(query, logger: logger) {}
    }

    /// Runs a query and collects its rows.
    func rows<Row>(_ query: PostgresQuery, logger: Logger, _ decoding: (PostgresRow) throws -> Row) async throws -> [Row] {
        var rows: [Row] = []
        for try await row in try await self.query(query, logger: logger) { rows.append(try decoding(row)) }
        return rows
    }
}
