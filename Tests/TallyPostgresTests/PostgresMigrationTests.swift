import PostgresNIO
import Tally
import TallyPostgres
import TallyPostgresTesting
import Testing

/// Migrations on a real PostgreSQL server, each test in a database of its own.
@Suite("PostgreSQL migrations")
struct PostgresMigrationTests {
    static let migrations = PostgresMigrations.all(mode: .partitioned)

    /// Every relation in the public schema and every recorded migration, as text:
    /// what "changed nothing" is checked against.
    static func snapshot(_ database: PostgresPool) async throws -> String {
        let relations = try await database.query("""
            SELECT coalesce(string_agg(relname::text || ':' || relkind::text, ',' ORDER BY relname), '')
            FROM pg_class WHERE relnamespace = 'public'::regnamespace
            """) { row in try row.decode(String.self) }.first ?? ""
        let applied = try await PostgresMigrationTarget(database: database, mode: .partitioned).appliedMigrations()
        return relations + "|" + applied.map { "\($0.id)=\($0.checksum)@\($0.appliedAt)" }.joined(separator: ",")
    }

    static func migrator(_ database: PostgresPool, _ migrations: [Migration] = migrations) -> Migrator {
        Migrator(migrations: migrations, target: PostgresMigrationTarget(database: database, mode: .partitioned))
    }

    @Test("status and pending change nothing, before and after migrating")
    func statusChangesNothing() async throws {
        try await TestPostgres.withDatabase { database async throws in
            let empty = try await Self.snapshot(database)
            #expect(empty == "|")
            let before = try await Self.migrator(database).status()
            #expect(before.pendingCount == 7)
            #expect(before.entries.map(\.id) == ["0001_create_analytics_events_partitioned", "0002_create_analytics_events_indexes",
                                                 "0003_create_dirty_days_api_keys_and_anonymous_index", "0004_create_aggregates",
                                                 "0005_daily_users_as_arrays", "0006_mark_dirty_days_on_insert",
                                                 "0007_drop_mark_dirty_days_trigger"])
            #expect(try await Self.migrator(database).pending(phases: [.pre, .post]).count == 7)
            #expect(try await Self.snapshot(database) == empty, "status must not create the migrations table")

            let applied = try await Self.migrator(database).migrate(phases: [.pre, .post])
            #expect(applied.count == 7)
            let migrated = try await Self.snapshot(database)
            #expect(migrated.contains("analytics_events:p"))
            #expect(migrated.contains("analytics_events_default:r"))
            #expect(migrated.contains("tally_schema_migrations:r"))
            for table in ["analytics_dirty_days", "tally_api_keys", "analytics_daily_users", "analytics_daily_active_users",
                          "analytics_task_stats_daily", "analytics_api_latency_hourly", "analytics_integration_health_daily",
                          "analytics_auth_events_daily", "analytics_cocoon_activity_daily", "analytics_errors_hourly"] {
                #expect(migrated.contains(table + ":r"), "\(table)")
            }

            let after = try await Self.migrator(database).status()
            #expect(after.appliedCount == 7)
            #expect(after.pendingCount == 0)
            #expect(try await Self.migrator(database).migrate(phases: [.pre, .post]).isEmpty)
            #expect(try await Self.snapshot(database) == migrated)
        }
    }

    @Test("the schema has the design's columns, types, unique key and indexes")
    func schema() async throws {
        try await TestPostgres.withMigratedDatabase { database async throws in
            let columns = try await database.query("""
                SELECT string_agg(column_name::text || ' ' || data_type::text
                                  || coalesce('(' || character_maximum_length || ')', ''), ', ' ORDER BY ordinal_position)
                FROM information_schema.columns WHERE table_name = 'analytics_events'
                """) { row in try row.decode(String.self) }.first
            #expect(columns == """
                event_id uuid, timestamp timestamp with time zone, received_at timestamp with time zone, \
                event_type character varying(100), service character varying(100), user_id text, \
                anonymous_id text, session_id text, data jsonb
                """)
            let indexes = try await database.query("""
                SELECT string_agg(pg_get_indexdef(indexrelid), E'\\n' ORDER BY pg_get_indexdef(indexrelid))
                FROM pg_index WHERE indrelid = 'analytics_events'::regclass
                """) { row in try row.decode(String.self) }.first ?? ""
            #expect(indexes.contains("UNIQUE INDEX analytics_events_timestamp_event_id_key ON ONLY public.analytics_events USING btree (\"timestamp\", event_id)"))
            #expect(indexes.contains("(user_id, \"timestamp\")"))
            #expect(indexes.contains("(event_type, \"timestamp\")"))
            #expect(indexes.contains("(service, \"timestamp\")"))
            #expect(indexes.contains("(anonymous_id, \"timestamp\")"))
            let strategy = try await database.query("SELECT partstrat::text FROM pg_partitioned_table WHERE partrelid = 'analytics_events'::regclass") {
                row in try row.decode(String.self)
            }
            #expect(strategy == ["r"], "range partitioning by timestamp")
        }
    }

    @Test("a migration edited after it ran is flagged, and migrate refuses to run")
    func editedMigrationFlagged() async throws {
        try await TestPostgres.withMigratedDatabase { database async throws in
            var edited = Self.migrations
            edited[1] = Migration(version: 2, name: "create_analytics_events_indexes", phase: .pre,
                                  sql: edited[1].sql + "\nCREATE INDEX extra ON analytics_events (session_id);")
            let status = try await Self.migrator(database, edited).status()
            #expect(status.changedCount == 1)
            #expect(status.entries.first(where: \.isChanged)?.id == "0002_create_analytics_events_indexes")
            let error = await #expect(throws: MigrationError.self) {
                try await Self.migrator(database, edited).migrate(phases: [.pre, .post])
            }
            #expect(error?.code == .changedAfterApplying)
            let extra = try await database.query("SELECT to_regclass('extra') IS NULL") { row in try row.decode(Bool.self) }
            #expect(extra == [true])
        }
    }

    @Test("eight concurrent migrators apply each migration once")
    func concurrentMigrators() async throws {
        try await TestPostgres.withEmptyDatabase { configuration async throws in
            // Eight separate pools, as eight processes would have.
            let applied = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await PostgresPool.withRunning(configuration, logger: TestPostgres.logger) { database async throws in
                            try await Self.migrator(database).migrate(phases: [.pre, .post]).map(\.id)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(applied.sorted() == Self.migrations.map(\.id))
            try await PostgresPool.withRunning(configuration, logger: TestPostgres.logger) { database async throws in
                let records = try await database.query("SELECT id FROM tally_schema_migrations ORDER BY id") { row in try row.decode(String.self) }
                #expect(records == Self.migrations.map(\.id))
            }
        }
    }

    @Test("a failing migration rolls back whole and names the statement and the reason")
    func failingMigrationRollsBack() async throws {
        try await TestPostgres.withMigratedDatabase { database async throws in
            let failing = Migration(version: 99, name: "add_probe", phase: .post, sql: """
                CREATE TABLE tally_probe (id integer);
                -- The second statement fails: the table above must not survive.
                INSERT INTO tally_missing_table VALUES (1);
                """)
            let migrator = Self.migrator(database, Self.migrations + [failing])
            let error = await #expect(throws: MigrationError.self) {
                try await migrator.migrate(phases: [.pre, .post])
            }
            #expect(error?.code == .failed)
            #expect(error?.migrationID == "0099_add_probe")
            let message = error?.description ?? ""
            #expect(message.contains("statement 2 of 2 (`INSERT INTO tally_missing_table VALUES (1)`)"), "\(message)")
            #expect(message.contains("relation \"tally_missing_table\" does not exist (SQLSTATE 42P01)"), "\(message)")
            #expect(message.contains("rolled back"))

            let probe = try await database.query("SELECT to_regclass('tally_probe') IS NULL") { row in try row.decode(Bool.self) }
            #expect(probe == [true], "the first statement was rolled back")
            let status = try await migrator.status()
            #expect(status.entries.last?.state == .pending)
            #expect(status.appliedCount == Self.migrations.count)
        }
    }

    @Test("0005 turns the daily user rows of a database refreshed before it into one sorted array per day and service")
    func dailyUsersBecomeArrays() async throws {
        try await TestPostgres.withDatabase { database async throws in
            let before = Array(Self.migrations.prefix { $0.id != "0005_daily_users_as_arrays" })
            #expect(before.count == 4)
            try await Self.migrator(database, before).migrate(phases: [.pre, .post])
            // What 0004's refresh wrote: one row per user a day, under each service and "*".
            try await database.execute("""
                INSERT INTO analytics_daily_users (day, service, user_id) VALUES
                    ('2026-11-19', 'api', 'u_b'), ('2026-11-19', 'api', 'U_a'), ('2026-11-19', 'api', 'u_c'),
                    ('2026-11-19', '*', 'u_b'), ('2026-11-19', '*', 'U_a'), ('2026-11-19', '*', 'u_c'), ('2026-11-19', '*', 'ü'),
                    ('2026-11-19', 'web', 'ü'), ('2026-11-20', 'api', 'u_b'), ('2026-11-20', '*', 'u_b')
                """)

            #expect(try await Self.migrator(database).migrate(phases: [.pre]).map(\.id) == ["0006_mark_dirty_days_on_insert",
                                                                                                   "0007_drop_mark_dirty_days_trigger"])
            #expect(try await Self.migrator(database).migrate(phases: [.post]).map(\.id) == ["0005_daily_users_as_arrays"])
            let sets = try await database.query("""
                SELECT day::text, service, array_to_string(user_ids, ',') FROM analytics_daily_users ORDER BY day, service COLLATE "C"
                """) { row in try row.decode((String, String, String).self) }
            #expect(sets.map { "\($0.0) \($0.1) \($0.2)" } == [
                "2026-11-19 * U_a,u_b,u_c,ü", "2026-11-19 api U_a,u_b,u_c", "2026-11-19 web ü",
                "2026-11-20 * u_b", "2026-11-20 api u_b",
            ])
            // The refresh's queries read the converted rows: WAU/MAU over both days.
            try await PostgresAggregateStore(database: database).recomputeActiveUsers(days: [Timestamp(iso8601: "2026-11-20T00:00:00Z")!])
            let active = try await PostgresAggregateStore(database: database).activeUsers(
                from: Timestamp(iso8601: "2026-11-20T00:00:00Z")!, to: Timestamp(iso8601: "2026-11-21T00:00:00Z")!, service: nil)
            #expect(active.map { "\($0.service) \($0.dau) \($0.wau) \($0.mau)" } == ["* 1 4 4", "api 1 3 3", "web 0 1 1"])
            // An empty set is refused: a service without users that day has no row.
            await #expect(throws: (any Error).self) {
                try await database.execute("INSERT INTO analytics_daily_users VALUES ('2026-11-21', 'api', '{}')")
            }
        }
    }

    @Test("the storage mode: partitioned without TimescaleDB, kept once chosen, and a contradicting flag is refused")
    func storageMode() async throws {
        let timescale = await TestPostgres.timescaleAvailable()
        try await TestPostgres.withDatabase { database async throws in
            #expect(try await PostgresMigrationTarget.mode(of: database) == (timescale ? .timescaledb : .partitioned))
            #expect(try await PostgresMigrationTarget.mode(of: database, forced: .partitioned) == .partitioned)
            try await Self.migrator(database).migrate(phases: [.pre, .post])
            #expect(try await PostgresMigrationTarget.mode(of: database) == .partitioned)
            let error = await #expect(throws: PostgresStoreError.self) {
                try await PostgresMigrationTarget.mode(of: database, forced: .timescaledb)
            }
            #expect(error?.description.contains("was migrated in partitioned mode") == true)
        }
    }
}
