import ArgumentParser
import Foundation
import Logging
import Tally
import TallyPostgres
import TallySQLite

/// `--database`, shared by every command that touches a store.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "A SQLite file path or a postgres:// URL.",
        discussion: "Defaults to DATABASE_URL, then PLATFORM_DATABASE_URL, then ./tally.sqlite."))
    var database: String?

    /// Flags beat environment variables beat defaults.
    func resolve() throws -> (location: DatabaseLocation, source: DatabaseLocation.Source) {
        do {
            return try DatabaseLocation.resolve(flag: database, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw CommandError(error.description)
        }
    }

    /// The SQLite path, or a clear refusal for commands that work on SQLite only.
    func sqlitePath(command: String = "this command") throws -> String {
        let (location, source) = try resolve()
        switch location {
        case .sqlite(let path):
            return path
        case .postgres:
            throw CommandError("""
                the database given by \(source) is PostgreSQL (\(location)); \(command) works on a SQLite file only \
                for now. Give one with --database ./tally.sqlite \
                (or unset \(source == .flag ? "the flag" : source.description) to get the default).
                """)
        }
    }

    /// The backend the flag or environment names.
    enum Backend {
        case sqlite(path: String)
        case postgres(PostgresPool.Configuration)
    }

    func backend() throws -> Backend {
        let (location, _) = try resolve()
        switch location {
        case .sqlite(let path):
            return .sqlite(path: path)
        case .postgres(let url):
            do {
                return .postgres(try PostgresPool.Configuration(url: url))
            } catch {
                throw CommandError(error.description)
            }
        }
    }
}

extension PostgresPool {
    /// Runs `body` with the database, turning its errors into one line for the user.
    static func withCommandDatabase<Result: Sendable>(
        _ configuration: Configuration,
        _ body: @Sendable (PostgresPool) async throws -> Result
    ) async throws -> Result {
        do {
            return try await withRunning(configuration, logger: Logger(label: "tally.postgres", factory: { _ in SwiftLogNoOpLogHandler() }), body)
        } catch let error as PostgresStoreError {
            throw CommandError(error.description)
        } catch let error as MigrationError {
            throw CommandError(error.description)
        }
    }
}

/// A failure the user can act on; ArgumentParser prints it as `Error: …` and exits 1.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
