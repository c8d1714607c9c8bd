import Foundation
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

    /// The message framing of TCP streams (the header block's end, then its Content-Length)
    /// gives what the byte-at-a-time versions it replaced give: on random header blocks with
    /// Content-Length in every case and compact form, with leading whitespace, look-alike
    /// names, colons past the first 32 bytes, bare LF and CRLF, bad and missing values, and
    /// every limit.
    @Test func framingIsThatOfTheLineByLineVersions() {
        var rng = SplitMix(23)
        let names = [
            "Content-Length", "content-length", "CONTENT-LENGTH", "l", "L", " Content-Length", "\tl",
            "Content-Lengthx", "Content-Lengt", "Via", "Call-ID", "CSeq", "Lx", "c", "Contact",
            String(repeating: "X-Long-Header-Name-", count: 3),
        ]
        let values = ["0", "12", " 345 ", "", "12a", "-1", "99999999999999", "\t7"]
        for _ in 0..<4_000 {
            var text = ["INVITE sip:1@x SIP/2.0", "SIP/2.0 200 OK", "junk"][Int(rng.next() % 3)]
            for _ in 0..<Int(rng.next() % 9) {
                let name = names[Int(rng.next() % UInt64(names.count))]
                let value = values[Int(rng.next() % UInt64(values.count))]
                let sep = [": ", ":", " : ", ""][Int(rng.next() % 4)]
                text += ["\r\n", "\n"][Int(rng.next() % 2)] + name + sep + value
            }
            text += ["\r\n\r\n", "\n\n", "\r\n\n", "\r\n", ""][Int(rng.next() % 5)] + "body"
            let bytes = Array(text.utf8)
            bytes.withUnsafeBytes { p in
                for limit in [0, 1, 5, 31, 64, bytes.count / 2, bytes.count, .max] {
                    #expect(SIPParser.headerEnd(p, limit: limit) == Self.headerEndByLines(p, limit: limit), "\(text)")
                }
                let end = SIPParser.headerEnd(p) ?? p.count
                let headers = UnsafeRawBufferPointer(rebasing: p[0..<end])
                #expect(SIPParser.bodyLength(headers) == Self.bodyLengthByLines(headers), "\(text)")
                #expect(SIPParser.bodyLength(p) == Self.bodyLengthByLines(p), "\(text)")
            }
        }
    }

    /// `SIPParser.headerEnd` as it was: `memchr` for each line end.
    static func headerEndByLines(_ p: UnsafeRawBufferPointer, limit: Int) -> Int? {
        let n = min(p.count, limit)
        guard let base = p.baseAddress else { return nil }
        var i = 0
        while i < n {
            guard let hit = memchr(base + i, 0x0A, n - i) else { return nil }
            i = base.distance(to: UnsafeRawPointer(hit))
            if i + 1 < p.count, p[i + 1] == 0x0A { return i + 2 }
            if i + 2 < p.count, p[i + 1] == 0x0D, p[i + 2] == 0x0A { return i + 3 }
            i += 1
        }
        return nil
    }

    /// `SIPParser.bodyLength` as it was: each line, its colon and its name in turn, with
    /// `memchr`.
    static func bodyLengthByLines(_ p: UnsafeRawBufferPointer) -> BodyLength {
        var i = 0
        while i < p.count {
            let j = SIPScan.index(of: 0x0A, in: p, i..<p.count) ?? p.count
            let lineStart = i
            let line = UnsafeRawBufferPointer(rebasing: p[i..<j])
            i = j + 1
            guard let colonAt = SIPScan.index(of: 0x3A, in: p, lineStart..<j), colonAt > lineStart else { continue }
            let name = SIPScan.trim(p, lineStart..<colonAt)
            guard SIPScan.header(p, name) == .contentLength else { continue }
            // The value as the parser reads it (this part did not change).
            return SIPParser.contentLength(
                SIPParser.trim(UnsafeRawBufferPointer(rebasing: line[(colonAt - lineStart + 1)...])))
        }
        return .missing
    }
}
