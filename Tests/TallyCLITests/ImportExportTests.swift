import Foundation
import Tally
import TallyTesting
import Testing

@Suite("tally import and export", .serialized)
struct ImportExportTests {
    @Test("demo data exported as NDJSON imports into an empty database unchanged, and a second import stores nothing")
    func roundTrip() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let demo = try TallyProcess.run(["demo", "--users", "40", "--days", "3", "--end", "2026-11-20T12:00:00Z"], in: directory.path)
        #expect(demo.status == 0, "\(demo.stderr)")
        let stored = try #require(demo.stdout.firstMatch(of: /Stored ([0-9,]+) new events/)?.1)
        let demoCount = try #require(Int(stored.replacing(",", with: "")))

        let export = try TallyProcess.run(["export", "--output", "all.ndjson"], in: directory.path)
        #expect(export.status == 0, "\(export.stderr)")
        #expect(export.stderr.contains("Exported \(stored) events to all.ndjson."))
        let exported = try String(contentsOfFile: directory.file("all.ndjson"), encoding: .utf8)
        #expect(exported.split(separator: "\n").count == demoCount)
        #expect(!FileManager.default.fileExists(atPath: directory.file("all.ndjson.partial")))
        let permissions = try FileManager.default.attributesOfItem(atPath: directory.file("all.ndjson"))[.posixPermissions] as? Int
        #expect(permissions == 0o600, "raw events are readable by their owner only")

        let first = try TallyProcess.run(["import", "all.ndjson", "--database", "copy.sqlite"], in: directory.path)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("into SQLite copy.sqlite"), "\(first.stdout)")
        #expect(first.stdout.contains("\(stored) lines, \(stored) stored, 0 already stored, 0 rejected."), "\(first.stdout)")
        #expect(first.stdout.contains("tally refresh --from 2026-11-18 --to 2026-11-21"), "\(first.stdout)")
        #expect(first.stderr.contains("100%"))

        // Every field survives: the copy exports byte for byte the same file.
        let again = try TallyProcess.run(["export", "--database", "copy.sqlite", "--output", "copy.ndjson"], in: directory.path)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try String(contentsOfFile: directory.file("copy.ndjson"), encoding: .utf8) == exported)

        let second = try TallyProcess.run(["import", "all.ndjson", "--database", "copy.sqlite"], in: directory.path)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("0 stored, \(stored) already stored, 0 rejected."), "\(second.stdout)")
    }

    @Test("import names each bad line by number, stores the good ones, exits 1, and a re-run after the fix adds only those")
    func badLines() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let good = #"{"type":"track","event":"app_opened","userId":"u_1","timestamp":"2026-11-02T10:00:00Z","properties":{"cold_start":true,"launch_ms":420}}"#
        let lines = [
            good,
            #"{"type":"track","event":"app_opened","timestamp":"2026-11-02T10:00:01Z""#,  // cut short
            #"{"type":"track","event":"app_opened","userId":"u_2","properties":{"cold_start":true,"launch_ms":5}}"#,  // no time
            "",
            #"{"type":"identify","userId":"u_1","timestamp":"2026-11-02T10:00:02Z","traits":{"plan":"pro"}}"#,
            #"{"type":"purchase","event":"bought","timestamp":"2026-11-02T10:00:03Z"}"#,
            #"{"type":"track","event":"task_completed","userId":"u_3","timestamp":"2026-11-02T10:00:04Z","properties":{"task_id":"t_1","duration_ms":"slow"}}"#,
        ]
        try (lines.joined(separator: "\r\n") + "\r\n").write(toFile: directory.file("events.ndjson"), atomically: true, encoding: .utf8)

        let result = try TallyProcess.run(["import", "events.ndjson", "--service", "backfill"], in: directory.path)
        #expect(result.status == 1)
        #expect(result.stdout.contains("6 lines, 2 stored, 0 already stored, 4 rejected."), "\(result.stdout)")
        #expect(result.stderr.contains("line 2: is not valid JSON"), "\(result.stderr)")
        #expect(result.stderr.contains("line 3: ") && result.stderr.contains("timestamp"), "\(result.stderr)")
        #expect(result.stderr.contains("line 6: ") && result.stderr.contains("must be track, identify, page, screen, group or alias"))
        #expect(result.stderr.contains("line 7: ") && result.stderr.contains("duration_ms"))
        #expect(!result.stderr.contains("line 1:") && !result.stderr.contains("line 5:"))
        #expect(result.stderr.contains("run the same import again"))

        let export = try TallyProcess.run(["export", "--format", "csv"], in: directory.path)
        #expect(export.status == 0, "\(export.stderr)")
        let rows = export.stdout.split(separator: "\n")
        #expect(rows.first == "event_id,timestamp,received_at,event_type,service,user_id,anonymous_id,session_id,properties,context")
        #expect(rows.count == 3)
        #expect(rows[1].contains(",2026-11-02T10:00:00.000000Z,") && rows[1].contains(",app_opened,backfill,u_1,"), "\(rows[1])")
        #expect(rows[2].contains(",identify,backfill,u_1,") && rows[2].contains(#""{""plan"":""pro""}""#), "\(rows[2])")

        // The fixed file: the two stored lines are skipped, the fixed ones added.
        let fixed = [good, lines[4],
                     #"{"type":"track","event":"app_opened","userId":"u_2","timestamp":"2026-11-02T10:00:05Z","properties":{"cold_start":true,"launch_ms":5}}"#]
        try fixed.joined(separator: "\n").write(toFile: directory.file("fixed.ndjson"), atomically: true, encoding: .utf8)
        let rerun = try TallyProcess.run(["import", "fixed.ndjson", "--service", "backfill"], in: directory.path)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stdout.contains("3 lines, 1 stored, 2 already stored, 0 rejected."), "\(rerun.stdout)")
    }

    @Test("export filters by person, type and days; a missing database or input file gets one clear line")
    func filtersAndErrors() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let demo = try TallyProcess.run(["demo", "--users", "20", "--days", "2", "--end", "2026-11-20T12:00:00Z"], in: directory.path)
        #expect(demo.status == 0, "\(demo.stderr)")

        let all = try TallyProcess.run(["export"], in: directory.path).stdout.split(separator: "\n")
        let day = try TallyProcess.run(["export", "--from", "2026-11-20", "--to", "2026-11-20"], in: directory.path).stdout.split(separator: "\n")
        #expect(!day.isEmpty && day.count < all.count)
        #expect(day.allSatisfy { $0.contains(#""timestamp":"2026-11-20T"#) })
        let typed = try TallyProcess.run(["export", "--type", "task_completed"], in: directory.path).stdout.split(separator: "\n")
        #expect(!typed.isEmpty)
        #expect(typed.allSatisfy { $0.contains(#""event":"task_completed""#) })
        #expect(typed.count == all.filter { $0.contains(#""event":"task_completed""#) }.count)
        let person = try #require(all.first?.firstMatch(of: /"userId":"([^"]+)"/)?.1)
        let mine = try TallyProcess.run(["export", "--user", String(person)], in: directory.path).stdout.split(separator: "\n")
        #expect(!mine.isEmpty && mine.allSatisfy { $0.contains(#""userId":"\#(person)""#) || $0.contains(#""anonymousId":"\#(person)""#) })

        let badTime = try TallyProcess.run(["export", "--from", "yesterday"], in: directory.path)
        #expect(badTime.status != 0)
        #expect(badTime.stderr.contains("--from must be a day such as 2026-11-01"))

        let noDatabase = try TallyProcess.run(["export", "--database", "typo.sqlite"], in: directory.path)
        #expect(noDatabase.status == 1)
        #expect(noDatabase.stderr.contains("there is no database at typo.sqlite"), "\(noDatabase.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("typo.sqlite")), "nothing was created")

        let missing = try TallyProcess.run(["import", "nowhere.ndjson"], in: directory.path)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("cannot read nowhere.ndjson: No such file or directory"), "\(missing.stderr)")
        #expect(missing.stderr.split(separator: "\n").count == 1)
    }
}
