import CCeldaSupport
public import CeldaCore

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// SIP methods Celda tells apart (the rest are `other`).
public enum SIPMethod: UInt8, Sendable {
    case invite, ack, bye, cancel, register, options, prack, subscribe, notify, publish, info, refer, message, update
    case other

    static let names: [(String, SIPMethod)] = [
        ("INVITE", .invite), ("ACK", .ack), ("BYE", .bye), ("CANCEL", .cancel), ("REGISTER", .register),
        ("OPTIONS", .options), ("PRACK", .prack), ("SUBSCRIBE", .subscribe), ("NOTIFY", .notify),
        ("PUBLISH", .publish), ("INFO", .info), ("REFER", .refer), ("MESSAGE", .message), ("UPDATE", .update),
    ]

    /// The method named by `p` (case-sensitive, as RFC 3261 has it), `nil` if it is not a known one.
    @inline(__always)
    static func known(_ p: UnsafeRawBufferPointer) -> SIPMethod? {
        @inline(__always) func isWord(_ w: StaticString) -> Bool {
            guard w.utf8CodeUnitCount == p.count else { return false }
            return memcmp(p.baseAddress!, w.utf8Start, p.count) == 0
        }
        switch p.count {
        case 3: return isWord("ACK") ? .ack : isWord("BYE") ? .bye : nil
        case 4: return isWord("INFO") ? .info : nil
        case 5: return isWord("PRACK") ? .prack : isWord("REFER") ? .refer : nil
        case 6:
            return isWord("INVITE")
                ? .invite
                : isWord("CANCEL")
                    ? .cancel
                    : isWord("NOTIFY")
                        ? .notify
                        : isWord("UPDATE") ? .update : nil
        case 7: return isWord("OPTIONS") ? .options : isWord("PUBLISH") ? .publish : isWord("MESSAGE") ? .message : nil
        case 8: return isWord("REGISTER") ? .register : nil
        case 9: return isWord("SUBSCRIBE") ? .subscribe : nil
        default: return nil
        }
    }
}

/// The parts of one SIP message that call assembly needs. Only the header block is parsed; the
/// body is never looked at.
public struct SIPMessage: Sendable {
    /// The request method, `nil` for a response.
    public var method: SIPMethod?
    /// The status code of a response, 0 for a request.
    public var status = 0
    public var requestURI = ""
    public var callID = ""
    public var from = ""
    public var fromTag = ""
    public var to = ""
    public var toTag = ""
    /// P-Asserted-Identity values (URIs).
    public var asserted: [String] = []
    public var cseq: UInt32 = 0
    public var cseqMethod: SIPMethod = .other
    /// P-Access-Network-Info values, one per comma-separated entry or header line.
    public var accessInfo: [String] = []
    /// `icid-value` of P-Charging-Vector, empty when absent.
    public var icid = ""
    /// The Content-Length value; `nil` when absent.
    public var contentLength: Int?
    /// A Content-Length header was present but not a number.
    public var badContentLength = false
    /// Bytes of the start line and headers, including the blank line.
    public var headerLength = 0

    public var isRequest: Bool { method != nil }
}

/// Why a message could not be used.
public enum SIPFault: String, Error, Sendable {
    case noCallID = "sip-no-call-id"
    case badStartLine = "sip-start-line"
    case badCSeq = "sip-cseq"
}

/// Recognises and parses SIP messages in raw bytes.
public enum SIPParser {
    /// Where the header block of a message starting at the beginning of `p` ends (after the blank
    /// line), or `nil` when `p` holds no blank line yet.
    public static func headerEnd(_ p: UnsafeRawBufferPointer, limit: Int = .max) -> Int? {
        let n = min(p.count, limit)
        guard let base = p.baseAddress else { return nil }
        // Each line end of the first `n` bytes, 64 bytes at a time (the scan's `LineEnds`).
        var ends = LineEnds(base: base, count: n)
        while true {
            let i = ends.next()
            guard i < n else { return nil }
            // "\n\n" or "\n\r\n"
            if i + 1 < p.count, p[i + 1] == 0x0A { return i + 2 }
            if i + 2 < p.count, p[i + 1] == 0x0D, p[i + 2] == 0x0A { return i + 3 }
        }
    }

    /// Whether `p` starts with a SIP start line (`METHOD uri SIP/2.0` or `SIP/2.0 NNN`). Only the
    /// first line is looked at; `complete` is false when it has not ended yet within `p`.
    public static func startsMessage(_ p: UnsafeRawBufferPointer) -> Bool {
        if p.count >= 12, p[0] == 0x53, p[1] == 0x49, p[2] == 0x50, p[3] == 0x2F, p[4] == 0x32, p[5] == 0x2E,
            p[6] == 0x30, p[7] == 0x20
        {
            return p[8] &- 0x30 < 10 && p[9] &- 0x30 < 10 && p[10] &- 0x30 < 10
        }
        var sp = 0
        while sp < p.count, sp < 10, p[sp] != 0x20 { sp += 1 }
        guard sp < p.count, p[sp] == 0x20, SIPMethod.known(UnsafeRawBufferPointer(rebasing: p[0..<sp])) != nil
        else { return false }
        // The line must end with " SIP/2.0".
        let cap = min(p.count, 8192)
        let eol = SIPScan.index(of: 0x0A, in: p, sp..<cap) ?? cap
        var end = eol
        if end > 0, end < p.count || eol == cap, p[end - 1] == 0x0D { end -= 1 }
        if eol >= cap { return false }
        guard end - sp >= 9 else { return false }
        let t = end - 8
        return p[t] == 0x20 && p[t + 1] == 0x53 && p[t + 2] == 0x49 && p[t + 3] == 0x50 && p[t + 4] == 0x2F
            && p[t + 5] == 0x32 && p[t + 6] == 0x2E && p[t + 7] == 0x30
    }

    /// The Content-Length of a header block, found without parsing the rest.
    static func bodyLength(_ p: UnsafeRawBufferPointer) -> BodyLength {
        guard let base = p.baseAddress else { return .missing }
        var ends = LineEnds(base: base, count: p.count)
        var i = 0
        while i < p.count {
            let j = ends.next()
            let lineStart = i
            let line = UnsafeRawBufferPointer(rebasing: p[i..<j])
            i = j + 1
            // A name starting with a letter other than c or l is not Content-Length (or its
            // compact form); whitespace first is trimmed, so it is not passed over.
            if lineStart < j, case let first = p[lineStart] | 0x20, first >= 0x61, first <= 0x7A, first != 0x63,
                first != 0x6C
            {
                continue
            }
            let colonAt: Int
            if lineStart + 32 <= p.count, case let m = celda_match32(base + lineStart, 0x3A), m != 0 {
                colonAt = lineStart + m.trailingZeroBitCount
                guard colonAt < j else { continue }
            } else {
                guard let c = SIPScan.index(of: 0x3A, in: p, lineStart..<j) else { continue }
                colonAt = c
            }
            guard colonAt > lineStart else { continue }
            let colon = colonAt - lineStart
            let name = SIPScan.trim(p, lineStart..<colonAt)
            guard SIPScan.header(p, name) == .contentLength else { continue }
            return contentLength(trim(UnsafeRawBufferPointer(rebasing: line[(colon + 1)...])))
        }
        return .missing
    }

    /// A Content-Length value (trimmed): digits only, under 2^40.
    static func contentLength(_ value: UnsafeRawBufferPointer) -> BodyLength {
        var n = 0
        for c in value {
            guard c &- 0x30 < 10, n < 1 << 40 else { return .invalid }
            n = n * 10 + Int(c &- 0x30)
        }
        return value.isEmpty ? .invalid : .bytes(n)
    }

    enum Header {
        case callID, from, to, cseq, pai, pani, chargingVector, contentLength, other
    }

    /// Parses the start line and headers of the message at the start of `p` (which holds at least
    /// the header block; without a blank line the whole of `p` is taken as headers).
    public static func parse(_ p: UnsafeRawBufferPointer) -> Result<SIPMessage, SIPFault> {
        var m = SIPMessage()
        let end = headerEnd(p) ?? p.count
        m.headerLength = end
        // Start line.
        var i = 0
        while i < end, p[i] != 0x0A { i += 1 }
        var lineEnd = i
        if lineEnd > 0, p[lineEnd - 1] == 0x0D { lineEnd -= 1 }
        let start = UnsafeRawBufferPointer(rebasing: p[0..<lineEnd])
        if start.count >= 12, start.starts(with: "SIP/2.0 ".utf8) {
            let d = (Int(start[8]) - 48, Int(start[9]) - 48, Int(start[10]) - 48)
            guard (0..<10).contains(d.0), (0..<10).contains(d.1), (0..<10).contains(d.2) else {
                return .failure(.badStartLine)
            }
            m.status = d.0 * 100 + d.1 * 10 + d.2
        } else {
            guard let sp1 = start.firstIndex(of: 0x20) else { return .failure(.badStartLine) }
            m.method = SIPMethod.known(UnsafeRawBufferPointer(rebasing: start[0..<sp1])) ?? .other
            var sp2 = start.count
            while sp2 > sp1 + 1, start[sp2 - 1] != 0x20 { sp2 -= 1 }
            guard sp2 > sp1 + 1 else { return .failure(.badStartLine) }
            m.requestURI = text(UnsafeRawBufferPointer(rebasing: start[(sp1 + 1)..<(sp2 - 1)]))
        }
        // Header lines (with folded continuations).
        i += 1
        var sawCSeq = false
        while i < end {
            var j = i
            while j < end {
                guard let nl = memchr(p.baseAddress! + j, 0x0A, end - j) else {
                    j = end
                    break
                }
                j = p.baseAddress!.distance(to: UnsafeRawPointer(nl))
                // A continuation line starts with a space or tab.
                if j + 1 < end, p[j + 1] == 0x20 || p[j + 1] == 0x09 {
                    j += 1
                    continue
                }
                break
            }
            let lineStart = i
            let line = UnsafeRawBufferPointer(rebasing: p[i..<j])
            i = j + 1
            guard let colonAt = SIPScan.index(of: 0x3A, in: p, lineStart..<j) else { continue }
            let colon = colonAt - lineStart
            let name = trim(UnsafeRawBufferPointer(rebasing: line[0..<colon]))
            let value = trim(UnsafeRawBufferPointer(rebasing: line[(colon + 1)...]))
            switch SIPScan.header(name, 0..<name.count) {
            case .callID:
                if m.callID.isEmpty { m.callID = text(value) }
            case .from:
                if m.from.isEmpty {
                    m.from = uri(value)
                    m.fromTag = parameter(value, "tag") ?? ""
                }
            case .to:
                if m.to.isEmpty {
                    m.to = uri(value)
                    m.toTag = parameter(value, "tag") ?? ""
                }
            case .cseq:
                var k = 0
                var n: UInt64 = 0
                var digits = 0
                while k < value.count, value[k] &- 0x30 < 10 {
                    n = n * 10 + UInt64(value[k] &- 0x30)
                    digits += 1
                    k += 1
                    if digits > 10 { break }
                }
                while k < value.count, value[k] == 0x20 || value[k] == 0x09 { k += 1 }
                guard digits > 0, digits <= 10, n <= UInt64(UInt32.max) else { return .failure(.badCSeq) }
                m.cseq = UInt32(n)
                m.cseqMethod = SIPMethod.known(trim(UnsafeRawBufferPointer(rebasing: value[k...]))) ?? .other
                sawCSeq = true
            case .pai:
                for part in split(value) { m.asserted.append(uri(part)) }
            case .pani:
                for part in split(value) { m.accessInfo.append(text(part)) }
            case .chargingVector:
                if m.icid.isEmpty { m.icid = parameter(value, "icid-value", anywhere: true) ?? "" }
            case .contentLength:
                var k = 0
                var n = 0
                while k < value.count, value[k] &- 0x30 < 10, n < 1 << 40 {
                    n = n * 10 + Int(value[k] &- 0x30)
                    k += 1
                }
                if k == value.count, k > 0, n < 1 << 40 {
                    m.contentLength = n
                } else {
                    m.badContentLength = true
                }
            case .other: break
            }
        }
        if m.callID.isEmpty { return .failure(.noCallID) }
        if !sawCSeq { return .failure(.badCSeq) }
        return .success(m)
    }

    // MARK: helpers

    static func trim(_ p: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var a = 0
        var b = p.count
        while a < b, p[a] == 0x20 || p[a] == 0x09 || p[a] == 0x0D || p[a] == 0x0A { a += 1 }
        while b > a, p[b - 1] == 0x20 || p[b - 1] == 0x09 || p[b - 1] == 0x0D || p[b - 1] == 0x0A { b -= 1 }
        return UnsafeRawBufferPointer(rebasing: p[a..<b])
    }

    /// Header text with folded line breaks turned into single spaces.
    static func text(_ p: UnsafeRawBufferPointer) -> String {
        if p.isEmpty || memchr(p.baseAddress!, 0x0A, p.count) == nil { return String(decoding: p, as: UTF8.self) }
        var out: [UInt8] = []
        var i = 0
        while i < p.count {
            if p[i] == 0x0D || p[i] == 0x0A {
                while i < p.count, p[i] == 0x0D || p[i] == 0x0A || p[i] == 0x20 || p[i] == 0x09 { i += 1 }
                out.append(0x20)
                continue
            }
            out.append(p[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Splits a header value at commas outside quotes and angle brackets.
    static func split(_ p: UnsafeRawBufferPointer) -> [UnsafeRawBufferPointer] {
        var parts: [UnsafeRawBufferPointer] = []
        forEachPart(p) { parts.append($0) }
        return parts
    }

    /// The parts ``split(_:)`` gives, one at a time, with no array; `body` returns `false` to stop.
    @inline(__always)
    static func forEachPart(_ p: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        _ = forEachPart(p) { part -> Bool in
            body(part)
            return true
        }
    }

    /// The parts ``split(_:)`` gives, one at a time, until `body` returns `false` (then `false`).
    static func forEachPart(_ p: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        // One value, the usual case: no comma at all.
        if p.isEmpty || memchr(p.baseAddress!, 0x2C, p.count) == nil {
            let one = trim(p)
            return one.isEmpty ? true : body(one)
        }
        var quoted = false
        var angle = false
        var from = 0
        // The bytes that matter here (`"`, `,`, `<`, `>`) as bits of a word, so the others pass
        // with one test.
        let special: UInt64 = 1 << 0x22 | 1 << 0x2C | 1 << 0x3C | 1 << 0x3E
        for (i, c) in p.enumerated() {
            if c >= 64 || special >> UInt64(c) & 1 == 0 { continue }
            if c == 0x22 {
                quoted.toggle()
            } else if !quoted, c == 0x3C {
                angle = true
            } else if !quoted, c == 0x3E {
                angle = false
            } else if !quoted, !angle, c == 0x2C {
                let part = trim(UnsafeRawBufferPointer(rebasing: p[from..<i]))
                if !part.isEmpty, !body(part) { return false }
                from = i + 1
            }
        }
        let last = trim(UnsafeRawBufferPointer(rebasing: p[from...]))
        return last.isEmpty ? true : body(last)
    }

    /// The URI of a name-addr or addr-spec (`"Bob" <sip:bob@host>;tag=1` → `sip:bob@host`).
    static func uri(_ p: UnsafeRawBufferPointer) -> String { text(uriBytes(p)) }

    /// The bytes ``uri(_:)`` reads its URI from.
    static func uriBytes(_ p: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var quoted = false
        for (i, c) in p.enumerated() {
            if c == 0x22 { quoted.toggle() }
            if !quoted, c == 0x3C {
                var j = i + 1
                while j < p.count, p[j] != 0x3E { j += 1 }
                return trim(UnsafeRawBufferPointer(rebasing: p[(i + 1)..<j]))
            }
        }
        // addr-spec: header parameters start at the first ';' after the scheme.
        let end = p.firstIndex(of: 0x3B) ?? p.count
        return trim(UnsafeRawBufferPointer(rebasing: p[0..<end]))
    }

    /// The value of a header parameter (`;name=value`) after the URI, or anywhere with `anywhere`.
    static func parameter(_ p: UnsafeRawBufferPointer, _ name: StaticString, anywhere: Bool = false) -> String? {
        var from = 0
        if !anywhere, let close = p.lastIndex(of: 0x3E) { from = close + 1 }
        let key = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        var i = from
        while i < p.count {
            // A parameter starts after ';' (or at the very start when `anywhere`).
            let atStart = anywhere && i == 0
            if !atStart {
                guard let semi = SIPScan.index(of: 0x3B, in: p, i..<p.count) else { return nil }
                i = semi
            }
            var k = atStart ? i : i + 1
            while k < p.count, p[k] == 0x20 || p[k] == 0x09 { k += 1 }
            if k + key.count < p.count, p[k + key.count] == 0x3D || p[k + key.count] == 0x20 {
                var same = true
                for (o, c) in key.enumerated() where p[k + o] | 0x20 != c | 0x20 {
                    same = false
                    break
                }
                if same {
                    var v = k + key.count
                    while v < p.count, p[v] == 0x20 || p[v] == 0x3D { v += 1 }
                    var e = v
                    if v < p.count, p[v] == 0x22 {
                        e = v + 1
                        while e < p.count, p[e] != 0x22 { e += 1 }
                        return String(decoding: UnsafeRawBufferPointer(rebasing: p[(v + 1)..<e]), as: UTF8.self)
                    }
                    while e < p.count, p[e] != 0x3B, p[e] != 0x2C, p[e] != 0x20 { e += 1 }
                    return String(decoding: UnsafeRawBufferPointer(rebasing: p[v..<e]), as: UTF8.self)
                }
            }
            i += 1
        }
        return nil
    }
}

/// P-Access-Network-Info (RFC 7315, 3GPP TS 24.229 §7.2A.4): the cell a call came from.
public enum AccessNetworkInfo {
    /// What one PANI value says.
    public struct Value: Equatable, Sendable {
        public var cell: CellID
        public var networkProvided: Bool
    }

    /// Outcome of reading one value.
    public enum Outcome: Equatable, Sendable {
        case cell(Value)
        /// The value names no cell (Wi-Fi, fixed access, or no location parameter).
        case none
        /// A location parameter whose length does not fit its access type.
        case malformed
    }

    /// Decodes one value: the access type decides how the hex string splits.
    public static func decode(_ value: String) -> Outcome {
        var v = value
        if v.utf8.allSatisfy({ $0 < 0x80 }) { return v.withUTF8 { decode(bytes: UnsafeRawBufferPointer($0)) } }
        return decodeText(value)
    }

    /// ``decode(_:)`` over ASCII bytes, without strings: `;`-separated parts, blanks around them
    /// trimmed, the access type first (compared ignoring case), then `name=value` parameters.
    static func decode(bytes p: UnsafeRawBufferPointer) -> Outcome {
        @inline(__always) func trimmed(_ a: Int, _ b: Int) -> (Int, Int) {
            var a = a
            var b = b
            while a < b, p[a] == 0x20 || p[a] == 0x09 { a += 1 }
            while b > a, p[b - 1] == 0x20 || p[b - 1] == 0x09 { b -= 1 }
            return (a, b)
        }
        @inline(__always) func hasPrefix(_ a: Int, _ b: Int, _ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard b - a >= n else { return false }
            let w = word.utf8Start
            for k in 0..<n {
                var c = p[a + k]
                if c >= 0x61 && c <= 0x7A { c -= 0x20 }
                if c != w[k] { return false }
            }
            return true
        }
        @inline(__always) func isName(_ a: Int, _ b: Int, _ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard b - a == n else { return false }
            let w = word.utf8Start
            for k in 0..<n {
                var c = p[a + k]
                if c >= 0x41 && c <= 0x5A { c |= 0x20 }
                if c != w[k] { return false }
            }
            return true
        }
        // Parts between ';' (empty parts are dropped, as `split` does), taken as they are found:
        // the access type, then the parameters.
        var access: (Int, Int)?
        var networkProvided = false
        var param: (kind: Int, a: Int, b: Int)?
        var from = 0
        var next = 0
        while next <= p.count {
            let i = SIPScan.index(of: 0x3B, in: p, next..<p.count) ?? p.count
            next = i + 1
            defer { from = i + 1 }
            guard i > from else { continue }
            let (a, b) = trimmed(from, i)
            guard access != nil else {
                access = (a, b)
                continue
            }
            var eq = a
            while eq < b, p[eq] != 0x3D { eq += 1 }
            let (na, nb) = trimmed(a, eq)
            if isName(na, nb, "network-provided") { networkProvided = true }
            guard eq + 1 < b, param == nil else { continue }
            let kind =
                isName(na, nb, "utran-cell-id-3gpp")
                ? 0
                : isName(na, nb, "cgi-3gpp")
                    ? 1
                    : isName(na, nb, "utran-sai-3gpp") ? 2 : -1
            guard kind >= 0 else { continue }
            var (va, vb) = trimmed(eq + 1, b)
            if vb - va >= 2, p[va] == 0x22, p[vb - 1] == 0x22 {
                va += 1
                vb -= 1
            }
            param = (kind, va, vb)
        }
        guard let access, let param else { return .none }
        let split: (Int, Int)
        switch param.kind {
        case 1, 2: split = (4, 4)
        default:
            if hasPrefix(access.0, access.1, "3GPP-NR") {
                split = (6, 9)
            } else if hasPrefix(access.0, access.1, "3GPP-E-UTRAN") || hasPrefix(access.0, access.1, "3GPP-UTRAN") {
                split = (4, 7)
            } else if hasPrefix(access.0, access.1, "3GPP-GERAN") {
                split = (4, 4)
            } else {
                return .malformed
            }
        }
        return cellValue(
            UnsafeRawBufferPointer(rebasing: p[param.a..<param.b]), split: split, networkProvided: networkProvided)
    }

    /// The cell in a location parameter's digits: MCC (3), MNC (2 or 3, from the length), then
    /// area and cell in hexadecimal, `split` long.
    static func cellValue<D: RandomAccessCollection<UInt8>>(
        _ digits: D, split: (Int, Int), networkProvided: Bool
    ) -> Outcome where D.Index == Int {
        let mncLength = digits.count - 3 - split.0 - split.1
        guard mncLength == 2 || mncLength == 3 else { return .malformed }
        func number(_ r: Range<Int>, radix: UInt64) -> UInt64? {
            var v: UInt64 = 0
            for k in r {
                let c = digits[digits.startIndex + k]
                let d: UInt64
                switch c {
                case 0x30...0x39: d = UInt64(c - 0x30)
                case 0x41...0x46: d = UInt64(c - 0x41 + 10)
                case 0x61...0x66: d = UInt64(c - 0x61 + 10)
                default: return nil
                }
                guard d < radix else { return nil }
                v = v * radix + d
            }
            return v
        }
        let a = 3 + mncLength
        guard let mcc = number(0..<3, radix: 10), let mnc = number(3..<a, radix: 10),
            let area = number(a..<(a + split.0), radix: 16),
            let cell = number((a + split.0)..<digits.count, radix: 16), mcc > 0
        else { return .malformed }
        return .cell(
            Value(
                cell: CellID(mcc: UInt32(mcc), mnc: UInt32(mnc), lac: UInt32(area), ci: cell),
                networkProvided: networkProvided))
    }

    /// The string form (any text).
    static func decodeText(_ value: String) -> Outcome {
        let parts = value.split(separator: ";").map { $0.trimmingSpaces }
        guard let access = parts.first?.uppercased() else { return .none }
        var networkProvided = false
        var param: (name: String, value: String)?
        for part in parts.dropFirst() {
            let kv = part.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces }
            let name = kv[0].lowercased()
            if name == "network-provided" { networkProvided = true }
            if kv.count == 2, ["utran-cell-id-3gpp", "cgi-3gpp", "utran-sai-3gpp"].contains(name), param == nil {
                var v = kv[1]
                if v.hasPrefix("\""), v.hasSuffix("\""), v.count >= 2 { v = String(v.dropFirst().dropLast()) }
                param = (name, v)
            }
        }
        guard let param else { return .none }
        // Lengths of (area, cell) in hex digits by access type and parameter.
        let split: (Int, Int)
        switch param.name {
        case "cgi-3gpp": split = (4, 4)
        case "utran-sai-3gpp": split = (4, 4)
        default:
            if access.hasPrefix("3GPP-NR") {
                split = (6, 9)
            } else if access.hasPrefix("3GPP-E-UTRAN") || access.hasPrefix("3GPP-UTRAN") {
                split = (4, 7)
            } else if access.hasPrefix("3GPP-GERAN") {
                split = (4, 4)
            } else {
                return .malformed
            }
        }
        return cellValue(Array(param.value.utf8), split: split, networkProvided: networkProvided)
    }
}

extension Substring {
    var trimmingSpaces: String {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
