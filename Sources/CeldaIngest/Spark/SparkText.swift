#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Text plumbing of the `celda spark` modes: the tab-separated lines Spark SQL `TRANSFORM` pipes
/// through the binary, read and written without a `String` per field.
public enum SparkText {
    /// `\`, tab, LF and CR as `\\`, `\t`, `\n`, `\r` (the job escapes every raw field the same way,
    /// so a value can hold the delimiter).
    public static func escape(_ bytes: some Collection<UInt8>, into out: inout [UInt8]) {
        for b in bytes {
            switch b {
            case 0x5C: out += [0x5C, 0x5C]
            case 0x09: out += [0x5C, 0x74]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            default: out.append(b)
            }
        }
    }

    /// Undoes ``escape(_:into:)``; an unknown escape keeps its backslash.
    public static func unescape(_ field: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        var i = 0
        while i < field.count {
            let b = field[i]
            if b == 0x5C, i + 1 < field.count {
                switch field[i + 1] {
                case 0x5C: out.append(0x5C)
                case 0x74: out.append(0x09)
                case 0x6E: out.append(0x0A)
                case 0x72: out.append(0x0D)
                default: out += [0x5C, field[i + 1]]
                }
                i += 2
            } else {
                out.append(b)
                i += 1
            }
        }
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    /// `digits` lowercase hex digits of `v`, zero-padded.
    @inline(__always) public static func hex(_ v: UInt64, digits: Int, into out: inout [UInt8]) {
        var shift = (digits - 1) * 4
        while shift >= 0 {
            out.append(hexDigits[Int(v >> UInt64(shift) & 0xF)])
            shift -= 4
        }
    }

    /// A hex number of `count` digits at `from`, or `nil`.
    @inline(__always) public static func parseHex(_ p: UnsafeRawBufferPointer, from: Int, count: Int) -> UInt64? {
        guard from + count <= p.count else { return nil }
        var v: UInt64 = 0
        for i in from..<(from + count) {
            let c = p[i]
            let d: UInt8
            if c >= 0x30 && c <= 0x39 {
                d = c - 0x30
            } else if c >= 0x61 && c <= 0x66 {
                d = c - 0x61 + 10
            } else {
                return nil
            }
            v = v << 4 | UInt64(d)
        }
        return v
    }

    /// A signed decimal integer filling the field, or `nil`.
    public static func parseInt(_ p: UnsafeRawBufferPointer) -> Int64? {
        guard !p.isEmpty else { return nil }
        var i = 0
        var negative = false
        if p[0] == 0x2D {
            negative = true
            i = 1
        }
        guard i < p.count else { return nil }
        var v: Int64 = 0
        while i < p.count {
            let d = p[i] &- 0x30
            guard d < 10 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            v = s
            i += 1
        }
        return negative ? -v : v
    }

    public static func decimal(_ v: Int64, into out: inout [UInt8]) { out += Array(String(v).utf8) }

    /// The tab-separated fields of a line.
    public static func split(_ line: UnsafeRawBufferPointer, into fields: inout [Range<Int>]) {
        fields.removeAll(keepingCapacity: true)
        var start = 0
        for i in 0..<line.count where line[i] == 0x09 {
            fields.append(start..<i)
            start = i + 1
        }
        fields.append(start..<line.count)
    }

    static let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// RFC 4648 base64 with padding.
    public static func base64(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            for s in [18, 12, 6, 0] { out.append(base64Alphabet[Int(v >> UInt32(s) & 63)]) }
            i += 3
        }
        let rest = bytes.count - i
        if rest > 0 {
            let v = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
            out.append(base64Alphabet[Int(v >> 18 & 63)])
            out.append(base64Alphabet[Int(v >> 12 & 63)])
            out.append(rest == 2 ? base64Alphabet[Int(v >> 6 & 63)] : 0x3D)
            out.append(0x3D)
        }
        return out
    }

    /// Decodes ``base64(_:)``; `nil` on a character outside the alphabet or a bad length.
    public static func unbase64(_ text: [UInt8]) -> [UInt8]? {
        guard text.count % 4 == 0 else { return nil }
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in base64Alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 4 * 3)
        var i = 0
        while i < text.count {
            var v: UInt32 = 0
            var pad = 0
            for k in 0..<4 {
                let c = text[i + k]
                if c == 0x3D {
                    guard i + 4 == text.count, k >= 2 else { return nil }
                    pad += 1
                    v <<= 6
                    continue
                }
                guard pad == 0, table[Int(c)] != 0xFF else { return nil }
                v = v << 6 | UInt32(table[Int(c)])
            }
            out.append(UInt8(v >> 16 & 0xFF))
            if pad < 2 { out.append(UInt8(v >> 8 & 0xFF)) }
            if pad < 1 { out.append(UInt8(v & 0xFF)) }
            i += 4
        }
        return out
    }
}

/// Lines from a file descriptor (standard input), without the line break; a final line without
/// one counts.
public final class LineReader {
    let fd: Int32
    var buffer: UnsafeMutableRawBufferPointer
    var start = 0
    var end = 0
    var eof = false
    /// Line number of the last line returned (1-based).
    public private(set) var line = 0

    public init(fd: Int32 = 0, capacity: Int = 1 << 20) {
        self.fd = fd
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Calls `body` with the next line; `false` at the end of the input.
    public func next(_ body: (UnsafeRawBufferPointer) throws(InputError) -> Void) throws(InputError) -> Bool {
        while true {
            if let nl = findNewline() {
                var stop = nl
                if stop > start, buffer[stop - 1] == 0x0D { stop -= 1 }
                let view = UnsafeRawBufferPointer(rebasing: buffer[start..<stop])
                start = nl + 1
                line += 1
                try body(view)
                return true
            }
            if eof {
                guard end > start else { return false }
                let view = UnsafeRawBufferPointer(rebasing: buffer[start..<end])
                start = end
                line += 1
                try body(view)
                return true
            }
            try fill()
        }
    }

    func findNewline() -> Int? {
        guard end > start else { return nil }
        let base = buffer.baseAddress! + start
        guard let p = memchr(base, 0x0A, end - start) else { return nil }
        return UnsafeRawPointer(p) - UnsafeRawPointer(buffer.baseAddress!)
    }

    func fill() throws(InputError) {
        if start > 0 {
            let n = end - start
            if n > 0 { memmove(buffer.baseAddress!, buffer.baseAddress! + start, n) }
            start = 0
            end = n
        }
        if end == buffer.count {
            // A line longer than the buffer: grow it.
            let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count * 2, alignment: 16)
            bigger.copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[0..<end]))
            buffer.deallocate()
            buffer = bigger
        }
        while true {
            let n = read(fd, buffer.baseAddress! + end, buffer.count - end)
            if n < 0 && errno == EINTR { continue }
            if n < 0 {
                throw InputError(.unreadable, path: "standard input", "read failed (errno \(errno))")
            }
            if n == 0 { eof = true } else { end += n }
            return
        }
    }
}

/// A buffered writer to a file descriptor (standard output): whole lines, large writes.
public final class LineWriter {
    let fd: Int32
    var buffer: [UInt8] = []

    public init(fd: Int32 = 1) {
        self.fd = fd
        buffer.reserveCapacity(1 << 17)
    }

    /// Appends a line (the bytes and a line break).
    public func line(_ bytes: [UInt8]) throws(InputError) {
        buffer += bytes
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { try flush() }
    }

    public func flush() throws(InputError) {
        var done = 0
        let total = buffer.count
        let failed: Int32? = buffer.withUnsafeBytes { b in
            while done < total {
                let n = write(fd, b.baseAddress! + done, total - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return errno }
                done += n
            }
            return nil
        }
        buffer.removeAll(keepingCapacity: true)
        if let failed {
            throw InputError(.unreadable, path: "standard output", "write failed (errno \(failed))")
        }
    }
}
