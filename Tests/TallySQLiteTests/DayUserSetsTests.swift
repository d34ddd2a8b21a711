@testable import TallySQLite
import Testing

@Suite("DayUserSets")
struct DayUserSetsTests {
    @Test("gives each service's distinct users, as Sets of Strings would, through the table's growth")
    func distinctUsersPerService() {
        // Ids of different lengths, one empty, some beyond ASCII, some equal but
        // for their last byte; a table of 4 slots has to grow many times.
        var ids = (0..<5_000).map { "u_\(String($0, radix: 16))" }
        ids += ["", "é", "ü_long_enough_to_be_stored_out_of_line_✓", "same_prefix_0", "same_prefix_1"]
        let services = ["api", "worker", "a_service_name_longer_than_fifteen_bytes"]
        var sets = DayUserSets(slots: 4)
        var expected: [String: Set<String>] = [:]
        var seed: UInt64 = 42
        for _ in 0..<40_000 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let id = ids[Int(seed >> 33) % ids.count]
            let service = services[Int(seed >> 20) % services.count]
            Array(id.utf8).withUnsafeBufferPointer { sets.add($0, service: service) }
            expected[service, default: []].insert(id)
        }
        let result = sets.sets()
        #expect(result == expected)
        #expect(result.values.allSatisfy { $0.count > 1_000 })
    }
}
