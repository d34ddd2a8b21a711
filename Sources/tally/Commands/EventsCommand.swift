import ArgumentParser
import Tally

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "List the event catalogue with each event's fields."
    )

    @Flag(help: "Print a JSON Schema per event (a JSON array).")
    var json = false

    func run() async throws {
        if json {
            print(JSONValue.array(AnalyticsEvent.catalogue.map(\.jsonSchema)).prettyPrinted())
            return
        }
        for family in EventFamily.allCases {
            print("\(family.rawValue)")
            var table = TextTable(["  event", "fields (? = optional)"])
            for schema in AnalyticsEvent.catalogue where schema.family == family {
                let fields = schema.members.map { member in
                    "\(member.field.key)\(member.isRequired ? "" : "?"): \(member.field.rule.expectedType)"
                }
                table.add(["  " + schema.name, fields.isEmpty ? "—" : fields.joined(separator: ", ")])
            }
            print(table.render().split(separator: "\n").dropFirst(2).joined(separator: "\n"))
            print("")
        }
        print("\(AnalyticsEvent.catalogue.count) events. Custom events: any other name, properties under the generic limits")
        print("(32 KB encoded, nesting depth 8, 256 keys, keys ≤ 128 bytes) and the PII policy. `tally events --json` for JSON Schema.")
    }
}
