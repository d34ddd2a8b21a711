/// Runs a backend's registered migrations against one database: reports status,
/// prints what would run, applies a phase or both.
///
/// ```swift
/// let migrator = Migrator(migrations: SQLiteMigrations.all, target: database)
/// let applied = try await migrator.migrate(phases: [.pre, .post])
/// ```
public struct Migrator: Sendable {
    public let migrations: [Migration]
    public let target: any MigrationTarget

    /// - Precondition: versions are unique.
    public init(migrations: [Migration], target: any MigrationTarget) {
        precondition(Set(migrations.map(\.version)).count == migrations.count, "migration versions must be unique")
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.target = target
    }

    /// Every registered migration with its state, plus any recorded migration this
    /// build does not know.
    public func status() async throws -> MigrationStatus {
        let applied = try await target.appliedMigrations()
        let appliedByID = Dictionary(applied.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var entries: [MigrationStatus.Entry] = migrations.map { migration in
            guard let record = appliedByID[migration.id] else {
                return .init(id: migration.id, phase: migration.phase, state: .pending, migration: migration)
            }
            if record.checksum != migration.checksum {
                return .init(id: migration.id, phase: migration.phase,
                             state: .changed(recorded: record.checksum, current: migration.checksum, appliedAt: record.appliedAt),
                             migration: migration)
            }
            return .init(id: migration.id, phase: migration.phase, state: .applied(at: record.appliedAt), migration: migration)
        }
        let known = Set(migrations.map(\.id))
        for record in applied where !known.contains(record.id) {
            entries.append(.init(id: record.id, phase: record.phase, state: .unknown(appliedAt: record.appliedAt), migration: nil))
        }
        return MigrationStatus(database: target.displayName, entries: entries)
    }

    /// The migrations of `phases` that `migrate` would apply, in order, without
    /// changing anything.
    public func pending(phases: Set<Migration.Phase>) async throws -> [Migration] {
        try await status().entries.filter { $0.state == .pending && phases.contains($0.phase) }.compactMap(\.migration)
    }

    /// Applies the pending migrations of `phases`, in version order, each in its
    /// own transaction.
    ///
    /// - Parameters:
    ///   - progress: called before each migration runs.
    ///   - appliedElsewhere: called after `progress` when another migrator applied
    ///     that migration while this one waited for the lock, so nothing ran.
    /// - Returns: the migrations this call applied (another migrator may have
    ///   applied some of the pending ones first).
    /// - Throws: ``MigrationError`` when a shipped migration was edited, when `post`
    ///   is asked for while `pre` migrations are pending, or when a statement fails.
    @discardableResult
    public func migrate(
        phases: Set<Migration.Phase>,
        progress: @Sendable (Migration) -> Void = { _ in },
        appliedElsewhere: @Sendable (Migration) -> Void = { _ in }
    ) async throws -> [Migration] {
        let status = try await status()
        if let changed = status.entries.first(where: \.isChanged) {
            throw MigrationError.changedAfterApplying(changed.id)
        }
        let pending = status.entries.filter { $0.state == .pending }
        if phases.contains(.post), !phases.contains(.pre), let blocking = pending.first(where: { $0.phase == .pre }) {
            throw MigrationError.preBeforePost(blocking.id)
        }
        var applied: [Migration] = []
        for entry in pending where phases.contains(entry.phase) {
            guard let migration = entry.migration else { continue }
            progress(migration)
            do {
                if try await target.apply(migration) {
                    applied.append(migration)
                } else {
                    appliedElsewhere(migration)
                }
            } catch let error as MigrationError {
                throw error
            } catch {
                throw MigrationError.failed(migration.id, underlying: String(describing: error))
            }
        }
        return applied
    }
}

/// Every migration's state in one database.
public struct MigrationStatus: Sendable, Hashable {
    public enum State: Sendable, Hashable {
        case applied(at: Timestamp)
        case pending
        /// Applied, but the registered SQL no longer matches what ran.
        case changed(recorded: String, current: String, appliedAt: Timestamp)
        /// Recorded in the database, but not registered in this build (a newer build ran).
        case unknown(appliedAt: Timestamp)
    }

    public struct Entry: Sendable, Hashable {
        public var id: String
        public var phase: Migration.Phase
        public var state: State
        public var migration: Migration?

        public var isChanged: Bool {
            if case .changed = state { return true }
            return false
        }
    }

    public var database: String
    public var entries: [Entry]

    public var pendingCount: Int { entries.filter { $0.state == .pending }.count }
    public var changedCount: Int { entries.filter(\.isChanged).count }
    public var appliedCount: Int {
        entries.filter { if case .applied = $0.state { true } else { false } }.count
    }
}

/// Why migrating stopped.
public struct MigrationError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable { case changedAfterApplying, preBeforePost, failed, unsupported, locked }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        public static let changedAfterApplying = Code(.changedAfterApplying)
        public static let preBeforePost = Code(.preBeforePost)
        public static let failed = Code(.failed)
        public static let unsupported = Code(.unsupported)
        public var description: String { base.rawValue }
    }

    public var code: Code
    public var migrationID: String?
    public var message: String

    public init(code: Code, migrationID: String?, message: String) {
        self.code = code
        self.migrationID = migrationID
        self.message = message
    }

    public var description: String { message }

    static func changedAfterApplying(_ id: String) -> MigrationError {
        MigrationError(code: .changedAfterApplying, migrationID: id, message: """
            migration \(id) was edited after it was applied (its checksum changed). Shipped migrations are \
            never edited: restore its original SQL and put the change in a new migration. Nothing was migrated.
            """)
    }

    static func preBeforePost(_ id: String) -> MigrationError {
        MigrationError(code: .preBeforePost, migrationID: id, message: """
            the pre-phase migration \(id) is still pending, and post migrations build on it: \
            run `tally migrate pre` first (or `tally migrate all`). Nothing was migrated.
            """)
    }

    /// A statement failed; the migration's transaction was rolled back.
    public static func failed(_ id: String, underlying: String) -> MigrationError {
        MigrationError(code: .failed, migrationID: id, message: """
            migration \(id) failed and was rolled back, leaving the database as it was before it: \(underlying)
            """)
    }
}
