import RealModule

/// SplitMix64: a tiny, fast, seedable generator (as in argument-parser's `Examples/roll`).
/// The whole synthetic world is a pure function of its seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<1.
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    /// Uniform integer in a range.
    public mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &self) }
    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { unit() < p }
    /// Standard normal (Box-Muller).
    public mutating func normal() -> Double {
        let u1 = max(unit(), 1e-12)
        let u2 = unit()
        return (-2 * Double.log(u1)).squareRoot() * Double.cos(2 * Double.pi * u2)
    }

    /// Exponential with the given mean.
    public mutating func exponential(mean: Double) -> Double { -Double.log(max(unit(), 1e-12)) * mean }

    /// Log-normal with the given median and shape.
    public mutating func logNormal(median: Double, sigma: Double) -> Double { median * Double.exp(sigma * normal()) }
}
