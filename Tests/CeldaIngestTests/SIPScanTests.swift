import Testing

@testable import CeldaIngest

/// The header scan's byte tricks against plain definitions: names compared a word at a time,
/// line ends found 64 bytes at a time.
@Suite struct SIPScanTests {
    /// What a header name means, by definition: ASCII letters in either case, anything else exactly.
    static func oracle(_ name: [UInt8]) -> SIPParser.Header {
        let lower = String(decoding: name.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
        switch lower {
        case "call-id", "i": return .callID
        case "from", "f": return .from
        case "to", "t": return .to
        case "cseq": return .cseq
        case "p-asserted-identity": return .pai
        case "p-access-network-info": return .pani
        case "p-charging-vector": return .chargingVector
        case "content-length", "l": return .contentLength
        default: return .other
        }
    }

    static let names = [
        "call-id", "i", "from", "f", "to", "t", "cseq", "p-asserted-identity", "p-access-network-info",
        "p-charging-vector", "content-length", "l",
    ]

    /// Every name in random case is recognised, and every name with one byte changed is
    /// recognised exactly when the oracle says so: the changed byte set to the other case, to a
    /// byte that differs from it by 0x20 only (`-` and CR, `@` and a backquote), or to any byte.
    @Test func namesMatchAWordAtATimeAsByDefinition() {
        var rng = SplitMix(23)
        var checked = 0
        var recognised = 0
        func check(_ name: [UInt8]) {
            // Padding around the name, as in a real line: the words read only the name's bytes.
            let line = [0x41] + name + [0x3A, 0x20]
            let got = line.withUnsafeBytes { SIPScan.header($0, 1..<(1 + name.count)) }
            #expect(got == Self.oracle(name), "\(String(decoding: name, as: UTF8.self))")
            checked += 1
            if got != .other { recognised += 1 }
        }
        for word in Self.names {
            let base = Array(word.utf8)
            for _ in 0..<50 {
                check(base.map { rng.next() % 2 == 0 && $0 >= 0x61 ? $0 & ~0x20 : $0 })
            }
            for k in base.indices {
                for replacement: UInt8 in [
                    base[k] ^ 0x20, base[k] | 0x20, base[k] & ~0x20, 0x0D, 0x2D, 0x40, 0x60, 0x00,
                ] {
                    var n = base
                    n[k] = replacement
                    check(n)
                }
                for _ in 0..<20 {
                    var n = base
                    n[k] = UInt8(truncatingIfNeeded: rng.next())
                    check(n)
                }
            }
            check(base + [0x73])
            check(Array(base.dropLast()))
        }
        #expect(checked > 3000)
        #expect(recognised > 600)
    }

    /// Line ends at every position relative to the 64-byte blocks, in buffers of every length
    /// from 0 to 300, are those a byte loop finds, in order, and then the length for good.
    @Test func lineEndsAreThoseAByteLoopFinds() {
        var rng = SplitMix(7)
        for length in 0...300 {
            for density in [2, 9, 40, 1000] {
                let bytes = (0..<length).map { _ in rng.next() % UInt64(density) == 0 ? UInt8(0x0A) : UInt8(0x61) }
                let expected = bytes.indices.filter { bytes[$0] == 0x0A } + [length, length]
                bytes.withUnsafeBytes { p in
                    // An empty array has no storage: any address will do for no bytes.
                    let base = p.baseAddress ?? UnsafeRawPointer(bitPattern: 0x10)!
                    var lines = LineEnds(base: base, count: length)
                    let found = expected.map { _ in lines.next() }
                    #expect(found == expected, "length \(length), density \(density)")
                }
            }
        }
    }
}
