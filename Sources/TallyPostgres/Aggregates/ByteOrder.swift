/// The order of `COLLATE "C"` (and of SQLite's default collation): text compared
/// byte by byte as UTF-8, so rows sorted in Swift come out in the order the other
/// backend's `ORDER BY` gives. Swift's own `<` on strings compares Unicode
/// scalars after normalization, which can differ.
enum ByteOrder {
    /// Whether `a` comes before `b`, comparing the first strings, then the second, then the third.
    static func precedes(_ a: (String, String, String), _ b: (String, String, String)) -> Bool {
        if let order = compare(a.0, b.0) { return order }
        if let order = compare(a.1, b.1) { return order }
        return compare(a.2, b.2) ?? false
    }

    /// `true` if `a` precedes `b`, `false` if it follows, `nil` if their bytes are equal.
    private static func compare(_ a: String, _ b: String) -> Bool? {
        if a.utf8.elementsEqual(b.utf8) { return nil }
        return a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}
