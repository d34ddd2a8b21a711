import Tally
import TallyPostgres
import TallySQLite

extension DatabaseOptions {
    /// Runs `body` with the aggregates of the database the flag or environment
    /// names, SQLite or PostgreSQL; a PostgreSQL pool runs for the duration.
    func withAggregateStore<Result: Sendable>(
        _ body: @Sendable (any AggregateStore) async throws -> Result
    ) async throws -> Result {
        switch try backend() {
        case .sqlite(let path):
            return try await body(SQLiteAggregateStore(database: try SQLiteDatabase(path: path)))
        case .postgres(let configuration):
            return try await PostgresPool.withCommandDatabase(configuration) { database in
                try await body(PostgresAggregateStore(database: database))
            }
        }
    }
}
