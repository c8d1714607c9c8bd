import Testing

@testable import CeldaIngest

@Suite struct SHA256Tests {
    // MARK: - Helpers

    /// SplitMix64 (Steele, Lea & Flood 2014): a tiny deterministic generator for reproducible random inputs.
    private struct SplitMix64 {
        var state: UInt64

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z &>> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z &>> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z &>> 31)
        }

        /// A value in `0..<bound` (slightly biased, which does not matter here).
        mutating func next(below bound: Int) -> Int {
            Int(truncatingIfNeeded: next() % UInt64(bound))
        }
    }

    /// Hex digest of `bytes` hashed with a single pointer-based `update`.
    private static func oneShot(_ bytes: [UInt8]) -> String {
        var hasher = SHA256()
        bytes.withUnsafeBytes { hasher.update($0) }
        return SHA256.hex(hasher.finalize())
    }

    /// Hex digest of `bytes` fed in pieces of the given sizes (the last piece takes whatever is left).
    private static func pieces(_ bytes: [UInt8], sizes: [Int]) -> String {
        var hasher = SHA256()
        var start = 0
        for size in sizes where start < bytes.count {
            let end = min(start + size, bytes.count)
            bytes[start..<end].withUnsafeBytes { hasher.update($0) }
            start = end
        }
        bytes[start...].withUnsafeBytes { hasher.update($0) }
        return SHA256.hex(hasher.finalize())
    }

    /// The raw 32-byte digest of `bytes`, hashed through the `Sequence` overload.
    private static func rawDigest(_ bytes: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// The bytes 0, 1, 2, … 255, 0, 1, … of length `count`.
    private static func ramp(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0) }
    }

    // MARK: - NIST vectors (FIPS 180-4 examples, NIST CSRC "SHA256.pdf")

    @Test func emptyMessage() {
        #expect(SHA256.hash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var hasher = SHA256()
        #expect(SHA256.hex(hasher.finalize()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func abc() {
        #expect(SHA256.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func twoBlockMessage448Bits() {
        let message = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        #expect(message.utf8.count == 56)
        #expect(SHA256.hash(message) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func twoBlockMessage896Bits() {
        let message =
            "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
            + "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
        #expect(message.utf8.count == 112)
        #expect(SHA256.hash(message) == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
    }

    @Test func oneMillionAInUnevenPieces() {
        let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(Self.oneShot(million) == expected)

        // Pointer path, cycling through sizes around and across block boundaries.
        let sizes = [1, 7, 63, 64, 65, 0, 1000, 55, 4097, 129, 3, 65_536]
        var cycled: [Int] = []
        while cycled.reduce(0, +) < million.count { cycled.append(contentsOf: sizes) }
        #expect(Self.pieces(million, sizes: cycled) == expected)

        // Sequence path with a non-contiguous sequence (goes through the stack buffer), also in uneven pieces.
        var hasher = SHA256()
        var remaining = million.count
        var index = 0
        while remaining > 0 {
            let size = min(sizes[index % sizes.count] * 3 + 1, remaining)
            hasher.update(repeatElement(UInt8(ascii: "a"), count: size))
            remaining -= size
            index += 1
        }
        #expect(SHA256.hex(hasher.finalize()) == expected)
    }

    // MARK: - Padding and block boundaries

    /// Digests of `ramp(n)`, computed with Python's `hashlib.sha256`.
    private static let rampDigests: [Int: String] = [
        0: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        55: "463eb28e72f82e0a96c0a4cc53690c571281131f672aa229e0d45ae59b598b59",
        56: "da2ae4d6b36748f2a318f23e7ab1dfdf45acdc9d049bd80e59de82a60895f562",
        57: "2fe741af801cc238602ac0ec6a7b0c3a8a87c7fc7d7f02a3fe03d1c12eac4d8f",
        63: "29af2686fd53374a36b0846694cc342177e428d1647515f078784d69cdb9e488",
        64: "fdeab9acf3710362bd2658cdc9a29e8f9c757fcf9811603a8c447cd1d9151108",
        65: "4bfd2c8b6f1eec7a2afeb48b934ee4b2694182027e6d0fc075074f2fabb31781",
        119: "da18797ed7c3a777f0847f429724a2d8cd5138e6ed2895c3fa1a6d39d18f7ec6",
        120: "f52b23db1fbb6ded89ef42a23ce0c8922c45f25c50b568a93bf1c075420bbb7c",
        127: "92ca0fa6651ee2f97b884b7246a562fa71250fedefe5ebf270d31c546bfea976",
        128: "471fb943aa23c511f6f72f8d1652d9c880cfa392ad80503120547703e56a2be5",
        129: "5099c6a56203f9687f7d33f4bfdf576d31dc91f6b695ecea38b2770c87631135",
    ]

    /// Every length where the padding changes shape (55 is the longest tail that still fits the 0x80 byte and
    /// the 8-byte length; 56...63 need an extra block), each fed one-shot, split at every point, and byte by byte.
    @Test(arguments: [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129])
    func incrementalBoundaries(length: Int) throws {
        let expected = try #require(Self.rampDigests[length])
        let message = Self.ramp(length)
        #expect(Self.oneShot(message) == expected)

        for split in 0...length {
            #expect(Self.pieces(message, sizes: [split]) == expected, "split at \(split)")
        }

        var byteByByte = SHA256()
        for byte in message {
            byteByByte.update(CollectionOfOne(byte))
        }
        #expect(SHA256.hex(byteByByte.finalize()) == expected)

        var sequencePath = SHA256()
        sequencePath.update(message)
        #expect(SHA256.hex(sequencePath.finalize()) == expected)
    }

    // MARK: - Random chunking oracle

    /// Random messages hashed one-shot and again in random chunk splits through both `update` overloads.
    ///
    /// The chained one-shot digests are also pinned: Python's `hashlib.sha256` over the concatenated digests of the
    /// same messages (same SplitMix64 seed; length = next() % 20_000 every 10th message else next() % 1_500, then
    /// one byte per next() taken from the low 8 bits) gives the constant below.
    @Test func randomChunkSplitsMatchOneShot() {
        var random = SplitMix64(state: 0x5_EED_CE1DA)  // messages (mirrored by the Python script)
        var splits = SplitMix64(state: 42)  // chunk sizes and overload choice
        var chained = SHA256()
        for iteration in 0..<200 {
            let length = iteration % 10 == 0 ? random.next(below: 20_000) : random.next(below: 1_500)
            let message = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let expected = Self.oneShot(message)
            chained.update(Self.rawDigest(message))

            var hasher = SHA256()
            var start = 0
            var chunks = 0
            while start < length {
                // Mostly small chunks (including empty ones), sometimes several blocks at once.
                let size = splits.next(below: 8) == 0 ? splits.next(below: 700) : splits.next(below: 70)
                let end = min(start + size, length)
                switch splits.next(below: 3) {
                case 0: message[start..<end].withUnsafeBytes { hasher.update($0) }
                case 1: hasher.update(message[start..<end])
                default: hasher.update(message[start..<end].lazy.map { $0 })
                }
                start = end
                chunks += 1
            }
            #expect(
                SHA256.hex(hasher.finalize()) == expected,
                "iteration \(iteration), length \(length), \(chunks) chunks"
            )
        }
        #expect(SHA256.hex(chained.finalize()) == "6f692afa41856c02ba9eb45614dbb73a0ec9bb0e40a14fbf818ddebfa1e7d53b")
    }

    // MARK: - Formatting

    @Test func hexIsLowercaseAndZeroPadded() {
        #expect(SHA256.hex([0x00, 0x0f, 0xa0, 0xff, 0x5c]) == "000fa0ff5c")
        #expect(SHA256.hex([]) == "")
    }

    @Test func finalizeReturns32Bytes() {
        var hasher = SHA256()
        hasher.update("abc".utf8)
        let digest = hasher.finalize()
        #expect(digest.count == 32)
        #expect(digest.prefix(4) == [0xba, 0x78, 0x16, 0xbf])
    }

    @Test func hashUsesUTF8() {
        #expect(SHA256.hash("héllo wörld 🌍") == "701aea0197ece166311a45663e52d5d580e3b5ff116dfda2724ad928e51a834a")
    }
}
