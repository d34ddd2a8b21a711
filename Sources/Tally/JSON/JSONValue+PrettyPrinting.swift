extension JSONValue {
    /// Indented JSON for people to read (sorted keys, two spaces); `serialized()`
    /// is the compact form for machines.
    public func prettyPrinted(indent: String = "  ") -> String {
        var out = ""
        write(to: &out, level: 0, indent: indent)
        return out
    }

    private func write(to out: inout String, level: Int, indent: String) {
        let pad = String(repeating: indent, count: level + 1)
        let closing = String(repeating: indent, count: level)
        switch self {
        case .array(let items) where !items.isEmpty:
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                item.write(to: &out, level: level + 1, indent: indent)
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += closing + "]"
        case .object(let object) where !object.isEmpty:
            out += "{\n"
            let keys = object.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for (i, key) in keys.enumerated() {
                out += pad + JSONValue.string(key).serialized() + ": "
                object[key]!.write(to: &out, level: level + 1, indent: indent)
                out += i == keys.count - 1 ? "\n" : ",\n"
            }
            out += closing + "}"
        default:
            out += serialized()
        }
    }
}
