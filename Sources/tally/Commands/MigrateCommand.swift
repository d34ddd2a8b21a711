import ArgumentParser
import Tally
import TallyPostgres
import TallySQLite

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply or inspect schema migrations.",
        discussion: """
            pre:      tables, indexes, policies; safe before a deploy.
            post:     aggregates; after the deploy.
            all:      pre, then post.
            status:   applied and pending migrations per phase; flags edited ones.
            dry-run:  print the SQL `all` would run; changes nothing.

            On PostgreSQL the first migration chooses the storage mode: a TimescaleDB \
            hypertable when the extension is installed or can be created, else daily \
            partitions. --postgres-mode forces one.
            """
    )

    enum Action: String, ExpressibleByArgument, CaseIterable {
        case all, status, pre, post
        case dryRun = "dry-run"
    }

    @Argument(help: "all | status | dry-run | pre | post")
    var action: Action

    @OptionGroup var options: DatabaseOptions

    @Option(help: ArgumentHelp("PostgreSQL only: auto, partitioned or timescaledb.",
                               discussion: "Chosen when the first migration runs. Defaults to auto."))
    var postgresMode: PostgresModeOption = .auto

    enum PostgresModeOption: String, ExpressibleByArgument, CaseIterable {
        case auto, partitioned, timescaledb
        var forced: PostgresStorageMode? { PostgresStorageMode(rawValue: rawValue) }
    }

    func run() async throws {
        let path: String
        switch try options.backend() {
        case .sqlite(let sqlitePath):
            path = sqlitePath
        case .postgres(let configuration):
            return try await runPostgres(configuration)
        }
        let migrations = SQLiteMigrations.all
        switch action {
        case .status:
            let migrator = Migrator(migrations: migrations, target: SQLiteMigrationTarget.inspecting(path: path))
            print(MigrationReport.status(try await migrator.status()))
        case .dryRun:
            let migrator = Migrator(migrations: migrations, target: SQLiteMigrationTarget.inspecting(path: path))
            let status = try await migrator.status()
            if let changed = status.entries.first(where: \.isChanged) {
                throw CommandError("migration \(changed.id) was edited after it was applied; `migrate all` would refuse to run. Restore its original SQL and add a new migration instead.")
            }
            let pending = try await migrator.pending(phases: Set(Migration.Phase.allCases))
            print(MigrationReport.dryRun(pending, database: status.database))
        case .all, .pre, .post:
            try await Self.migrate(path: path, phases: phases)
        }
    }

    private var phases: Set<Migration.Phase> {
        switch action {
        case .pre: [.pre]
        case .post: [.post]
        default: [.pre, .post]
        }
    }

    private func runPostgres(_ configuration: PostgresPool.Configuration) async throws {
        let action = action
        let forced = postgresMode.forced
        let phases = phases
        try await PostgresPool.withCommandDatabase(configuration) { database in
            let mode = try await PostgresMigrationTarget.mode(of: database, forced: forced)
            let migrator = Migrator(migrations: PostgresMigrations.all(mode: mode),
                                    target: PostgresMigrationTarget(database: database, mode: mode))
            switch action {
            case .status:
                print(MigrationReport.status(try await migrator.status()))
            case .dryRun:
                let status = try await migrator.status()
                if let changed = status.entries.first(where: \.isChanged) {
                    throw CommandError("migration \(changed.id) was edited after it was applied; `migrate all` would refuse to run. Restore its original SQL and add a new migration instead.")
                }
                let pending = try await migrator.pending(phases: Set(Migration.Phase.allCases))
                print(MigrationReport.dryRun(pending, database: status.database, before: { _ in
                    ["BEGIN;", "SELECT pg_advisory_xact_lock(\(PostgresMigrationTarget.lockKey));",
                     PostgresMigrationTarget.createTableSQL + ";"]
                }, after: { migration in
                    ["INSERT INTO tally_schema_migrations (id, phase, checksum, applied_at) VALUES ('\(migration.id)', '\(migration.phase)', '\(migration.checksum)', now());"]
                }))
            case .all, .pre, .post:
                let applied = try await migrator.migrate(phases: phases, progress: { migration in
                    print(MigrationReport.applying(migration))
                }, appliedElsewhere: { _ in
                    print(MigrationReport.appliedElsewhere)
                })
                print(MigrationReport.outcome(applied, database: migrator.target.displayName, phases: phases))
                if mode == .partitioned, !applied.isEmpty {
                    print("""
                        Daily partitions are made by the lifecycle job: run `tally retention run` now and then on a \
                        schedule (hourly); until a day has its partition, its events wait safely in analytics_events_default.
                        """)
                }
            }
        }
    }

    /// Applies `phases` to the SQLite file at `path`, printing each step.
    static func migrate(path: String, phases: Set<Migration.Phase>, quiet: Bool = false) async throws {
        let database = try SQLiteDatabase(path: path)
        let migrator = Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget(database: database))
        let applied: [Migration]
        do {
            applied = try await migrator.migrate(phases: phases, progress: { migration in
                if !quiet { print(MigrationReport.applying(migration)) }
            }, appliedElsewhere: { _ in
                if !quiet { print(MigrationReport.appliedElsewhere) }
            })
        } catch let error as MigrationError {
            throw CommandError(error.description)
        }
        let outcome = MigrationReport.outcome(applied, database: "SQLite \(path)", phases: phases)
        do {
            try await database.checkpoint()
        } catch {
            // The migrations are committed; only the tidy-up of the log failed.
            throw CommandError("\(outcome) But afterwards \(error)")
        }
        if !quiet { print(outcome) }
    }
}

/// How migration status and plans are shown.
enum MigrationReport {
    /// Printed before a migration runs.
    static func applying(_ migration: Migration) -> String {
        "applying \(migration.phase) \(migration.id)…"
    }

    /// Printed after ``applying(_:)`` when a concurrent migrator applied that
    /// migration while this one waited for the lock.
    static let appliedElsewhere = "  already applied by another migrator while this one waited; skipped"

    /// The last line of `tally migrate all | pre | post`.
    static func outcome(_ applied: [Migration], database: String, phases: Set<Migration.Phase>) -> String {
        let which = phases.count == Migration.Phase.allCases.count ? "all" : phases.map(\.rawValue).sorted().joined(separator: ", ")
        return applied.isEmpty
            ? "\(database): up to date (\(which)), nothing to apply."
            : "\(database): applied \(applied.count) migration\(applied.count == 1 ? "" : "s") (\(which))."
    }

    static func status(_ status: MigrationStatus) -> String {
        var lines = ["Database: \(status.database)", ""]
        for phase in Migration.Phase.allCases {
            let entries = status.entries.filter { $0.phase == phase }
            lines.append("\(phase) phase:")
            if entries.isEmpty { lines.append("  (no migrations)") }
            var table = TextTable(["  state", "migration", "applied at"])
            for entry in entries {
                switch entry.state {
                case .applied(let at): table.add(["  applied", entry.id, at.iso8601])
                case .pending: table.add(["  PENDING", entry.id, ""])
                case .changed(let recorded, let current, let at):
                    table.add(["  CHANGED", entry.id, "\(at.iso8601)  recorded checksum \(recorded.prefix(12))…, now \(current.prefix(12))…"])
                case .unknown(let at): table.add(["  UNKNOWN", entry.id, "\(at.iso8601)  (applied by a newer build?)"])
                }
            }
            if !entries.isEmpty { lines.append(contentsOf: table.render().split(separator: "\n").dropFirst(2).map(String.init)) }
            lines.append("")
        }
        lines.append("\(status.appliedCount) applied, \(status.pendingCount) pending, \(status.changedCount) changed.")
        if status.changedCount > 0 {
            lines.append("CHANGED migrations were edited after they ran: restore their original SQL and add a new migration.")
        } else if status.pendingCount > 0 {
            lines.append("Run `tally migrate all` to apply the pending ones (`tally migrate dry-run` shows their SQL).")
        }
        return lines.joined(separator: "\n")
    }

    static func dryRun(
        _ pending: [Migration], database: String,
        before: (Migration) -> [String] = { _ in ["BEGIN IMMEDIATE;"] },
        after: (Migration) -> [String] = { _ in [] }
    ) -> String {
        guard !pending.isEmpty else { return "-- \(database): up to date; `tally migrate all` would run nothing." }
        var lines = ["-- \(database): `tally migrate all` would run \(pending.count) migration(s), each in its own transaction.", ""]
        for migration in pending {
            lines.append("-- \(migration.id) (\(migration.phase) phase, checksum \(migration.checksum.prefix(12))…)")
            lines.append(contentsOf: before(migration))
            lines.append(migration.sql)
            lines.append(contentsOf: after(migration))
            lines.append("COMMIT;")
            lines.append("")
        }
        lines.append("-- Nothing was changed.")
        return lines.joined(separator: "\n")
    }
}
