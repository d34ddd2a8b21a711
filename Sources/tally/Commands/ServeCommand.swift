import ArgumentParser
import Foundation
import Logging
import Tally
import TallyServer
import TallySQLite

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the server: Segment-compatible ingest, the query API, the dashboard, privacy endpoints and /metrics.",
        discussion: """
            One process runs the HTTP server, the worker (which replays events spilled while the \
            store was down), the aggregate refresher and, on PostgreSQL, the partition lifecycle. \
            The database is migrated on start. On a database without keys it creates a write, a \
            read and an admin key and prints them once. Stop it with Ctrl-C (SIGINT) or SIGTERM: \
            it stops accepting, finishes its requests and drains.
            """
    )

    @OptionGroup var options: DatabaseOptions

    @Option(help: ArgumentHelp("Address to listen on.", discussion: "Defaults to TALLY_HOST, else 127.0.0.1 (this machine only)."))
    var host: String?

    @Option(help: ArgumentHelp("Port to listen on.", discussion: "Defaults to TALLY_PORT, else 8080."))
    var port: Int?

    @Option(help: ArgumentHelp("SQLite file for events accepted while the store is down.",
                               discussion: "Defaults to <database>.spill.sqlite next to a SQLite database, else ./tally-spill.sqlite."))
    var spill: String?

    @Option(help: "Ingest requests per second allowed per write key (bursts of twice that).")
    var rateLimit: Double = 500

    @Option(help: "Seconds between refreshes of days that received events (the whole 3-day window is refreshed hourly).")
    var refreshEvery: Int = 30

    @Option(help: ArgumentHelp("Whether /dashboard asks for a read key: auto, on or off.",
                               discussion: "auto: only when listening on an address other than loopback."))
    var dashboardKey: DashboardKey = .auto

    enum DashboardKey: String, ExpressibleByArgument, CaseIterable { case auto, on, off }

    func validate() throws {
        if let port, !(1...65_535).contains(port) { throw ValidationError("--port must be between 1 and 65535") }
        guard rateLimit > 0 else { throw ValidationError("--rate-limit must be more than 0") }
        guard refreshEvery > 0 else { throw ValidationError("--refresh-every must be at least 1") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var configuration = TallyServer.Configuration()
        configuration.host = host ?? environment["TALLY_HOST"] ?? "127.0.0.1"
        if let port { configuration.port = port } else if let text = environment["TALLY_PORT"] {
            guard let value = Int(text), (1...65_535).contains(value) else {
                throw CommandError("TALLY_PORT is '\(text)'; set it to a port number between 1 and 65535, or pass --port")
            }
            configuration.port = value
        }
        configuration.rateLimit.requestsPerSecond = rateLimit
        configuration.rateLimit.burst = rateLimit * 2
        configuration.refresh.dirtyInterval = .seconds(refreshEvery)
        configuration.dashboardRequiresKey = switch dashboardKey { case .auto: nil; case .on: true; case .off: false }
        let spillPath = try spillPath()
        let settings = configuration

        let address = "http://\(configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host):\(configuration.port)"
        try await ServerBackends.withBackend(options) { backend in
            try await Self.createFirstKeys(in: backend.keys, serverAddress: address)
            let spillDatabase = try SQLiteDatabase(path: spillPath)
            try await Migrator(migrations: SQLiteMigrations.all, target: SQLiteMigrationTarget(database: spillDatabase)).migrate(phases: [.pre])
            let server = TallyServer(backend: backend, spill: SQLiteEventQueue(database: spillDatabase), configuration: settings)
            let app = server.application { _ in
                print("""
                    Tally is serving \(backend.description) on \(address)
                      dashboard  \(address)/dashboard\(settings.dashboardNeedsKeyDescription)
                      ingest     POST \(address)/v1/batch (Segment-compatible; write key as the Basic user)
                      API        \(address)/openapi.yaml
                    Ctrl-C stops it gracefully.
                    """)
                fflush(nil)  // shown at once even when stdout is a file or a pipe
            }
            try await app.runService()
        }
    }

    private func spillPath() throws -> String {
        if let spill { return spill }
        switch try options.backend() {
        case .sqlite(let path): return path + ".spill.sqlite"
        case .postgres: return "./tally-spill.sqlite"
        }
    }

    /// A fresh database gets one key of each scope, printed once: only hashes are kept.
    static func createFirstKeys(in store: any APIKeyStore, serverAddress: String) async throws {
        guard try await store.keys().isEmpty else { return }
        var keys: [APIKey] = []
        for (scope, service) in [(KeyScope.write, "default"), (.read, "dashboard"), (.admin, "admin")] {
            let key = APIKey.generate(scope: scope)
            try await store.insert(key.record(service: service))
            keys.append(key)
        }
        print("""
            No API keys yet, so these were created (shown only now; `tally keys create` makes more):
            \(keys.map { "  \($0.scope.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)) \($0)" }.joined(separator: "\n"))
            Send events with the write key, e.g.
              tally demo --server \(serverAddress) --write-key \(keys[0])

            """)
        fflush(nil)
    }
}

extension TallyServer.Configuration {
    var dashboardNeedsKeyDescription: String {
        if dashboardNeedsKey { return " (read key as the Basic user)" }
        return dashboardRequiresKey == false ? "" : " (open: this machine only)"
    }
}
