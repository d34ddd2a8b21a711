/// Splits a migration's SQL into statements, so each runs on its own and a
/// failure names the statement that failed.
///
/// Semicolons inside quotes ('…', "…"), dollar quotes ($$…$$, $tag$…$tag$) and
/// comments do not split. Comment-only pieces are dropped.
enum SQLStatements {
    static func split(_ sql: String) -> [String] {
        let bytes = Array(sql.utf8)
        var statements: [String] = []
        var start = 0
        var i = 0
        var hasCode = false
        func flush(upTo end: Int) {
            let text = String(decoding: bytes[start..<end], as: UTF8.self)
            if hasCode { statements.append(text.trimmed) }
            hasCode = false
        }
        while i < bytes.count {
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "-") where i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "-"):
                while i < bytes.count, bytes[i] != UInt8(ascii: "\n") { i += 1 }
                continue
            case UInt8(ascii: "/") where i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "*"):
                i += 2
                while i + 1 < bytes.count, !(bytes[i] == UInt8(ascii: "*") && bytes[i + 1] == UInt8(ascii: "/")) { i += 1 }
                i += 2
                continue
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                hasCode = true
                i += 1
                while i < bytes.count, bytes[i] != c { i += 1 }
            case UInt8(ascii: "$"):
                hasCode = true
                var j = i + 1
                while j < bytes.count, bytes[j] == UInt8(ascii: "_") || (bytes[j] | 0x20 >= UInt8(ascii: "a") && bytes[j] | 0x20 <= UInt8(ascii: "z")) { j += 1 }
                if j < bytes.count, bytes[j] == UInt8(ascii: "$") {
                    let tag = bytes[i...j]
                    var k = j + 1
                    while k + tag.count <= bytes.count, !bytes[k..<k + tag.count].elementsEqual(tag) { k += 1 }
                    i = k + tag.count - 1
                }
            case UInt8(ascii: ";"):
                flush(upTo: i)
                start = i + 1
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                break
            default:
                hasCode = true
            }
            i += 1
        }
        flush(upTo: min(i, bytes.count))
        return statements
    }
}

extension String {
    var trimmed: String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
