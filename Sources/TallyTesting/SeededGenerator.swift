/// A small, fast, reproducible random number generator (SplitMix64) for fixtures,
/// demo data and benchmarks: the same seed always gives the same sequence, on
/// every platform.
///
/// ```swift
/// var rng = SeededGenerator(seed: 42)
/// let id = EventID.generate(at: time, using: &rng)   // the same id on every run
/// ```
///
/// > Warning: Not cryptographically secure. Never use it for keys, tokens or
/// > anything an attacker must not predict.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Hashable {
    private var state: UInt64

    /// - Parameter seed: Any value; equal seeds give equal sequences.
    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        // Steele, Lea and Flood's SplitMix64, as used to seed xoshiro generators.
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
