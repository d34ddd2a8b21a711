import ArgumentParser
import Tally
import TallyServer

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, list and revoke the server's API keys.",
        discussion: """
            A write key sends events for its service and cannot read; a read key queries and \
            cannot write; an admin key queries and answers privacy requests. Only a hash of \
            each key is stored: a key is shown once, when it is created.
            """,
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key and print it (once).")
        @OptionGroup var options: DatabaseOptions
        @Option(help: "The service a write key's events are attributed to (lowercase a–z, 0–9, '-', '_', '.').")
        var service: String
        @Option(help: "write, read or admin.")
        var scope: KeyScope

        /// The rule every stored event's service obeys: a key for a service the
        /// envelope check refuses would have every event it sends rejected.
        func validate() throws {
            if let failure = FieldRule(.slug(maxLength: 100)).check(.string(service)) {
                throw ValidationError("--service \(failure.reason), e.g. --service ios-app")
            }
        }

        func run() async throws {
            let key = APIKey.generate(scope: scope)
            let record = key.record(service: service)
            try await ServerBackends.withBackend(options) { backend in
                try await backend.keys.insert(record)
            }
            print(key)
            print("(\(scope.rawValue) key \(key.id) for service \(service); store it now, it is not shown again)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (ids, never secrets).")
        @OptionGroup var options: DatabaseOptions

        func run() async throws {
            let keys = try await ServerBackends.withBackend(options) { backend in try await backend.keys.keys() }
            guard !keys.isEmpty else {
                print("No keys. Create one with `tally keys create --service NAME --scope write|read|admin` (tally serve creates three on first start).")
                return
            }
            var table = TextTable(["id", "scope", "service", "created", "revoked"])
            for key in keys {
                table.add([key.id, key.scope.rawValue, key.service, key.createdAt.iso8601, key.revokedAt?.iso8601 ?? ""])
            }
            print(table.render())
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key by id; a running server stops accepting it within seconds.")
        @OptionGroup var options: DatabaseOptions
        @Argument(help: "The key's id, as `tally keys list` shows it (the part after tally_<scope>_).")
        var id: String

        func run() async throws {
            let revoked = try await ServerBackends.withBackend(options) { [id] backend in
                try await backend.keys.revoke(id: id, at: .now())
            }
            guard revoked else {
                throw CommandError("no active key has the id \(id); `tally keys list` shows the keys and which are revoked")
            }
            print("Revoked key \(id).")
        }
    }
}

extension KeyScope: ExpressibleByArgument {}
