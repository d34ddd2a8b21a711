/// The order of `COLLATE "C"` (and of SQLite's default collation): text compared
/// byte by byte as UTF-8, so rows sorted in Swift come out in the order the other
/// backend's `ORDER BY` gives. Swift's own `<` on strings compares Unicode
/// scalars after normalization, which can differ.
///
/// Keys chain with `??`, the first that differs deciding:
/// `ByteOrder.precedes(a.service, b.service) ?? ByteOrder.precedes(a.route, b.route) ?? false`.
enum ByteOrder {
    /// `true` if `a` precedes `b`, `false` if it follows, `nil` if their bytes are equal.
    static func precedes(_ a: String, _ b: String) -> Bool? {
        if a.utf8.elementsEqual(b.utf8) { return nil }
        return a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}
