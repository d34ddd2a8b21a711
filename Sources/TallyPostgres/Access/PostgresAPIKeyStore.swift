import PostgresNIO
import Tally

/// API keys in `tally_api_keys`, next to the events they guard.
public struct PostgresAPIKeyStore: APIKeyStore {
    public let database: PostgresPool

    public init(database: PostgresPool) {
        self.database = database
    }

    public func insert(_ record: APIKeyRecord) async throws {
        try await database.execute("""
            INSERT INTO tally_api_keys (id, service, scope, secret_hash, created_at, revoked_at)
            VALUES (\(record.id), \(record.service), \(record.scope.rawValue), \(ByteBuffer(bytes: record.secretHash)),
                    \(PostgresTimestamp(record.createdAt)), \(record.revokedAt.map(PostgresTimestamp.init)))
            """)
    }

    public func keys() async throws -> [APIKeyRecord] {
        try await database.query("SELECT \(unescaped: Self.columns) FROM tally_api_keys ORDER BY created_at, id COLLATE \"C\"", decoding: Self.record)
    }

    public func key(id: String) async throws -> APIKeyRecord? {
        try await database.query("SELECT \(unescaped: Self.columns) FROM tally_api_keys WHERE id = \(id)", decoding: Self.record).first
    }

    public func revoke(id: String, at time: Timestamp) async throws -> Bool {
        try await database.query("""
            UPDATE tally_api_keys SET revoked_at = \(PostgresTimestamp(time)) WHERE id = \(id) AND revoked_at IS NULL RETURNING 1
            """) { _ in () }.count == 1
    }

    static let columns = "id, service, scope, secret_hash, created_at, revoked_at"

    @Sendable
    static func record(_ row: PostgresRow) throws -> APIKeyRecord {
        let (id, service, scopeText, hash, createdAt, revokedAt) = try row.decode(
            (String, String, String, ByteBuffer, PostgresTimestamp, PostgresTimestamp?).self)
        guard let scope = KeyScope(rawValue: scopeText) else {
            throw PostgresStoreError(code: .failed, database: "tally_api_keys", message: """
                tally_api_keys holds a key of unknown scope '\(scopeText)': the schema differs from what this build expects
                """)
        }
        return APIKeyRecord(id: id, service: service, scope: scope, secretHash: Array(hash.readableBytesView),
                            createdAt: createdAt.timestamp, revokedAt: revokedAt?.timestamp)
    }
}
