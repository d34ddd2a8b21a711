import GRDB
import Tally

/// The persisted `analytics_enabled` setting in `analytics_settings`. Absent means
/// enabled: opting out is an explicit choice.
public struct SQLiteAnalyticsSettings: Sendable {
    public let database: SQLiteDatabase
    static let enabledKey = "analytics_enabled"

    public init(database: SQLiteDatabase) {
        self.database = database
    }

    public func isEnabled() async throws -> Bool {
        try await database.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM analytics_settings WHERE key = ?", arguments: [Self.enabledKey]) != "false"
        }
    }

    /// Turns analytics on or off. Turning it off deletes nothing: queued events
    /// stay queued, and are sent if it is turned on again.
    public func setEnabled(_ enabled: Bool) async throws {
        try await database.write { db in
            try db.execute(sql: """
                INSERT INTO analytics_settings (key, value, updated_at) VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """, arguments: [Self.enabledKey, enabled ? "true" : "false"])
        }
    }
}
