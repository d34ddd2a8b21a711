import Tally
import TallyGzip
import TallyDevice
import Testing

@Suite("Gzip")
struct GzipTests {
    @Test("compress then decompress gives back the input", arguments: [0, 1, 100, 70_000, 1_000_000])
    func roundTrip(size: Int) throws {
        var rng = SystemRandomNumberGenerator()
        // Half random, half repetitive, so both stored and compressed blocks occur.
        let input = (0..<size).map { i in i % 2 == 0 ? UInt8.random(in: 0...255, using: &rng) : UInt8(i % 7) }
        let compressed = try Gzip.compress(input)
        #expect(compressed.prefix(2) == [0x1F, 0x8B], "gzip magic number")
        #expect(try Gzip.decompress(compressed) == input)
    }

    @Test("JSON shrinks")
    func jsonShrinks() throws {
        let json = Array(String(repeating: #"{"type":"track","event":"page_view","properties":{"path":"/home"}},"#, count: 200).utf8)
        let compressed = try Gzip.compress(json)
        #expect(compressed.count * 5 < json.count)
    }

    @Test("corrupt input is reported as corrupt")
    func corrupt() throws {
        let error = #expect(throws: GzipError.self) { try Gzip.decompress(Array("not gzip at all".utf8)) }
        #expect(error?.code == .corruptInput)
        #expect(error?.description.contains("not gzip data") == true)
    }

    @Test("a cut-off stream is reported as truncated")
    func truncated() throws {
        let compressed = try Gzip.compress(Array(String(repeating: "tally ", count: 1_000).utf8))
        let error = #expect(throws: GzipError.self) { try Gzip.decompress(Array(compressed.prefix(compressed.count / 2))) }
        #expect(error?.code == .truncatedInput)
    }

    @Test("decompression stops at the size limit")
    func bomb() throws {
        let compressed = try Gzip.compress([UInt8](repeating: 0, count: 2_000_000))
        let error = #expect(throws: GzipError.self) { try Gzip.decompress(compressed, maxOutputBytes: 100_000) }
        #expect(error?.code == .outputTooLarge)
    }
}
