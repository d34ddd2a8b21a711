import PostgresNIO

/// Reads a row's columns in order, one type at a time. For wide rows read by the
/// thousand: `PostgresRow.decode` of a tuple resolves the tuple's generic
/// metadata at run time on every row.
struct PostgresCells {
    private var iterator: PostgresRow.Iterator

    init(_ row: PostgresRow) {
        iterator = row.makeIterator()
    }

    /// The next column as `T`. Reading past the last column is a mismatch between
    /// the query and its reader: a programming error, not bad data.
    mutating func next<T: PostgresDecodable>(_ type: T.Type) throws -> T {
        guard let cell = iterator.next() else { preconditionFailure("a row has fewer columns than its query selects") }
        return try cell.decode(T.self)
    }
}
