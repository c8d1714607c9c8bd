import CCeldaSupport

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A SIP message's header block as byte ranges: what call assembly needs for the messages of a
/// dialog already known (responses, ACK, BYE, retransmissions), found in one pass without
/// building a string. ``message(_:)`` gives the full ``SIPMessage`` (as ``SIPParser/parse(_:)``
/// would) when a call starts or a cell must be read.
///
/// A block it does not take on (folded header lines, a header of interest repeated beyond what
/// it keeps) is marked ``needsFullParse``; the caller then uses ``SIPParser/parse(_:)``, which
/// decides, so the outcome is always the parser's.
struct SIPScan {
    struct Ranges {
        var r: (Range<Int>, Range<Int>, Range<Int>, Range<Int>) = (0..<0, 0..<0, 0..<0, 0..<0)
        var count = 0
        subscript(_ k: Int) -> Range<Int> {
            switch k {
            case 0: r.0
            case 1: r.1
            case 2: r.2
            default: r.3
            }
        }

        /// Appends; `false` when full.
        mutating func add(_ x: Range<Int>) -> Bool {
            switch count {
            case 0: r.0 = x
            case 1: r.1 = x
            case 2: r.2 = x
            case 3: r.3 = x
            default: return false
            }
            count += 1
            return true
        }
    }

    var method: SIPMethod?
    var status = 0
    var callID = 0..<0
    var from: Range<Int>?
    var to: Range<Int>?
    var cseq: UInt32 = 0
    var cseqMethod = SIPMethod.other
    var pani = Ranges()
    /// The Request-URI (requests), P-Asserted-Identity and P-Charging-Vector values: what an
    /// initial INVITE needs to start a call without a full parse.
    var requestURI = 0..<0
    var pai = Ranges()
    var chargingVector = Ranges()
    /// More P-Asserted-Identity or P-Charging-Vector headers than kept: a call starts from the
    /// full parse.
    var startNeedsFullParse = false
    var contentLength: Int?
    var badContentLength = false
    var headerLength = 0
    var needsFullParse = false

    /// Scans the message at the start of `p` into `s` (a fresh scan), in place; the fault when
    /// the message is unusable.
    static func scan(_ p: UnsafeRawBufferPointer, into s: inout SIPScan) -> SIPFault? {
        guard let base = p.baseAddress, p.count > 0 else { return .badStartLine }
        let n = p.count
        var lines = LineEnds(base: base, count: n)
        // Start line.
        let firstEnd = lines.next()
        var startEnd = firstEnd
        if startEnd > 0, p[startEnd - 1] == 0x0D { startEnd -= 1 }
        if startEnd >= 12, p[0] == 0x53, p[1] == 0x49, p[2] == 0x50, p[3] == 0x2F, p[4] == 0x32, p[5] == 0x2E,
            p[6] == 0x30, p[7] == 0x20
        {
            let d0 = Int(p[8]) - 48
            let d1 = Int(p[9]) - 48
            let d2 = Int(p[10]) - 48
            guard (0..<10).contains(d0), (0..<10).contains(d1), (0..<10).contains(d2) else {
                return .badStartLine
            }
            s.status = d0 * 100 + d1 * 10 + d2
        } else {
            var sp1 = 0
            while sp1 < startEnd, p[sp1] != 0x20 { sp1 += 1 }
            guard sp1 < startEnd else { return .badStartLine }
            s.method = SIPMethod.known(UnsafeRawBufferPointer(rebasing: p[0..<sp1])) ?? .other
            var sp2 = startEnd
            while sp2 > sp1 + 1, p[sp2 - 1] != 0x20 { sp2 -= 1 }
            guard sp2 > sp1 + 1 else { return .badStartLine }
            s.requestURI = (sp1 + 1)..<(sp2 - 1)
        }
        // Header lines up to the blank line.
        var i = firstEnd + 1
        var sawCSeq = false
        var end = n
        while i < n {
            let e = lines.next()
            var le = e
            if le > i, p[le - 1] == 0x0D { le -= 1 }
            if le == i {
                end = min(n, e + 1)
                break
            }
            // A continuation line (folding): the full parser handles it.
            if e + 1 < n, p[e + 1] == 0x20 || p[e + 1] == 0x09 {
                s.needsFullParse = true
                return nil
            }
            let line = i..<le
            i = e + 1
            // Only names starting c, f, i, l, p or t matter (Call-ID, CSeq, Content-Length, From,
            // P-…, To and their compact forms): the others (Via, Max-Forwards, Route, …) are
            // passed over unread.
            switch p[line.lowerBound] | 0x20 {
            case 0x63, 0x66, 0x69, 0x6C, 0x70, 0x74: break
            default: continue
            }
            // Names are short: the colon is nearly always in the line's first 32 bytes.
            let colon: Int
            if line.lowerBound + 32 <= n, case let m = celda_match32(base + line.lowerBound, 0x3A), m != 0 {
                colon = line.lowerBound + m.trailingZeroBitCount
                guard colon < line.upperBound else { continue }
            } else {
                guard let c = Self.index(of: 0x3A, in: p, line) else { continue }
                colon = c
            }
            let name = Self.trim(p, line.lowerBound..<colon)
            let value = Self.trim(p, (colon + 1)..<line.upperBound)
            switch Self.header(p, name) {
            case .callID:
                if s.callID.isEmpty {
                    s.callID = value
                } else if !value.isEmpty {
                    s.needsFullParse = true
                }
            case .from:
                if s.from == nil { s.from = value } else { s.needsFullParse = true }
            case .to:
                if s.to == nil { s.to = value } else { s.needsFullParse = true }
            case .cseq:
                var k = value.lowerBound
                var v: UInt64 = 0
                var digits = 0
                while k < value.upperBound, p[k] &- 0x30 < 10 {
                    v = v * 10 + UInt64(p[k] &- 0x30)
                    digits += 1
                    k += 1
                    if digits > 10 { break }
                }
                while k < value.upperBound, p[k] == 0x20 || p[k] == 0x09 { k += 1 }
                guard digits > 0, digits <= 10, v <= UInt64(UInt32.max) else { return .badCSeq }
                s.cseq = UInt32(v)
                let m = Self.trim(p, k..<value.upperBound)
                s.cseqMethod = SIPMethod.known(UnsafeRawBufferPointer(rebasing: p[m])) ?? .other
                sawCSeq = true
            case .pani:
                if !s.pani.add(value) { s.needsFullParse = true }
            case .contentLength:
                var k = value.lowerBound
                var v = 0
                while k < value.upperBound, p[k] &- 0x30 < 10, v < 1 << 40 {
                    v = v * 10 + Int(p[k] &- 0x30)
                    k += 1
                }
                if k == value.upperBound, k > value.lowerBound, v < 1 << 40 {
                    s.contentLength = v
                } else {
                    s.badContentLength = true
                }
            case .pai:
                if !s.pai.add(value) { s.startNeedsFullParse = true }
            case .chargingVector:
                if !s.chargingVector.add(value) { s.startNeedsFullParse = true }
            case .other: break
            }
        }
        s.headerLength = end
        if s.callID.isEmpty { return .noCallID }
        if !sawCSeq { return .badCSeq }
        return nil
    }

    @inline(__always)
    static func index(of b: UInt8, in p: UnsafeRawBufferPointer, _ r: Range<Int>) -> Int? {
        guard !r.isEmpty, let hit = memchr(p.baseAddress! + r.lowerBound, Int32(b), r.count) else { return nil }
        return p.baseAddress!.distance(to: UnsafeRawPointer(hit))
    }

    @inline(__always)
    static func trim(_ p: UnsafeRawBufferPointer, _ r: Range<Int>) -> Range<Int> {
        var a = r.lowerBound
        var b = r.upperBound
        while a < b, p[a] == 0x20 || p[a] == 0x09 || p[a] == 0x0D || p[a] == 0x0A { a += 1 }
        while b > a, p[b - 1] == 0x20 || p[b - 1] == 0x09 || p[b - 1] == 0x0D || p[b - 1] == 0x0A { b -= 1 }
        return a..<b
    }

    /// The header a name stands for (case-insensitive; compact forms included).
    ///
    /// A name is compared a word at a time: `(bytes | mask) == word`, where `word` is the name in
    /// lower case, little-endian, and `mask` has 0x20 at its letters (so either case matches) and 0
    /// at its hyphens (which must match exactly). Longer names take overlapping words.
    @inline(__always)
    static func header(_ p: UnsafeRawBufferPointer, _ r: Range<Int>) -> SIPParser.Header {
        let at = p.baseAddress! + r.lowerBound
        @inline(__always) func w16(_ k: Int) -> UInt16 {
            UInt16(littleEndian: at.loadUnaligned(fromByteOffset: k, as: UInt16.self))
        }
        @inline(__always) func w32(_ k: Int) -> UInt32 {
            UInt32(littleEndian: at.loadUnaligned(fromByteOffset: k, as: UInt32.self))
        }
        @inline(__always) func w64(_ k: Int) -> UInt64 {
            UInt64(littleEndian: at.loadUnaligned(fromByteOffset: k, as: UInt64.self))
        }
        switch r.count {
        case 1:
            let c = at.load(as: UInt8.self)
            switch c >= 0x41 && c <= 0x5A ? c | 0x20 : c {
            case 0x69: return .callID
            case 0x66: return .from
            case 0x74: return .to
            case 0x6C: return .contentLength
            default: return .other
            }
        case 2:
            return w16(0) | 0x2020 == 0x6F74 ? .to : .other  // "to"
        case 4:
            let v = w32(0) | 0x2020_2020
            return v == 0x6D6F_7266 ? .from : v == 0x7165_7363 ? .cseq : .other  // "from", "cseq"
        case 7:
            // "call", "l-id"
            return w32(0) | 0x2020_2020 == 0x6C6C_6163 && w32(3) | 0x2020_0020 == 0x6469_2D6C ? .callID : .other
        case 14:
            // "content-", "t-length"
            return w64(0) | 0x0020_2020_2020_2020 == 0x2D74_6E65_746E_6F63
                && w64(6) | 0x2020_2020_2020_0020 == 0x6874_676E_656C_2D74 ? .contentLength : .other
        case 17:
            // "p-chargi", "ng-vecto", "g-vector"
            return w64(0) | 0x2020_2020_2020_0020 == 0x6967_7261_6863_2D70
                && w64(8) | 0x2020_2020_2000_2020 == 0x6F74_6365_762D_676E
                && w64(9) | 0x2020_2020_2020_0020 == 0x726F_7463_6576_2D67 ? .chargingVector : .other
        case 19:
            // "p-assert", "ed-ident", "identity"
            return w64(0) | 0x2020_2020_2020_0020 == 0x7472_6573_7361_2D70
                && w64(8) | 0x2020_2020_2000_2020 == 0x746E_6564_692D_6465
                && w64(11) | 0x2020_2020_2020_2020 == 0x7974_6974_6E65_6469 ? .pai : .other
        case 21:
            // "p-access", "-network", "ork-info"
            return w64(0) | 0x2020_2020_2020_0020 == 0x7373_6563_6361_2D70
                && w64(8) | 0x2020_2020_2020_2000 == 0x6B72_6F77_7465_6E2D
                && w64(13) | 0x2020_2020_0020_2020 == 0x6F66_6E69_2D6B_726F ? .pani : .other
        default: return .other
        }
    }

    /// Whether a name-addr header value (From, To) has a `tag` parameter after its URI, as
    /// ``SIPParser/parameter(_:_:anywhere:)`` reads it.
    static func tag(_ p: UnsafeRawBufferPointer, _ r: Range<Int>?) -> Range<Int>? {
        guard let r else { return nil }
        var from = r.lowerBound
        var k = r.upperBound
        while k > r.lowerBound {
            if p[k - 1] == 0x3E {
                from = k
                break
            }
            k -= 1
        }
        var i = from
        while i < r.upperBound {
            if p[i] == 0x3B {
                var j = i + 1
                while j < r.upperBound, p[j] == 0x20 || p[j] == 0x09 { j += 1 }
                if j + 3 < r.upperBound, p[j] | 0x20 == 0x74, p[j + 1] | 0x20 == 0x61, p[j + 2] | 0x20 == 0x67,
                    p[j + 3] == 0x3D || p[j + 3] == 0x20
                {
                    var v = j + 3
                    while v < r.upperBound, p[v] == 0x20 || p[v] == 0x3D { v += 1 }
                    var e = v
                    if v < r.upperBound, p[v] == 0x22 {
                        e = v + 1
                        while e < r.upperBound, p[e] != 0x22 { e += 1 }
                        return (v + 1)..<e
                    }
                    while e < r.upperBound, p[e] != 0x3B, p[e] != 0x2C, p[e] != 0x20 { e += 1 }
                    return v..<e
                }
            }
            i += 1
        }
        return nil
    }
}

/// The line ends (`\n`) of a message in order, found 64 bytes at a time.
struct LineEnds {
    let base: UnsafeRawPointer
    let count: Int
    /// Where the bits of `mask` start.
    var block = -64
    /// Line ends in the block not yet returned.
    var mask: UInt64 = 0

    init(base: UnsafeRawPointer, count: Int) {
        self.base = base
        self.count = count
    }

    /// The next line end after the one returned before it, or `count` when there is none.
    @inline(__always) mutating func next() -> Int {
        while mask == 0 {
            block += 64
            guard block < count else { return count }
            if count - block >= 64 {
                mask = celda_match64(base + block, 0x0A)
            } else if count >= 64 {
                // The last 64 bytes, less those before the block.
                mask = celda_match64(base + count - 64, 0x0A) >> UInt64(block - (count - 64))
            } else {
                for k in block..<count where base.load(fromByteOffset: k, as: UInt8.self) == 0x0A {
                    mask |= 1 << UInt64(k - block)
                }
            }
        }
        let at = block + mask.trailingZeroBitCount
        mask &= mask &- 1
        return at
    }
}
