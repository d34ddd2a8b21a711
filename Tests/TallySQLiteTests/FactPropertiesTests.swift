@testable import TallySQLite
import Testing

@Suite("FactProperties")
struct FactPropertiesTests {
    static let api: FactProperties.Fields = [.durationMs, .statusCode, .method, .route]
    static let all: FactProperties.Fields = [.durationMs, .statusCode, .method, .route, .provider, .errorType, .cocoonID, .success]

    static func scan(_ text: String, _ wanted: FactProperties.Fields = all) -> FactProperties {
        var interner = TextInterner()
        return Array(text.utf8).withUnsafeBufferPointer { FactProperties(data: $0, wanted: wanted, interner: &interner) }
    }

    @Test("reads the wanted properties of `properties`, not the same keys elsewhere (context, nested objects)")
    func wantedPropertiesOnly() {
        let text = #"""
            { "context" : {"method":"POST","properties":{"route":"/ctx"}},
              "properties": {"nested":{"route":"/inner","list":["}",{"method":"x"}]},
                             "duration_ms": 3.25, "method":"GET", "route":"/v1/tasks/:id", "status_code":503,
                             "provider":"github", "success": true } }
            """#
        let p = Self.scan(text, Self.api)
        #expect(p.durationMs == 3.25)
        #expect(p.statusCode == 503)
        #expect(p.method == "GET")
        #expect(p.route == "/v1/tasks/:id")
        #expect(p.provider == nil && p.success == nil, "not wanted")
        let q = Self.scan(text, [.provider, .success])
        #expect(q.provider == "github" && q.success == true)
        #expect(q.method == nil && q.durationMs == nil)
    }

    @Test("decodes escapes as JSON does, surrogate pairs included, and an invalid escape as U+FFFD")
    func escapes() {
        let p = Self.scan(#"{"properties":{"route":"\/v1\/a\"b\\c\n\t","error_type":"\u00e9\ud83d\ude00","cocoon_id":"\ud83d!","method":"plain é"}}"#)
        #expect(p.route == "/v1/a\"b\\c\n\t")
        #expect(p.errorType == "é😀")
        #expect(p.cocoonID == "\u{FFFD}!")
        #expect(p.method == "plain é")
    }

    @Test("a property of another JSON type than its field's is nil, and the properties after it are still read")
    func wrongTypes() {
        let p = Self.scan(#"{"properties":{"duration_ms":"3.2","status_code":200.5,"success":1,"method":5,"provider":{"a":"}"},"route":"/r","error_type":null,"cocoon_id":["c"]}}"#)
        #expect(p.durationMs == nil)
        #expect(p.statusCode == nil)
        #expect(p.success == nil)
        #expect(p.method == nil)
        #expect(p.provider == nil)
        #expect(p.route == "/r")
        #expect(p.errorType == nil)
        #expect(p.cocoonID == nil)
        #expect(Self.scan(#"{"properties":{"status_code":"200","success":false}}"#).statusCode == nil)
        #expect(Self.scan(#"{"properties":{"success":false}}"#).success == false)
    }

    @Test("numbers convert as Swift's Double(String) does", arguments: ["0", "-0.5", "1e3", "1.5E-2", "12345.678901234567", "-7", "2.2250738585072014e-308"])
    func numbers(text: String) {
        let p = Self.scan(#"{"properties":{"duration_ms":\#(text),"status_code":\#(text)}}"#)
        #expect(p.durationMs == Double(text))
        #expect(p.statusCode == Int(text))
    }

    @Test("malformed or cut-off text never crashes and never gives a value that is not in it")
    func malformed() {
        let whole = #"{"context":{"a":[1,{"b":"\"}"}]},"properties":{"duration_ms":12.5,"method":"GET","success":true,"status_code":201}}"#
        let bytes = Array(whole.utf8)
        for end in 0...bytes.count {
            let p = Array(bytes[0..<end]).withUnsafeBufferPointer { buffer in
                var interner = TextInterner()
                return FactProperties(data: buffer, wanted: Self.all, interner: &interner)
            }
            // A number cut short reads as its prefix (12 of 12.5): the scanner
            // does not validate what follows; a string or literal cut short is nil.
            #expect(p.durationMs == nil || p.durationMs == 12.5 || p.durationMs == 12 || p.durationMs == 1, "cut at \(end)")
            #expect(p.method == nil || p.method == "GET", "cut at \(end)")
            #expect(p.success == nil || p.success == true, "cut at \(end)")
            #expect(p.statusCode == nil || [2, 20, 201].contains(p.statusCode!), "cut at \(end)")
        }
        for text in ["", "[]", "{", "{\"properties\":", "{\"properties\":[1,2]}", "null", "{\"properties\":{\"method\" \"GET\"}}",
                     "{\"properties\":{,}}", "\u{0}\u{1}\u{2}"] {
            let p = Self.scan(text)
            #expect(p.method == nil && p.durationMs == nil, "\(text)")
        }
    }
}
