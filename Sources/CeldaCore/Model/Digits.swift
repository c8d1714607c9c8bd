/// Runs of ASCII digits read a word at a time: phone numbers, IMEIs and IMSIs of 8 to 16
/// digits take two 8-byte loads instead of a loop over their digits.
public enum Digits {
    /// The number `count` digits at `base` spell (8...16 of them, all readable), or `nil` when
    /// one of them is not a digit. The first eight digits, and the last eight with those they
    /// share with the first turned to zeros, together make the number.
    @inlinable @inline(__always)
    public static func eightToSixteen(_ base: UnsafeRawPointer, count n: Int) -> UInt64? {
        let a = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        var b = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self))
        let shared = UInt64(16 - n) * 8
        if shared > 0 { b = (b >> shared) << shared | (0x3030_3030_3030_3030 >> (64 - shared)) }
        guard let hi = eight(a), let lo = eight(b) else { return nil }
        return hi &* powerOfTen(n - 8) &+ lo
    }

    /// 10^k for k in 0...8.
    @inlinable @inline(__always)
    static func powerOfTen(_ k: Int) -> UInt64 {
        switch k {
        case 0: return 1
        case 1: return 10
        case 2: return 100
        case 3: return 1000
        case 4: return 10_000
        case 5: return 100_000
        case 6: return 1_000_000
        case 7: return 10_000_000
        default: return 100_000_000
        }
    }

    /// The number eight ASCII digits spell (the first in the lowest byte), or `nil` when a byte
    /// is not a digit.
    @inlinable @inline(__always)
    public static func eight(_ w: UInt64) -> UInt64? {
        // Every byte 0x30...0x39: its high nibble is 3, and adding 6 does not carry out of its
        // low nibble (no byte carries into the next: each is below 0x40).
        guard (w & 0xF0F0_F0F0_F0F0_F0F0) == 0x3030_3030_3030_3030,
            ((w &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) == 0x3030_3030_3030_3030
        else { return nil }
        let d = w &- 0x3030_3030_3030_3030
        var v = (d &* 10) &+ (d >> 8)
        v = ((v & 0x00FF_00FF_00FF_00FF) &* 100) &+ ((v >> 16) & 0x00FF_00FF_00FF_00FF)
        v = ((v & 0x0000_FFFF_0000_FFFF) &* 10_000) &+ ((v >> 32) & 0x0000_FFFF_0000_FFFF)
        return v & 0xFFFF_FFFF
    }
}
