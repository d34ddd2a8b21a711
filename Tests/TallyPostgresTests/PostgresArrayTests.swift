import PostgresNIO
import Tally
@testable import TallyPostgres
import TallyPostgresTesting
import Testing

@Suite("PostgreSQL arrays read in place")
struct PostgresArrayTests {
    @Test("a server's arrays read back element for element: NULL as nil where optional, empty as empty, timestamps exact")
    func readsArrays() async throws {
        try await TestPostgres.withEmptyDatabase { configuration async throws in
            try await PostgresPool.withRunning(configuration, logger: TestPostgres.logger) { database async throws in
                let rows = try await database.query("""
                    SELECT ARRAY[1, -2, 9223372036854775807]::int8[], ARRAY[1.5, NULL, -0.25]::float8[], '{}'::int8[],
                           ARRAY['\\x0102'::bytea, '\\x'::bytea], ARRAY['2026-11-23T08:00:00.000001Z'::timestamptz]
                    """) { row in
                    var cells = PostgresCells(row)
                    return (try cells.next(PostgresArray<Int64>.self).elements, try cells.next(PostgresArray<Double?>.self).elements,
                            try cells.next(PostgresArray<Int64>.self).elements, try cells.next(PostgresArray<ByteBuffer>.self).elements,
                            try cells.next(PostgresArray<PostgresTimestamp>.self).elements)
                }
                let (integers, doubles, empty, bytes, times) = try #require(rows.first)
                #expect(integers == [1, -2, Int64.max])
                #expect(doubles == [1.5, nil, -0.25])
                #expect(empty.isEmpty)
                #expect(bytes.map { Array($0.readableBytesView) } == [[1, 2], []])
                #expect(times.map(\.timestamp) == [Timestamp(iso8601: "2026-11-23T08:00:00.000001Z")!])
            }
        }
    }

    @Test("a NULL where the element is not optional, or another element type, is a decoding error naming the column")
    func refusesWhatItCannotHold() async throws {
        try await TestPostgres.withEmptyDatabase { configuration async throws in
            try await PostgresPool.withRunning(configuration, logger: TestPostgres.logger) { database async throws in
                for sql in ["SELECT ARRAY[1, NULL]::int8[] AS counts", "SELECT ARRAY[1.5, 2]::float8[] AS counts"] {
                    let error = await #expect(throws: PostgresStoreError.self) {
                        try await database.query(PostgresQuery(unsafeSQL: sql)) { row in
                            var cells = PostgresCells(row)
                            return try cells.next(PostgresArray<Int64>.self).elements
                        }
                    }
                    #expect(error?.description.contains("column counts") == true, "\(String(describing: error))")
                }
            }
        }
    }
}
