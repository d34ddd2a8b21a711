import Foundation
import TallySQLite

/// The baseline of DESIGN.md §8: the `sqlite3` shell's `.import` of the CSV into
/// a fresh WAL database with the schema and indexes of `SQLiteMigrations.all`
/// and a 256 MB page cache, timed as a subprocess.
struct SQLiteShell {
    var executable: String

    struct ImportResult {
        var seconds: Double
        var rows: Int
        var version: String
        var synchronous: String
        var errors: String
    }

    func importCSV(_ csvPath: String, into databasePath: String, cacheKiB: Int) throws -> ImportResult {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: databasePath + suffix) }
        // The schema, untimed: the migrations' own SQL, as Tally creates it.
        let schema = "PRAGMA journal_mode=WAL;\n" + SQLiteMigrations.all.map(\.sql).joined(separator: ";\n") + ";\n"
        _ = try run([databasePath], input: schema)

        // The timed part: the shell opens the file, sets the cache and imports in
        // one transaction (what `.import` does), with the shell's default
        // synchronous setting, which the result reports.
        let script = """
            PRAGMA cache_size=-\(cacheKiB);
            .import --csv \(csvPath) analytics_events

            """
        let start = ContinuousClock.now
        let output = try run([databasePath], input: script)
        let elapsed = ContinuousClock.now - start

        let facts = try run([databasePath], input: """
            SELECT count(*) FROM analytics_events;
            SELECT sqlite_version();
            PRAGMA synchronous;
            PRAGMA journal_mode;

            """).stdout.split(separator: "\n").map(String.init)
        guard facts.count >= 4, let rows = Int(facts[0]) else {
            throw ShellError(message: "unexpected answer from \(executable): \(facts)")
        }
        guard facts[3] == "wal" else { throw ShellError(message: "the baseline database is not in WAL mode: \(facts[3])") }
        let synchronous = ["0": "OFF", "1": "NORMAL", "2": "FULL", "3": "EXTRA"][facts[2]] ?? facts[2]
        return ImportResult(seconds: elapsed.inSeconds, rows: rows, version: facts[1], synchronous: synchronous,
                            errors: String(output.stderr.prefix(500)))
    }

    /// Runs the shell on `arguments` with `input` on standard input.
    private func run(_ arguments: [String], input: String) throws -> (stdout: String, stderr: String) {
        let directory = FileManager.default.temporaryDirectory.path
        let token = UUID().uuidString
        let inputPath = directory + "/tally-bench-\(token).in"
        let outputPath = directory + "/tally-bench-\(token).out"
        let errorPath = directory + "/tally-bench-\(token).err"
        defer { for path in [inputPath, outputPath, errorPath] { try? FileManager.default.removeItem(atPath: path) } }
        try Data(input.utf8).write(to: URL(fileURLWithPath: inputPath))
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle(forReadingAtPath: inputPath)
        process.standardOutput = FileHandle(forWritingAtPath: outputPath)
        process.standardError = FileHandle(forWritingAtPath: errorPath)
        try process.run()
        process.waitUntilExit()
        let stdout = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw ShellError(message: "\(executable) exited with \(process.terminationStatus): \(stderr.prefix(500))")
        }
        return (stdout, stderr)
    }
}

struct ShellError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

extension Duration {
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
