import ArgumentParser
import Foundation
import Tally
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

    /// The SQLite path, or a clear refusal for backends this build does not have yet.
    func sqlitePath() throws -> String {
        let (location, source) = try resolve()
        switch location {
        case .sqlite(let path):
            return path
        case .postgres:
            throw CommandError("""
                the database given by \(source) is PostgreSQL (\(location)), which this build of Tally \
                does not support yet. Use a SQLite file for now, e.g. --database ./tally.sqlite \
                (unset \(source == .flag ? "the flag" : source.description) to get the default).
                """)
        }
    }
}

/// A failure the user can act on; ArgumentParser prints it as `Error: …` and exits 1.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
