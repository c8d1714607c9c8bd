/// Fixed-seed hashing: the same value hashes alike in every process, thread and cluster
/// partition, which is what makes sharded runs give the single-process log.
///
/// Routing of a key to a shard is `StableHash.mix(key) % shardCount` (documented in the README).
public enum StableHash {
    /// The fixed seed (the fractional part of the golden ratio).
    public static let seed: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// SplitMix64's finaliser over `x ^ seed`: a bijective, well-mixed 64-bit hash of an integer.
    @inlinable @inline(__always)
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x ^ seed
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Combines two hashes.
    @inlinable @inline(__always)
    public static func combine(_ a: UInt64, _ b: UInt64) -> UInt64 {
        mix(a &* 0x100_0000_01B3 ^ b)
    }

    /// FNV-1a over bytes, then mixed.
    @inlinable
    public static func bytes(_ p: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in p {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01B3
        }
        return mix(h)
    }

    /// A fast hash of a byte string (rows, for the duplicate filter; Call-IDs): sixteen bytes at
    /// a time in two independent lanes, and the last few bytes in one load.
    @inlinable
    public static func words(_ p: UnsafeRawBufferPointer) -> UInt64 {
        guard let base = p.baseAddress else { return mix(0) }
        let n = p.count
        @inline(__always) func load(_ i: Int) -> UInt64 {
            UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
        }
        var a = seed ^ UInt64(truncatingIfNeeded: n)
        var b: UInt64 = 0x94D0_49BB_1331_11EB
        var i = 0
        while i + 16 <= n {
            a = (a ^ load(i)) &* 0xBF58_476D_1CE4_E5B9
            a ^= a >> 31
            b = (b ^ load(i + 8)) &* 0x9E37_79B9_7F4A_7C15
            b ^= b >> 29
            i += 16
        }
        if i + 8 <= n {
            a = (a ^ load(i)) &* 0xBF58_476D_1CE4_E5B9
            a ^= a >> 31
            i += 8
        }
        var t: UInt64 = 0
        if i < n {
            if n >= 8 {
                // The last eight bytes, shifted so that only the ones not yet read remain.
                t = load(n - 8) >> UInt64((8 - (n - i)) * 8)
            } else {
                var shift: UInt64 = 0
                while i < n {
                    t |= UInt64(p[i]) << shift
                    shift += 8
                    i += 1
                }
            }
        }
        return mix(a ^ mix(b) ^ t &* 0xD6E8_FEB8_6659_FD93)
    }

    /// Hash of a string's UTF-8 bytes.
    public static func string(_ s: String) -> UInt64 {
        var s = s
        return s.withUTF8 { bytes(UnsafeRawBufferPointer($0)) }
    }

    /// 16 lowercase hex digits.
    public static func hex(_ x: UInt64) -> String {
        let s = String(x, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
