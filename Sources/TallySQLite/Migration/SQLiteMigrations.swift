import Tally

/// The SQLite schema, as registered migrations. Append new ones; never edit one
/// that has shipped (its checksum is recorded where it ran).
///
/// Times are stored as INTEGER microseconds since 1970-01-01 UTC, the precision
/// PostgreSQL's `timestamptz` has, so both backends hold the same values
/// (`datetime(timestamp / 1e6, 'unixepoch')` shows one).
public enum SQLiteMigrations {
    public static let all: [Migration] = [createEvents, createQueue, createSettings, createDirtyDays, createAggregates, createAPIKeys]

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

    static let createDirtyDays = Migration(version: 4, name: "create_analytics_dirty_days", phase: .pre, sql: """
        -- Days whose aggregates must be recomputed: every write marks its events'
        -- days in the same transaction, so a late event is never silently missed.
        CREATE TABLE analytics_dirty_days (
            day       INTEGER PRIMARY KEY,  -- UTC midnight, microseconds since epoch
            marked_at INTEGER NOT NULL
        );
        """)

    static let createAggregates = Migration(version: 5, name: "create_aggregates", phase: .post, sql: """
        -- The seven aggregates of DESIGN.md §5, plus the daily sets of distinct users
        -- that WAU and MAU are counted from. Days are 'YYYY-MM-DD', hours
        -- 'YYYY-MM-DDTHH:00:00.000000Z' (UTC); *_sketch columns hold mergeable
        -- quantile sketches for percentiles over ranges of buckets.
        CREATE TABLE analytics_daily_users (
            day TEXT NOT NULL, service TEXT NOT NULL, user_id TEXT NOT NULL,
            PRIMARY KEY (service, day, user_id)
        ) WITHOUT ROWID;
        CREATE TABLE analytics_daily_active_users (
            day TEXT NOT NULL, service TEXT NOT NULL,
            dau INTEGER NOT NULL, wau INTEGER NOT NULL, mau INTEGER NOT NULL,
            PRIMARY KEY (day, service)
        );
        CREATE TABLE analytics_task_stats_daily (
            day TEXT NOT NULL, service TEXT NOT NULL,
            created INTEGER NOT NULL, started INTEGER NOT NULL, completed INTEGER NOT NULL,
            failed INTEGER NOT NULL, cancelled INTEGER NOT NULL, success_rate REAL,
            duration_p50 REAL, duration_p95 REAL, duration_sketch BLOB NOT NULL,
            PRIMARY KEY (day, service)
        );
        CREATE TABLE analytics_api_latency_hourly (
            hour TEXT NOT NULL, service TEXT NOT NULL, method TEXT NOT NULL, route TEXT NOT NULL,
            requests INTEGER NOT NULL, errors_4xx INTEGER NOT NULL, errors_5xx INTEGER NOT NULL,
            latency_p50 REAL, latency_p95 REAL, latency_p99 REAL, latency_max REAL, latency_sketch BLOB NOT NULL,
            PRIMARY KEY (hour, service, method, route)
        );
        CREATE TABLE analytics_integration_health_daily (
            day TEXT NOT NULL, provider TEXT NOT NULL,
            connected INTEGER NOT NULL, disconnected INTEGER NOT NULL, used INTEGER NOT NULL, errors INTEGER NOT NULL,
            oauth_started INTEGER NOT NULL, oauth_completed INTEGER NOT NULL, error_rate REAL,
            PRIMARY KEY (day, provider)
        );
        CREATE TABLE analytics_auth_events_daily (
            day TEXT NOT NULL, service TEXT NOT NULL,
            login_attempts INTEGER NOT NULL, login_successes INTEGER NOT NULL, login_failures INTEGER NOT NULL,
            codes_verified INTEGER NOT NULL, token_refreshes INTEGER NOT NULL, sessions_validated INTEGER NOT NULL,
            logouts INTEGER NOT NULL,
            PRIMARY KEY (day, service)
        );
        CREATE TABLE analytics_cocoon_activity_daily (
            day TEXT NOT NULL PRIMARY KEY,
            registered INTEGER NOT NULL, connected INTEGER NOT NULL, disconnected INTEGER NOT NULL, claimed INTEGER NOT NULL,
            setup_tokens_created INTEGER NOT NULL, setup_tokens_used INTEGER NOT NULL, active_cocoons INTEGER NOT NULL
        );
        CREATE TABLE analytics_errors_hourly (
            hour TEXT NOT NULL, service TEXT NOT NULL, error_type TEXT NOT NULL, errors INTEGER NOT NULL,
            PRIMARY KEY (hour, service, error_type)
        );
        """)

    static let createAPIKeys = Migration(version: 6, name: "create_api_keys_and_anonymous_index", phase: .pre, sql: """
        -- `tally serve`'s keys: only the SHA-256 of each secret is kept.
        CREATE TABLE tally_api_keys (
            id          TEXT    PRIMARY KEY,
            service     TEXT    NOT NULL CHECK (length(service) BETWEEN 1 AND 100),
            scope       TEXT    NOT NULL CHECK (scope IN ('write', 'read', 'admin')),
            secret_hash BLOB    NOT NULL CHECK (length(secret_hash) = 32),
            created_at  INTEGER NOT NULL,
            revoked_at  INTEGER
        );
        -- Privacy requests find a person by user_id or anonymous_id.
        CREATE INDEX analytics_events_anonymous_id_timestamp ON analytics_events (anonymous_id, timestamp);
        """)
}
