import Tally

/// How `analytics_events` is laid out on a PostgreSQL server, chosen when the
/// first migration runs and kept for the database's life.
public enum PostgresStorageMode: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Native declarative partitioning, one partition a day plus a default one.
    case partitioned
    /// A TimescaleDB hypertable with daily chunks, compressed after 7 days.
    case timescaledb

    public var description: String { rawValue }
}

/// The PostgreSQL schema, as registered migrations. Append new ones; never edit
/// one that has shipped (its checksum is recorded where it ran).
///
/// The two storage modes share every migration but the first, which has a
/// different id per mode, so a database's recorded migrations also say its mode.
///
/// The device queue (`analytics_queue`) and `analytics_settings` are SQLite-only:
/// they belong to the process that tracks events, never to a server store.
public enum PostgresMigrations {
    /// The migrations of `mode`, in order.
    public static func all(mode: PostgresStorageMode) -> [Migration] {
        switch mode {
        case .partitioned: [createPartitionedEvents, createIndexes]
        case .timescaledb: [createHypertableEvents, createIndexes]
        }
    }

    /// The id of the first migration of each mode, to tell a database's mode.
    static let firstMigrationIDs: [PostgresStorageMode: String] = [
        .partitioned: createPartitionedEvents.id,
        .timescaledb: createHypertableEvents.id,
    ]

    static let createPartitionedEvents = Migration(version: 1, name: "create_analytics_events_partitioned", phase: .pre, sql: """
        -- One partition per UTC day, created ahead by the lifecycle job
        -- (PartitionLifecycle); rows for a day without one land in the default
        -- partition, never rejected, and move to their day's partition when the
        -- job creates it. Retention drops whole partitions.
        CREATE TABLE analytics_events (
            event_id     uuid         NOT NULL,
            timestamp    timestamptz  NOT NULL,
            received_at  timestamptz  NOT NULL,
            event_type   varchar(100) NOT NULL CHECK (event_type <> ''),
            service      varchar(100) NOT NULL CHECK (service <> ''),
            user_id      text,
            anonymous_id text,
            session_id   text,
            data         jsonb        NOT NULL,
            -- The dedupe key: a retried or re-sent event is stored once. Its index,
            -- led by timestamp, is also the (timestamp) index of the design.
            CONSTRAINT analytics_events_timestamp_event_id_key UNIQUE (timestamp, event_id)
        ) PARTITION BY RANGE (timestamp);
        CREATE TABLE analytics_events_default PARTITION OF analytics_events DEFAULT;
        """)

    static let createHypertableEvents = Migration(version: 1, name: "create_analytics_events_hypertable", phase: .pre, sql: """
        -- A TimescaleDB hypertable with daily chunks. Compression (segment by
        -- event_type) and retention are run by Tally's own lifecycle job calling
        -- compress_chunk and drop_chunks, not by TimescaleDB's background jobs.
        CREATE EXTENSION IF NOT EXISTS timescaledb;
        CREATE TABLE analytics_events (
            event_id     uuid         NOT NULL,
            timestamp    timestamptz  NOT NULL,
            received_at  timestamptz  NOT NULL,
            event_type   varchar(100) NOT NULL CHECK (event_type <> ''),
            service      varchar(100) NOT NULL CHECK (service <> ''),
            user_id      text,
            anonymous_id text,
            session_id   text,
            data         jsonb        NOT NULL,
            CONSTRAINT analytics_events_timestamp_event_id_key UNIQUE (timestamp, event_id)
        );
        SELECT create_hypertable('analytics_events', by_range('timestamp', INTERVAL '1 day'));
        -- The unique key's columns must be in segmentby or orderby.
        ALTER TABLE analytics_events SET (
            timescaledb.compress,
            timescaledb.compress_segmentby = 'event_type',
            timescaledb.compress_orderby = 'timestamp, event_id'
        );
        """)

    static let createIndexes = Migration(version: 2, name: "create_analytics_events_indexes", phase: .pre, sql: """
        CREATE INDEX analytics_events_user_id_timestamp ON analytics_events (user_id, timestamp);
        CREATE INDEX analytics_events_event_type_timestamp ON analytics_events (event_type, timestamp);
        CREATE INDEX analytics_events_service_timestamp ON analytics_events (service, timestamp);
        """)
}
