import ServiceLifecycle
import Tally

/// Everything `tally serve` needs from one database, whichever backend it is.
/// The CLI opens SQLite or PostgreSQL and hands the server one of these.
public struct ServerBackend: Sendable {
    /// For logs and `/readyz`, e.g. "SQLite ./tally.sqlite".
    public var description: String
    public var events: any EventStore & EventQueries
    public var aggregates: any AggregateStore
    public var keys: any APIKeyStore
    /// Throws, saying what is wrong, unless the store is reachable and every
    /// migration is applied.
    public var checkReady: @Sendable () async throws -> Void
    /// Jobs the backend needs running beside the server (PostgreSQL's partition
    /// lifecycle), started before it and stopped after it.
    public var services: [any Service]

    public init(description: String, events: any EventStore & EventQueries, aggregates: any AggregateStore,
                keys: any APIKeyStore, services: [any Service] = [], checkReady: @escaping @Sendable () async throws -> Void) {
        self.services = services
        self.description = description
        self.events = events
        self.aggregates = aggregates
        self.keys = keys
        self.checkReady = checkReady
    }
}
