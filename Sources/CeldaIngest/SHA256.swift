/// Incremental SHA-256 (FIPS 180-4), used for input and configuration fingerprints.
///
/// Feed the message in any number of ``update(_:)-(UnsafeRawBufferPointer)`` calls, of any sizes, then call
/// ``finalize()`` exactly once to get the 32-byte digest. Splitting the input differently never changes the digest.
///
/// ```swift
/// var hasher = SHA256()
/// hasher.update("abc".utf8)
/// let digest = hasher.finalize()  // 32 bytes
/// print(SHA256.hex(digest))       // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// ```
///
/// The value is small (state, a 64-byte partial block and two counters) and never allocates while hashing:
/// whole 64-byte blocks are compressed straight from the caller's memory, and only a trailing partial block
/// is copied into inline storage. Pure Swift, no Foundation. As the standard requires, a message must be shorter
/// than 2^64 bits (2 EiB).
package struct SHA256: Sendable {
    /// The eight 32-bit chaining words H0...H7.
    private typealias Words = (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)

    /// Inline storage for one 64-byte block, as eight `UInt64`s so that it is 8-byte aligned.
    private typealias Block = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

    /// The block size of SHA-256, in bytes.
    private static let blockSize = 64

    /// The current chaining value, initialised to the FIPS 180-4 §5.3.3 constants.
    private var state: Words = (
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19
    )

    /// Bytes received but not yet compressed: the first `pendingCount` bytes of this block are valid.
    private var pending: Block = (0, 0, 0, 0, 0, 0, 0, 0)

    /// Number of valid bytes in `pending`, always in `0..<64` between calls.
    private var pendingCount = 0

    /// Total number of message bytes received so far (wrapping; only the low 61 bits matter, see the type docs).
    private var byteCount: UInt64 = 0

    #if DEBUG
    /// Set by ``finalize()``; catches accidental reuse in debug builds.
    private var finalized = false
    #endif

    /// Creates a hasher for a new, empty message.
    package init() {}

    /// Appends the bytes in `bytes` to the message.
    ///
    /// Whole blocks are compressed directly from `bytes`; at most 63 bytes are copied into the partial block.
    ///
    /// - Parameter bytes: The next part of the message. It may be empty and need not be aligned.
    package mutating func update(_ bytes: UnsafeRawBufferPointer) {
        #if DEBUG
        assert(!finalized, "SHA256 used after finalize()")
        #endif
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        var input = base
        var remaining = bytes.count
        byteCount &+= UInt64(truncatingIfNeeded: remaining)

        // Top up a partial block first.
        if pendingCount > 0 {
            let take = min(Self.blockSize - pendingCount, remaining)
            let offset = pendingCount
            withUnsafeMutableBytes(of: &pending) { buffer in
                (buffer.baseAddress! + offset).copyMemory(from: input, byteCount: take)
            }
            pendingCount += take
            input += take
            remaining -= take
            if pendingCount < Self.blockSize { return }
            compressPending()
            pendingCount = 0
        }

        // Then every whole block straight from the caller's memory.
        let wholeBlocks = remaining / Self.blockSize
        if wholeBlocks > 0 {
            Self.compress(&state, input, blocks: wholeBlocks)
            input += wholeBlocks * Self.blockSize
            remaining -= wholeBlocks * Self.blockSize
        }

        // Keep the tail for later.
        if remaining > 0 {
            withUnsafeMutableBytes(of: &pending) { buffer in
                buffer.baseAddress!.copyMemory(from: input, byteCount: remaining)
            }
            pendingCount = remaining
        }
    }

    /// Appends a sequence of bytes to the message.
    ///
    /// Contiguous sequences (`[UInt8]`, `ArraySlice<UInt8>`, native `String.UTF8View`, …) are hashed in place;
    /// other sequences are copied through a small stack buffer.
    ///
    /// - Parameter bytes: The next part of the message.
    package mutating func update<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            update(UnsafeRawBufferPointer(buffer))
        }
        if done != nil { return }

        let chunkSize = 1024
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: chunkSize) { chunk in
            var count = 0
            for byte in bytes {
                chunk[count] = byte
                count += 1
                if count == chunkSize {
                    update(UnsafeRawBufferPointer(chunk))
                    count = 0
                }
            }
            if count > 0 {
                update(UnsafeRawBufferPointer(start: chunk.baseAddress, count: count))
            }
        }
    }

    /// Pads the message, processes the last block(s) and returns the digest.
    ///
    /// The hasher must not be used again afterwards (checked in debug builds); start a new ``init()`` instead.
    ///
    /// - Returns: The 32-byte SHA-256 digest, most significant byte first.
    package mutating func finalize() -> [UInt8] {
        #if DEBUG
        assert(!finalized, "SHA256.finalize() called twice")
        finalized = true
        #endif
        let bitLength = byteCount &<< 3
        let used = pendingCount
        withUnsafeMutableBytes(of: &pending) { buffer in
            buffer[used] = 0x80
            for index in (used + 1)..<Self.blockSize { buffer[index] = 0 }
        }
        if used >= Self.blockSize - 8 {
            // No room for the 64-bit length: it goes into an extra block of zeros.
            compressPending()
            pending = (0, 0, 0, 0, 0, 0, 0, 0)
        }
        withUnsafeMutableBytes(of: &pending) { buffer in
            buffer.storeBytes(of: bitLength.bigEndian, toByteOffset: Self.blockSize - 8, as: UInt64.self)
        }
        compressPending()
        pendingCount = 0

        let words = state
        return [UInt8](unsafeUninitializedCapacity: 32) { digest, initializedCount in
            let raw = UnsafeMutableRawBufferPointer(digest)
            withUnsafeBytes(of: words) { source in
                for index in 0..<8 {
                    let word = source.load(fromByteOffset: index * 4, as: UInt32.self)
                    raw.storeBytes(of: word.bigEndian, toByteOffset: index * 4, as: UInt32.self)
                }
            }
            initializedCount = 32
        }
    }

    /// Formats a digest (or any bytes) as lowercase hexadecimal, two characters per byte.
    ///
    /// - Parameter digest: The bytes to format, typically the result of ``finalize()``.
    /// - Returns: A string of `2 * digest.count` characters from `0-9a-f`.
    package static func hex(_ digest: [UInt8]) -> String {
        var ascii: [UInt8] = []
        ascii.reserveCapacity(digest.count * 2)
        for byte in digest {
            ascii.append(hexDigit(byte >> 4))
            ascii.append(hexDigit(byte & 0x0f))
        }
        return String(decoding: ascii, as: UTF8.self)
    }

    /// Hashes the UTF-8 encoding of `text` in one go.
    ///
    /// - Parameter text: The message.
    /// - Returns: The digest as 64 lowercase hexadecimal characters.
    package static func hash(_ text: String) -> String {
        var hasher = SHA256()
        var text = text
        text.withUTF8 { hasher.update(UnsafeRawBufferPointer($0)) }
        return hex(hasher.finalize())
    }

    // MARK: - Internals

    /// The ASCII character for a nibble in `0...15`.
    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? 0x30 &+ nibble : 0x57 &+ nibble  // "0" = 0x30, "a" - 10 = 0x57
    }

    /// Compresses the full 64-byte `pending` block into `state`.
    private mutating func compressPending() {
        var words = state
        withUnsafeBytes(of: &pending) { buffer in
            Self.compress(&words, buffer.baseAddress!, blocks: 1)
        }
        state = words
    }

    /// Right rotation of a 32-bit word by `count` bits (`0 < count < 32`).
    @inline(__always)
    private static func rotr(_ value: UInt32, _ count: UInt32) -> UInt32 {
        (value &>> count) | (value &<< (32 &- count))
    }

    /// σ0 of the message schedule (FIPS 180-4 §4.1.2, (4.6)).
    @inline(__always)
    private static func smallSigma0(_ x: UInt32) -> UInt32 { rotr(x, 7) ^ rotr(x, 18) ^ (x &>> 3) }

    /// σ1 of the message schedule (FIPS 180-4 §4.1.2, (4.7)).
    @inline(__always)
    private static func smallSigma1(_ x: UInt32) -> UInt32 { rotr(x, 17) ^ rotr(x, 19) ^ (x &>> 10) }

    /// Σ0 of the compression function (FIPS 180-4 §4.1.2, (4.4)).
    @inline(__always)
    private static func bigSigma0(_ x: UInt32) -> UInt32 { rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22) }

    /// Σ1 of the compression function (FIPS 180-4 §4.1.2, (4.5)).
    @inline(__always)
    private static func bigSigma1(_ x: UInt32) -> UInt32 { rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25) }

    /// One round of FIPS 180-4 §6.2.2 step 3 with the working variables passed in rotated order: adds T1 to `d`
    /// and stores T1 + T2 in `h`, so that after eight calls the names line up again.
    @inline(__always)
    private static func round(
        _ a: UInt32,
        _ b: UInt32,
        _ c: UInt32,
        _ d: inout UInt32,
        _ e: UInt32,
        _ f: UInt32,
        _ g: UInt32,
        _ h: inout UInt32,
        _ kw: UInt32
    ) {
        let t1 = h &+ bigSigma1(e) &+ (g ^ (e & (f ^ g))) &+ kw
        d &+= t1
        h = t1 &+ bigSigma0(a) &+ ((a & b) | (c & (a | b)))
    }

    /// Big-endian 32-bit word `index` of the block at `block`, which need not be aligned.
    @inline(__always)
    private static func word(_ block: UnsafeRawPointer, _ index: Int) -> UInt32 {
        UInt32(bigEndian: block.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self))
    }

    /// Runs the SHA-256 compression function over `blocks` consecutive 64-byte blocks at `data`
    /// (FIPS 180-4 §6.2.2), updating `state` in place.
    private static func compress(_ state: inout Words, _ data: UnsafeRawPointer, blocks: Int) {
        var (h0, h1, h2, h3, h4, h5, h6, h7) = state
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { schedule in
            let w = schedule.baseAddress!
            roundConstants.withUnsafeBufferPointer { constants in
                let k = constants.baseAddress!
                var block = data
                for _ in 0..<blocks {
                    for t in 0..<16 {
                        w[t] = word(block, t)
                    }
                    for t in 16..<64 {
                        w[t] = smallSigma1(w[t &- 2]) &+ w[t &- 7] &+ smallSigma0(w[t &- 15]) &+ w[t &- 16]
                    }

                    var (a, b, c, d, e, f, g, h) = (h0, h1, h2, h3, h4, h5, h6, h7)
                    // Eight rounds per iteration, renaming the working variables instead of shifting them.
                    var t = 0
                    while t < 64 {
                        round(a, b, c, &d, e, f, g, &h, k[t] &+ w[t])
                        round(h, a, b, &c, d, e, f, &g, k[t &+ 1] &+ w[t &+ 1])
                        round(g, h, a, &b, c, d, e, &f, k[t &+ 2] &+ w[t &+ 2])
                        round(f, g, h, &a, b, c, d, &e, k[t &+ 3] &+ w[t &+ 3])
                        round(e, f, g, &h, a, b, c, &d, k[t &+ 4] &+ w[t &+ 4])
                        round(d, e, f, &g, h, a, b, &c, k[t &+ 5] &+ w[t &+ 5])
                        round(c, d, e, &f, g, h, a, &b, k[t &+ 6] &+ w[t &+ 6])
                        round(b, c, d, &e, f, g, h, &a, k[t &+ 7] &+ w[t &+ 7])
                        t &+= 8
                    }
                    h0 &+= a
                    h1 &+= b
                    h2 &+= c
                    h3 &+= d
                    h4 &+= e
                    h5 &+= f
                    h6 &+= g
                    h7 &+= h
                    block += blockSize
                }
            }
        }
        state = (h0, h1, h2, h3, h4, h5, h6, h7)
    }

    /// The 64 round constants K0...K63 (FIPS 180-4 §4.2.2).
    private static let roundConstants: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]
}
