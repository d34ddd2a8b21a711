#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The distinct users of each service among a day's rows, built from SQLite's
/// bytes as the rows are read. A million rows name only some 60k users (README):
/// each distinct id is copied and made a String once, at the end, and a row
/// costs a hash of its bytes and a bit set, instead of a String (an allocation:
/// ids are longer than 15 bytes) hashed into a `Set` per service.
struct DayUserSets {
    /// Open addressing over the users: a slot holds a user's index + 1, 0 if empty.
    private var slots: [Int32]
    private var mask: Int
    /// Per user index: the hash of its bytes, and where they start in `bytes`
    /// (user i is `bytes[starts[i]..<starts[i + 1]]`).
    private var hashes: [UInt64] = []
    private var starts: [Int] = [0]
    private var bytes: [UInt8] = []
    /// Per service, one bit per user index.
    private var services: [String] = []
    private var members: [[UInt64]] = []
    private var lastService = -1

    /// - Parameter slots: the initial table size, a power of two; it doubles as needed.
    init(slots: Int = 1 << 16) {
        precondition(slots > 0 && slots & (slots - 1) == 0, "slots must be a power of two")
        self.slots = Array(repeating: 0, count: slots)
        mask = slots - 1
    }

    /// Notes that `user` (its UTF-8 bytes) used `service`.
    mutating func add(_ user: UnsafeBufferPointer<UInt8>, service: String) {
        let s = serviceIndex(service)
        let u = userIndex(user)
        let word = u >> 6
        if members[s].count <= word {
            members[s].append(contentsOf: repeatElement(0, count: Swift.max(word + 1 - members[s].count, members[s].count)))
        }
        members[s][word] |= 1 << UInt64(u & 63)
    }

    /// Each service's distinct users.
    func sets() -> [String: Set<String>] {
        let names = (0..<hashes.count).map { i in String(decoding: bytes[starts[i]..<starts[i + 1]], as: UTF8.self) }
        var result: [String: Set<String>] = [:]
        for (s, service) in services.enumerated() {
            var set = Set<String>(minimumCapacity: members[s].reduce(0) { $0 + $1.nonzeroBitCount })
            for (w, word) in members[s].enumerated() where word != 0 {
                var bits = word
                while bits != 0 {
                    set.insert(names[w << 6 | bits.trailingZeroBitCount])
                    bits &= bits - 1
                }
            }
            result[service] = set
        }
        return result
    }

    /// Services are few, and the String comes from the reader's interner, so
    /// the last one matches most rows at the cost of comparing two pointers.
    private mutating func serviceIndex(_ service: String) -> Int {
        if lastService >= 0, services[lastService] == service { return lastService }
        if let found = services.firstIndex(of: service) {
            lastService = found
        } else {
            services.append(service)
            members.append([])
            lastService = services.count - 1
        }
        return lastService
    }

    private mutating func userIndex(_ user: UnsafeBufferPointer<UInt8>) -> Int {
        let hash = TextInterner.fnv1a(user)
        var slot = Self.slot(hash, mask)
        while slots[slot] != 0 {
            let index = Int(slots[slot]) - 1
            if hashes[index] == hash, stored(index, equals: user) { return index }
            slot = (slot + 1) & mask
        }
        let index = hashes.count
        hashes.append(hash)
        bytes.append(contentsOf: user)
        starts.append(bytes.count)
        slots[slot] = Int32(index + 1)
        if hashes.count * 2 > slots.count { grow() }
        return index
    }

    private func stored(_ index: Int, equals user: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = starts[index], count = starts[index + 1] - start
        guard count == user.count else { return false }
        guard count > 0 else { return true }
        return bytes.withUnsafeBufferPointer { memcmp($0.baseAddress! + start, user.baseAddress!, count) == 0 }
    }

    /// Doubles the table, placing every user again by its stored hash.
    private mutating func grow() {
        var slots = [Int32](repeating: 0, count: self.slots.count * 2)
        let mask = slots.count - 1
        for (index, hash) in hashes.enumerated() {
            var slot = Self.slot(hash, mask)
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(index + 1)
        }
        self.slots = slots
        self.mask = mask
    }

    private static func slot(_ hash: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: hash ^ (hash >> 32)) & mask
    }
}
