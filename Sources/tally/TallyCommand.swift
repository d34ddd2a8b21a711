import ArgumentParser
import Tally

@main
struct TallyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tally",
        abstract: "Privacy-first, offline-first product analytics.",
        discussion: """
            The database comes from --database, else DATABASE_URL, else PLATFORM_DATABASE_URL, \
            else the embedded SQLite file ./tally.sqlite.
            """,
        version: TallyVersion.current,
        subcommands: [ServeCommand.self, MigrateCommand.self, KeysCommand.self, RetentionCommand.self, DemoCommand.self, RefreshCommand.self,
                      ReportCommand.self, ImportCommand.self, ExportCommand.self, EventsCommand.self]
    )

}
