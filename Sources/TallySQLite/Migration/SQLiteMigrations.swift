import Tally

/// The SQLite schema, as registered migrations. Append new ones; never edit one
/// that has shipped (its checksum is recorded where it ran).
///
/// Times are stored as INTEGER microseconds since 1970-01-01 UTC, the precision
/// PostgreSQL's `timestamptz` has, so both backends hold the same values
/// (`datetime(timestamp / 1e6, 'unixepoch')` shows one).
public enum SQLiteMigrations {
    public static let all: [Migration] = [createEvents, createQueue, createSettings]

    static let createEvents = Migration(version: 1, name: "create_analytics_events", phase: .pre, sql: """
        CREATE TABLE analytics_events (
            event_id     TEXT    NOT NULL CHECK (length(event_id) = 36),
            timestamp    INTEGER NOT NULL,
            received_at  INTEGER NOT NULL,
            event_type   TEXT    NOT NULL CHECK (length(event_type) BETWEEN 1 AND 100),
            service      TEXT    NOT NULL CHECK (length(service) BETWEEN 1 AND 100),
            user_id      TEXT,
            anonymous_id TEXT,
            session_id   TEXT,
            data         TEXT    NOT NULL CHECK (json_valid(data)),
            -- The dedupe key: a retried or re-sent event is stored once. Its index,
            -- led by timestamp, is also the (timestamp) index of the design.
            UNIQUE (timestamp, event_id)
        );
        CREATE INDEX analytics_events_user_id_timestamp ON analytics_events (user_id, timestamp);
        CREATE INDEX analytics_events_event_type_timestamp ON analytics_events (event_type, timestamp);
        CREATE INDEX analytics_events_service_timestamp ON analytics_events (service, timestamp);
        """)

    static let createQueue = Migration(version: 2, name: "create_analytics_queue", phase: .pre, sql: """
        -- The device's offline-first queue, and the worker's spill when its sink is down.
        CREATE TABLE analytics_queue (
            id              INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id        TEXT    NOT NULL UNIQUE CHECK (length(event_id) = 36),
            event_type      TEXT    NOT NULL CHECK (length(event_type) BETWEEN 1 AND 100),
            properties      TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(properties)),
            user_id         TEXT,
            anonymous_id    TEXT,
            session_id      TEXT,
            service         TEXT    NOT NULL,
            context         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(context)),
            timestamp       INTEGER NOT NULL,
            received_at     INTEGER NOT NULL,
            created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            attempts        INTEGER NOT NULL DEFAULT 0,
            last_attempt_at TEXT,
            last_error      TEXT
        );
        CREATE INDEX analytics_queue_created_at ON analytics_queue (created_at);
        """)

    static let createSettings = Migration(version: 3, name: "create_analytics_settings", phase: .pre, sql: """
        CREATE TABLE analytics_settings (
            key        TEXT PRIMARY KEY,
            value      TEXT NOT NULL,
            updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        INSERT INTO analytics_settings (key, value) VALUES ('analytics_enabled', 'true');
        """)
}
