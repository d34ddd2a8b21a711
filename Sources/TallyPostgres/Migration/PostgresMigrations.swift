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
        case .partitioned: [createPartitionedEvents, createIndexes, createDirtyDaysAndAPIKeys, createAggregates, dailyUserArrays,
                            markDirtyDaysOnInsert, dropMarkDirtyDaysTrigger]
        case .timescaledb: [createHypertableEvents, createIndexes, createDirtyDaysAndAPIKeys, createAggregates, dailyUserArrays,
                            markDirtyDaysOnInsert, dropMarkDirtyDaysTrigger]
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

    static let createDirtyDaysAndAPIKeys = Migration(version: 3, name: "create_dirty_days_api_keys_and_anonymous_index", phase: .pre, sql: """
        -- Days whose aggregates must be recomputed: every write marks its events'
        -- days in the same statement as the insert, so a late event is never
        -- silently missed. A new mark always moves marked_at forward, so a refresh
        -- clears only the marks it saw.
        CREATE TABLE analytics_dirty_days (
            day       date        PRIMARY KEY,  -- UTC
            marked_at timestamptz NOT NULL
        );
        -- `tally serve`'s keys: only the SHA-256 of each secret is kept.
        CREATE TABLE tally_api_keys (
            id          text        PRIMARY KEY,
            service     text        NOT NULL CHECK (length(service) BETWEEN 1 AND 100),
            scope       text        NOT NULL CHECK (scope IN ('write', 'read', 'admin')),
            secret_hash bytea       NOT NULL CHECK (length(secret_hash) = 32),
            created_at  timestamptz NOT NULL,
            revoked_at  timestamptz
        );
        -- Privacy requests find a person by user_id or anonymous_id.
        CREATE INDEX analytics_events_anonymous_id_timestamp ON analytics_events (anonymous_id, timestamp);
        """)

    static let createAggregates = Migration(version: 4, name: "create_aggregates", phase: .post, sql: """
        -- The seven aggregates of DESIGN.md §5, plus the daily sets of distinct users
        -- that WAU and MAU are counted from: the names and columns of the SQLite
        -- schema, in native types. Days are UTC dates, hours the timestamptz of
        -- their start; *_sketch columns hold mergeable quantile sketches for
        -- percentiles over ranges of buckets.
        CREATE TABLE analytics_daily_users (
            day date NOT NULL, service text NOT NULL, user_id text NOT NULL,
            -- Led by day: a refresh replaces a day, and WAU/MAU read ranges of days.
            PRIMARY KEY (day, service, user_id)
        );
        CREATE TABLE analytics_daily_active_users (
            day date NOT NULL, service text NOT NULL,
            dau bigint NOT NULL, wau bigint NOT NULL, mau bigint NOT NULL,
            PRIMARY KEY (day, service)
        );
        CREATE TABLE analytics_task_stats_daily (
            day date NOT NULL, service text NOT NULL,
            created bigint NOT NULL, started bigint NOT NULL, completed bigint NOT NULL,
            failed bigint NOT NULL, cancelled bigint NOT NULL, success_rate double precision,
            duration_p50 double precision, duration_p95 double precision, duration_sketch bytea NOT NULL,
            PRIMARY KEY (day, service)
        );
        CREATE TABLE analytics_api_latency_hourly (
            hour timestamptz NOT NULL, service text NOT NULL, method text NOT NULL, route text NOT NULL,
            requests bigint NOT NULL, errors_4xx bigint NOT NULL, errors_5xx bigint NOT NULL,
            latency_p50 double precision, latency_p95 double precision, latency_p99 double precision,
            latency_max double precision, latency_sketch bytea NOT NULL,
            PRIMARY KEY (hour, service, method, route)
        );
        CREATE TABLE analytics_integration_health_daily (
            day date NOT NULL, provider text NOT NULL,
            connected bigint NOT NULL, disconnected bigint NOT NULL, used bigint NOT NULL, errors bigint NOT NULL,
            oauth_started bigint NOT NULL, oauth_completed bigint NOT NULL, error_rate double precision,
            PRIMARY KEY (day, provider)
        );
        CREATE TABLE analytics_auth_events_daily (
            day date NOT NULL, service text NOT NULL,
            login_attempts bigint NOT NULL, login_successes bigint NOT NULL, login_failures bigint NOT NULL,
            codes_verified bigint NOT NULL, token_refreshes bigint NOT NULL, sessions_validated bigint NOT NULL,
            logouts bigint NOT NULL,
            PRIMARY KEY (day, service)
        );
        CREATE TABLE analytics_cocoon_activity_daily (
            day date NOT NULL PRIMARY KEY,
            registered bigint NOT NULL, connected bigint NOT NULL, disconnected bigint NOT NULL, claimed bigint NOT NULL,
            setup_tokens_created bigint NOT NULL, setup_tokens_used bigint NOT NULL, active_cocoons bigint NOT NULL
        );
        CREATE TABLE analytics_errors_hourly (
            hour timestamptz NOT NULL, service text NOT NULL, error_type text NOT NULL, errors bigint NOT NULL,
            PRIMARY KEY (hour, service, error_type)
        );
        """)

    static let dailyUserArrays = Migration(version: 5, name: "daily_users_as_arrays", phase: .post, sql: """
        -- A day's distinct users per service as one row holding a sorted array
        -- (byte order), instead of one row per user: a refresh of 1M events wrote
        -- ~100k rows and index entries, now a handful. WAU and MAU unnest the
        -- arrays of the days they count. Existing sets are converted, not lost.
        CREATE TABLE analytics_daily_user_sets (
            day date NOT NULL, service text NOT NULL,
            user_ids text[] NOT NULL CONSTRAINT analytics_daily_users_user_ids_check CHECK (cardinality(user_ids) > 0),
            CONSTRAINT analytics_daily_user_sets_pkey PRIMARY KEY (day, service)
        );
        INSERT INTO analytics_daily_user_sets (day, service, user_ids)
        SELECT day, service, array_agg(user_id ORDER BY user_id COLLATE "C")
        FROM analytics_daily_users GROUP BY day, service;
        DROP TABLE analytics_daily_users;
        ALTER TABLE analytics_daily_user_sets RENAME TO analytics_daily_users;
        ALTER INDEX analytics_daily_user_sets_pkey RENAME TO analytics_daily_users_pkey;
        """)

    static let markDirtyDaysOnInsert = Migration(version: 6, name: "mark_dirty_days_on_insert", phase: .pre, sql: """
        -- Every statement that inserts events marks their UTC days dirty, in the
        -- same transaction, from the rows it actually inserted (a transition
        -- table; duplicates skipped by ON CONFLICT are not in it). A batch is then
        -- one statement, a bare COPY included, with no separate marking step.
        -- A new mark always moves marked_at forward (see analytics_dirty_days),
        -- and days are locked in order so concurrent writers never deadlock here.
        -- TimescaleDB accepts statement triggers with transition tables on
        -- hypertables since 2.18 (timescale/timescaledb#6901); older versions
        -- accept the trigger but refuse every insert, so they are refused here.
        DO $$
        DECLARE version text := (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb');
        BEGIN
            IF version IS NOT NULL AND string_to_array(split_part(version, '-', 1), '.')::int[] < ARRAY[2, 18] THEN
                RAISE EXCEPTION 'TimescaleDB % is too old for Tally: update the extension to 2.18 or later (ALTER EXTENSION timescaledb UPDATE), then run tally migrate all again', version;
            END IF;
        END
        $$;
        CREATE FUNCTION tally_mark_inserted_days_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO analytics_dirty_days AS d (day, marked_at)
                SELECT DISTINCT (timestamp AT TIME ZONE 'UTC')::date, now() FROM inserted_events ORDER BY 1
                ON CONFLICT (day) DO UPDATE SET marked_at = greatest(d.marked_at + interval '1 microsecond', excluded.marked_at);
            RETURN NULL;
        END
        $$;
        CREATE TRIGGER analytics_events_mark_days_dirty
            AFTER INSERT ON analytics_events
            REFERENCING NEW TABLE AS inserted_events
            FOR EACH STATEMENT EXECUTE FUNCTION tally_mark_inserted_days_dirty();
        """)

    static let dropMarkDirtyDaysTrigger = Migration(version: 7, name: "drop_mark_dirty_days_trigger", phase: .pre, sql: """
        -- The store marks the days of what it writes itself (PostgresEventStore),
        -- in the same transaction as the rows. 0006's trigger read the inserted
        -- rows through a transition table, and PostgreSQL inserts a COPY into a
        -- partitioned table with such a trigger one row at a time: 15-20% of the
        -- write rate (README, Performance).
        DROP TRIGGER IF EXISTS analytics_events_mark_days_dirty ON analytics_events;
        DROP FUNCTION IF EXISTS tally_mark_inserted_days_dirty();
        """)
}
