import Tally
import TallyTesting
import Testing

@Suite("Catalogue")
struct CatalogueTests {
    /// The wire names of DESIGN.md §2, copied from the design: this list is the spec.
    static let designWireNames: [String] = [
        // auth
        "auth_login_attempt", "auth_code_verified", "auth_token_refresh", "auth_session_validated", "auth_logout",
        // task
        "task_created", "task_started", "task_completed", "task_failed", "task_cancelled", "task_updated", "task_deleted",
        // integration
        "integration_connected", "integration_disconnected", "integration_used", "integration_error",
        "oauth_flow_started", "oauth_flow_completed",
        // webhook
        "webhook_received", "webhook_processed",
        // cocoon
        "cocoon_registered", "cocoon_connected", "cocoon_disconnected", "cocoon_claimed",
        "cocoon_setup_token_created", "cocoon_setup_token_used",
        // project
        "project_created", "project_updated", "project_deleted",
        // web app
        "page_view", "file_uploaded", "search_performed", "profile_updated",
        // system
        "api_request", "database_query", "application_error",
    ]

    /// The fields DESIGN.md §2 names for some events (`?` marks an optional one).
    static let designFields: [(event: String, required: [String], optional: [String])] = [
        ("auth_login_attempt", ["success", "method"], ["failure_reason"]),
        ("task_created", ["task_id", "command"], ["project_id", "cocoon_id"]),
        ("task_completed", ["task_id", "duration_ms"], []),
        ("task_failed", ["task_id", "error"], ["duration_ms"]),
        ("integration_used", ["provider", "action"], []),
        ("integration_error", ["provider", "error"], []),
        ("oauth_flow_completed", ["provider", "success"], []),
        ("webhook_received", ["provider"], ["event"]),
        ("webhook_processed", ["provider", "success", "duration_ms"], []),
        ("cocoon_disconnected", ["cocoon_id"], ["reason"]),
        ("project_deleted", ["project_id"], []),
        ("page_view", ["path"], ["referrer"]),
        ("file_uploaded", ["file_type", "size_bytes"], []),
        ("search_performed", ["results_count", "query_length"], []),
        ("profile_updated", ["fields"], []),
        ("api_request", ["method", "route", "status_code", "duration_ms"], []),
        ("database_query", ["operation", "duration_ms", "success"], []),
        ("application_error", ["error_type", "severity", "message"], []),
    ]

    static let time = Timestamp(iso8601: "2026-11-23T13:08:17.123456Z")!
    static let arrival = Timestamp(iso8601: "2026-11-23T13:08:18.5Z")!

    // MARK: The catalogue against the design

    @Test func catalogueHasExactlyTheDesignsWireNames() {
        let names = AnalyticsEvent.catalogue.map(\.name)
        #expect(names.count == 36)
        #expect(Self.designWireNames.count == 36)
        #expect(names == Self.designWireNames)
    }

    @Test func catalogueNamesAreUnique() {
        let names = AnalyticsEvent.catalogue.map(\.name)
        #expect(Set(names).count == names.count)
    }

    @Test func everyDesignNameHasASchemaWithItsFamily() throws {
        let families: [String: EventFamily] = [
            "auth": .auth, "task": .task, "integration": .integration, "oauth": .integration, "webhook": .webhook,
            "cocoon": .cocoon, "project": .project, "api": .system, "database": .system, "application": .system,
        ]
        for name in Self.designWireNames {
            let schema = try #require(AnalyticsEvent.schema(named: name), "no schema for \(name)")
            #expect(schema.name == name)
            let prefix = String(name.prefix { $0 != "_" })
            #expect(schema.family == families[prefix] ?? .webApp, "\(name) is in the wrong family")
        }
        #expect(AnalyticsEvent.schema(named: "report_exported") == nil)
        #expect(AnalyticsEvent.schema(named: "Task_Created") == nil)
    }

    @Test func schemasHaveTheFieldsTheDesignNames() throws {
        for (event, required, optional) in Self.designFields {
            let schema = try #require(AnalyticsEvent.schema(named: event))
            for key in required {
                #expect(schema.member(forKey: key)?.isRequired == true, "\(event).\(key) should be required")
            }
            for key in optional {
                #expect(schema.member(forKey: key)?.isRequired == false, "\(event).\(key) should be optional")
            }
        }
        // "each names its provider" / "each names its cocoon_id"
        for schema in AnalyticsEvent.catalogue where schema.family == .integration {
            #expect(schema.member(forKey: "provider")?.isRequired == true, "\(schema.name) should name its provider")
        }
        for schema in AnalyticsEvent.catalogue where schema.family == .cocoon {
            #expect(schema.member(forKey: "cocoon_id")?.isRequired == true, "\(schema.name) should name its cocoon_id")
        }
    }

    // MARK: The examples against the catalogue

    @Test func examplesCoverEveryCatalogueNameExactlyOnce() {
        let names = CatalogueExamples.all.map(\.name)
        #expect(names.count == AnalyticsEvent.catalogue.count)
        #expect(names.sorted() == Self.designWireNames.sorted())
        #expect(Set(names).count == names.count)
    }

    @Test func examplesFillSomeOptionalValuesAndLeaveOthersOut() {
        var filled = 0
        var left = 0
        for example in CatalogueExamples.all {
            for member in example.schema.members where !member.isRequired {
                if example.properties[member.field.key] == nil { left += 1 } else { filled += 1 }
            }
        }
        #expect(filled > 0)
        #expect(left > 0)
    }

    @Test(arguments: CatalogueExamples.all)
    func wireNameIsTheSnakeCaseOfTheCaseName(_ example: AnalyticsEvent) {
        let description = String(describing: example)
        let caseName = String(description.prefix { $0 != "(" })
        var snake = ""
        for character in caseName {
            if character.isUppercase {
                snake += "_" + character.lowercased()
            } else {
                snake.append(character)
            }
        }
        #expect(example.name == snake)
    }

    @Test(arguments: CatalogueExamples.all)
    func nameMatchesSchemaAndExampleIsValid(_ example: AnalyticsEvent) throws {
        #expect(example.name == example.schema.name)
        #expect(example.family == example.schema.family)
        try example.validate()
        #expect(example.payload == .catalogue(example))
        #expect(example.payload.name == example.name)
    }

    @Test(arguments: CatalogueExamples.all)
    func propertiesFollowTheSchema(_ example: AnalyticsEvent) {
        let schema = example.schema
        let properties = example.properties
        for key in properties.keys {
            #expect(schema.member(forKey: key) != nil, "\(example.name) has a property \(key) outside its schema")
        }
        for member in schema.members where member.isRequired {
            #expect(properties[member.field.key] != nil, "\(example.name) lacks required \(member.field.key)")
        }
        for (key, value) in properties {
            #expect(!value.isNull, "\(example.name).\(key) is null; nil optionals must be left out")
        }
    }

    // MARK: Round trips

    @Test(arguments: CatalogueExamples.all)
    func decodingPropertiesGivesBackTheSameEvent(_ example: AnalyticsEvent) throws {
        let decoded = try AnalyticsEvent(name: example.name, properties: example.properties)
        #expect(decoded == example)
        let payload = try EventPayload(name: example.name, properties: example.properties)
        #expect(payload == .catalogue(example))
    }

    @Test(arguments: CatalogueExamples.all)
    func wireJSONRoundTripIsExact(_ example: AnalyticsEvent) throws {
        let event = CatalogueExamples.event(example, at: Self.time, receivedAt: Self.arrival)
        let wire = event.wireJSON
        #expect(wire["type"] == "track")
        #expect(wire["event"] == .string(example.name))
        #expect(wire["messageId"] == .string(event.eventID.uuidString))
        #expect(wire["context"]?["service"] == "api")
        #expect(wire["context"]?["library"]?["name"] == "tally-swift")
        let decoded = try EnrichedEvent(wire: wire, receivedAt: Timestamp(microsecondsSinceEpoch: 0))
        #expect(decoded == event)
    }

    @Test(arguments: CatalogueExamples.all)
    func wireTextRoundTripIsExactAndStable(_ example: AnalyticsEvent) throws {
        let event = CatalogueExamples.event(example, at: Self.time, receivedAt: Self.arrival)
        let text = JSONValue.object(event.wireJSON).serialized()
        let parsed = try JSONValue(parsing: text)
        let object = try #require(parsed.objectValue)
        let decoded = try EnrichedEvent(wire: object, receivedAt: Timestamp(microsecondsSinceEpoch: 0))
        #expect(decoded == event)
        #expect(JSONValue.object(decoded.wireJSON).serialized() == text)
    }

    @Test(arguments: CatalogueExamples.all)
    func enrichedExamplesHaveAValidEnvelope(_ example: AnalyticsEvent) throws {
        let event = CatalogueExamples.event(example, at: Self.time)
        try event.validateEnvelope()
        #expect(event.service == "api")
        #expect(event.userID?.hasPrefix("u_") == true)
        #expect(event.context.libraryName == "tally-swift")
        #expect(event.eventID.version == 7)
        #expect(event.eventID.milliseconds == Self.time.microsecondsSinceEpoch / 1_000)
        #expect(event.data["properties"] == .object(example.properties))
    }

    @Test func enrichedExamplesAreReproducibleAndDistinct() {
        let first = CatalogueExamples.enrichedAll(startingAt: Self.time)
        let second = CatalogueExamples.enrichedAll(startingAt: Self.time)
        #expect(first == second)
        #expect(first.count == CatalogueExamples.all.count)
        #expect(Set(first.map(\.eventID)).count == first.count)
        #expect(first.map(\.timestamp) == first.map(\.timestamp).sorted())
        #expect(first.map(\.eventID) == first.map(\.eventID).sorted())

        let a = CatalogueExamples.event(.authLogout, at: Self.time, seed: 1)
        let b = CatalogueExamples.event(.authLogout, at: Self.time, seed: 2)
        let c = CatalogueExamples.event(.authCodeVerified, at: Self.time, seed: 1)
        #expect(a.eventID != b.eventID)
        #expect(a.eventID != c.eventID)
        #expect(a.eventID == CatalogueExamples.event(.authLogout, at: Self.time, seed: 1).eventID)
    }

    @Test func unknownNamesAreNotCatalogueEvents() throws {
        #expect(try AnalyticsEvent(name: "report_exported", properties: ["format": "csv"]) == nil)
        let payload = try EventPayload(name: "report_exported", properties: ["format": "csv"])
        #expect(payload == .custom(name: "report_exported", properties: ["format": "csv"]))
    }
}
