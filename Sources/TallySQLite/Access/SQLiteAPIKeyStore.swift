import Foundation
import GRDB
import Tally

/// API keys in `tally_api_keys`, next to the events they guard.
public struct SQLiteAPIKeyStore: APIKeyStore {
    public let database: SQLiteDatabase

    public init(database: SQLiteDatabase) {
        self.database = database
    }

    public func insert(_ record: APIKeyRecord) async throws {
        try await database.write { db in
            try db.execute(sql: """
                INSERT INTO tally_api_keys (id, service, scope, secret_hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [record.id, record.service, record.scope.rawValue, Data(record.secretHash),
                                 record.createdAt.microsecondsSinceEpoch, record.revokedAt?.microsecondsSinceEpoch])
        }
    }

    public func keys() async throws -> [APIKeyRecord] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM tally_api_keys ORDER BY created_at, id").map(Self.record)
        }
    }

    public func key(id: String) async throws -> APIKeyRecord? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM tally_api_keys WHERE id = ?", arguments: [id]).map(Self.record)
        }
    }

    public func revoke(id: String, at time: Timestamp) async throws -> Bool {
        try await database.write { db in
            try db.execute(sql: "UPDATE tally_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                           arguments: [time.microsecondsSinceEpoch, id])
            return db.changesCount == 1
        }
    }

    static func record(_ row: Row) throws -> APIKeyRecord {
        let scopeText: String = row["scope"]
        guard let scope = KeyScope(rawValue: scopeText) else { throw StoredRowError(reason: "key scope \(scopeText) is unknown") }
        let hash: Data = row["secret_hash"]
        let revoked: Int64? = row["revoked_at"]
        return APIKeyRecord(id: row["id"], service: row["service"], scope: scope, secretHash: Array(hash),
                            createdAt: Timestamp(microsecondsSinceEpoch: row["created_at"]),
                            revokedAt: revoked.map(Timestamp.init(microsecondsSinceEpoch:)))
    }
}
