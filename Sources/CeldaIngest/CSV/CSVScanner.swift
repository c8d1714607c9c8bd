public import CCeldaSupport

/// A field of the current row: byte offsets into the scanned buffer.
@frozen
public struct FieldSpan: Sendable, Equatable {
    public var start: Int
    public var end: Int
    /// The field was quoted; doubled quotes inside still need unescaping (``CSVScanner/text(_:in:)``).
    public var quoted: Bool
    @inlinable public init(start: Int, end: Int, quoted: Bool) {
        self.start = start
        self.end = end
        self.quoted = quoted
    }
}

/// RFC 4180 row scanner over a contiguous buffer, no allocation per row.
///
/// Dialect: a one-byte delimiter (comma by default), `"` quoting with `""` for a quote, rows
/// ended by LF or CRLF (a CR before LF is not part of the last field), newlines and delimiters
/// allowed inside quotes. Lenient where real exports are sloppy: a quote inside an unquoted field
/// is literal, and bytes after a closing quote up to the delimiter are kept.
///
/// The scanner is restartable: when a row is not complete before the end of the buffer and the
/// input has more bytes, it answers ``Result/needMore`` and the caller rescans the row from its
/// start once more bytes are there. That is how parser state is carried across chunk
/// boundaries without a per-byte state machine in the caller.
public struct CSVScanner: Sendable {
    public var delimiter: UInt8
    /// A row longer than this is treated as malformed (an unterminated quote swallowing the file).
    public var maxRowBytes: Int

    public init(delimiter: UInt8 = 0x2C, maxRowBytes: Int = 1 << 20) {
        self.delimiter = delimiter
        self.maxRowBytes = maxRowBytes
    }

    /// Outcome of one scan.
    public enum Result: Equatable, Sendable {
        /// A row: the fields are in `fields`; the next row starts at `next`; `newlines` is the
        /// number of line breaks the row spans (1 for an ordinary row, 0 for a last row without one).
        case row(next: Int, newlines: Int)
        /// The row is incomplete and more input may complete it.
        case needMore
        /// A quote that never closes (at the end of input or within `maxRowBytes`): the caller
        /// should reject the first physical line, which ends at `lineEnd` (exclusive of the LF),
        /// and resume at `lineNext`.
        case unterminated(lineEnd: Int, lineNext: Int)
    }

    /// Scans the row starting at `from`.
    @inlinable
    public func scan(
        _ buf: UnsafeRawBufferPointer, from: Int, eof: Bool, fields: inout [FieldSpan]
    ) -> Result {
        fields.removeAll(keepingCapacity: true)
        if let fast = scanUnquoted(buf, from: from, fields: &fields) { return fast }
        fields.removeAll(keepingCapacity: true)
        return scanGeneral(buf, from: from, eof: eof, fields: &fields)
    }

    /// The common row: no quote before its line break. Sixty-four bytes at a time, one SSE2 pass
    /// gives a bit for each delimiter and one for each line feed or quote (`celda_csv_scan64`);
    /// each field ends at the next delimiter bit before the first stop. The row's last bytes,
    /// fewer than 64 before the end of the buffer, go eight at a time with word arithmetic. A
    /// quote, a row that runs to the end of the buffer or one of more than ``fastFields`` fields
    /// hands the row to the general scanner. Fields are written into room taken once per row
    /// (`append(addingCapacity:)`), not appended one by one.
    @inlinable
    func scanUnquoted(_ buf: UnsafeRawBufferPointer, from: Int, fields: inout [FieldSpan]) -> Result? {
        guard let base = buf.baseAddress else { return nil }
        let n = buf.count
        let delimiter = self.delimiter
        var result: Result?
        fields.append(addingCapacity: Self.fastFields) { out in
            var fieldStart = from
            var i = from
            @inline(__always) func end(at j: Int) -> Result? {
                // A line feed at j: the row's last field, less a CR before the LF.
                var end = j
                if end > fieldStart, base.load(fromByteOffset: end - 1, as: UInt8.self) == 0x0D { end -= 1 }
                guard !out.isFull else { return nil }
                out.append(FieldSpan(start: fieldStart, end: end, quoted: false))
                return .row(next: j + 1, newlines: 1)
            }
            while i + 64 <= n {
                let block = celda_csv_scan64(base + i, delimiter)
                var d = block.delimiters
                if block.stops != 0 {
                    // Only the delimiters before the first stop belong to this row.
                    let stop = block.stops.trailingZeroBitCount
                    d &= (1 << UInt64(stop)) &- 1
                }
                while d != 0 {
                    let j = i + d.trailingZeroBitCount
                    guard !out.isFull else { return }
                    out.append(FieldSpan(start: fieldStart, end: j, quoted: false))
                    fieldStart = j + 1
                    d &= d &- 1
                }
                if block.stops != 0 {
                    let j = i + block.stops.trailingZeroBitCount
                    if base.load(fromByteOffset: j, as: UInt8.self) == 0x22 { return }
                    result = end(at: j)
                    return
                }
                i += 64
            }
            let lows: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            let dm = lows &* UInt64(delimiter)
            let lf = lows &* 0x0A
            let qm = lows &* 0x22
            @inline(__always) func zeroBytes(_ x: UInt64) -> UInt64 {
                // High bit set exactly in the bytes of x that are zero.
                ~(((x & ~highs) &+ ~highs) | x | ~highs)
            }
            while i < n {
                let w: UInt64
                if i + 8 <= n {
                    w = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                } else {
                    // The buffer's last bytes; the bits of the bytes past its end are cleared below.
                    var t: UInt64 = 0
                    for k in 0..<(n - i) { t |= UInt64(base.load(fromByteOffset: i + k, as: UInt8.self)) << (8 * k) }
                    w = t
                }
                var m = zeroBytes(w ^ dm) | zeroBytes(w ^ lf) | zeroBytes(w ^ qm)
                if i + 8 > n { m &= (1 << (8 * UInt64(n - i))) &- 1 }
                while m != 0 {
                    let j = i + m.trailingZeroBitCount >> 3
                    let c = base.load(fromByteOffset: j, as: UInt8.self)
                    if c == delimiter {
                        guard !out.isFull else { return }
                        out.append(FieldSpan(start: fieldStart, end: j, quoted: false))
                        fieldStart = j + 1
                    } else if c == 0x0A {
                        result = end(at: j)
                        return
                    } else {
                        return
                    }
                    m &= m &- 1
                }
                i += 8
            }
        }
        return result
    }

    /// Fields a row may have for ``scanUnquoted(_:from:fields:)``; a wider row goes to the
    /// general scanner.
    @usableFromInline static let fastFields = 256

    /// Any row, quoted fields included.
    @inlinable
    func scanGeneral(
        _ buf: UnsafeRawBufferPointer, from: Int, eof: Bool, fields: inout [FieldSpan]
    ) -> Result {
        let n = buf.count
        let d = delimiter
        var i = from
        var newlines = 0
        while true {
            // Start of a field.
            if i < n, buf[i] == 0x22 {
                // Quoted field.
                let contentStart = i + 1
                var j = contentStart
                var closed = -1
                while j < n {
                    let c = buf[j]
                    if c == 0x22 {
                        if j + 1 < n, buf[j + 1] == 0x22 {
                            j += 2
                            continue
                        }
                        if j + 1 == n, !eof { return .needMore }
                        closed = j
                        break
                    }
                    if c == 0x0A { newlines += 1 }
                    j += 1
                }
                if closed < 0 {
                    if !eof && j - from < maxRowBytes { return .needMore }
                    return unterminated(buf, from: from)
                }
                var k = closed + 1
                // Bytes after the closing quote up to the delimiter are kept (lenient).
                while k < n, buf[k] != d, buf[k] != 0x0A { k += 1 }
                var end = closed
                var trailingEnd = k
                if trailingEnd > closed + 1, buf[trailingEnd - 1] == 0x0D, k == n || buf[k] == 0x0A { trailingEnd -= 1 }
                if trailingEnd > closed + 1 { end = trailingEnd }
                fields.append(FieldSpan(start: contentStart, end: end, quoted: true))
                if k >= n {
                    if !eof { return .needMore }
                    return .row(next: n, newlines: newlines)
                }
                if buf[k] == d {
                    i = k + 1
                    continue
                }
                return .row(next: k + 1, newlines: newlines + 1)
            }
            // Unquoted field.
            var j = i
            while j < n {
                let c = buf[j]
                if c == d || c == 0x0A { break }
                j += 1
            }
            if j >= n {
                if !eof { return .needMore }
                var end = j
                if end > i, buf[end - 1] == 0x0D { end -= 1 }
                fields.append(FieldSpan(start: i, end: end, quoted: false))
                return .row(next: n, newlines: newlines)
            }
            if buf[j] == d {
                fields.append(FieldSpan(start: i, end: j, quoted: false))
                i = j + 1
                continue
            }
            var end = j
            if end > i, buf[end - 1] == 0x0D { end -= 1 }
            fields.append(FieldSpan(start: i, end: end, quoted: false))
            return .row(next: j + 1, newlines: newlines + 1)
        }
    }

    @usableFromInline
    func unterminated(_ buf: UnsafeRawBufferPointer, from: Int) -> Result {
        var j = from
        while j < buf.count, buf[j] != 0x0A { j += 1 }
        var end = j
        if end > from, buf[end - 1] == 0x0D { end -= 1 }
        return .unterminated(lineEnd: end, lineNext: min(buf.count, j + 1))
    }

    /// The text of a field, with doubled quotes unescaped.
    public static func text(_ f: FieldSpan, in buf: UnsafeRawBufferPointer) -> String {
        let raw = UnsafeRawBufferPointer(rebasing: buf[f.start..<f.end])
        if !f.quoted { return String(decoding: raw, as: UTF8.self) }
        var out = [UInt8]()
        out.reserveCapacity(raw.count)
        var i = 0
        while i < raw.count {
            out.append(raw[i])
            if raw[i] == 0x22, i + 1 < raw.count, raw[i + 1] == 0x22 { i += 1 }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// One row of a CSV input.
public struct Row {
    /// The buffer the spans point into (valid only until the cursor moves).
    public var buffer: UnsafeRawBufferPointer
    public var fields: [FieldSpan]
    /// Byte offset of the row in the decoded stream.
    public var offset: Int
    /// 1-based line number where the row starts.
    public var line: Int
    /// Row bytes (without the final line break).
    public var rawRange: Range<Int>
    /// The row could not be split (unterminated quote); `fields` is empty.
    public var malformed: Bool

    /// The raw bytes of the row.
    public var raw: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[rawRange]) }

    /// A field's bytes (empty when the row has fewer fields).
    @inlinable public func field(_ i: Int) -> UnsafeRawBufferPointer {
        guard i >= 0, i < fields.count else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(rebasing: buffer[fields[i].start..<fields[i].end])
    }

    /// A field's text, unescaped.
    public func text(_ i: Int) -> String {
        guard i >= 0, i < fields.count else { return "" }
        return CSVScanner.text(fields[i], in: buffer)
    }

    /// Whether the row is a blank line.
    public var isBlank: Bool { !malformed && fields.count == 1 && fields[0].start == fields[0].end }
}

/// Pulls complete rows from an input: a mapped file in place, a stream through a reusable buffer
/// that carries the incomplete row over to the next read (so parser state survives chunk
/// boundaries).
///
/// ```swift
/// let cursor = RowCursor(mapped: file)
/// while try cursor.next() { use(cursor.row) }
/// ```
public final class RowCursor {
    public var scanner: CSVScanner
    /// The current row, valid until the next call to ``next()``.
    public private(set) var row: Row
    let chunkSize: Int
    let mapped: MappedFile?
    var source: (any ByteSource)?
    var storage: UnsafeMutableRawBufferPointer
    var capacity = 0
    var start = 0
    var valid = 0
    var base = 0
    var eof = false
    var line = 1
    var sniffedBOM = false
    var rowsSinceRelease = 0

    /// A cursor over a mapped file.
    public init(mapped file: MappedFile, scanner: CSVScanner = CSVScanner()) {
        self.scanner = scanner
        self.chunkSize = 0
        self.mapped = file
        self.storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        self.row = Row(buffer: file.bytes, fields: [], offset: 0, line: 1, rawRange: 0..<0, malformed: false)
        self.row.fields.reserveCapacity(32)
        valid = file.bytes.count
        eof = true
    }

    /// A cursor over a stream (pipe, gzip). Bytes per `read(2)`: ≤128 KiB is fastest here
    /// (shared/research/perf-anchors.md).
    public init(stream: any ByteSource, scanner: CSVScanner = CSVScanner(), chunkSize: Int = 128 * 1024) {
        self.scanner = scanner
        self.chunkSize = max(1, chunkSize)
        self.mapped = nil
        self.source = stream
        self.capacity = max(self.chunkSize * 2, 64)
        self.storage = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        self.row = Row(
            buffer: UnsafeRawBufferPointer(start: nil, count: 0), fields: [], offset: 0, line: 1, rawRange: 0..<0,
            malformed: false)
        self.row.fields.reserveCapacity(32)
    }

    deinit {
        if mapped == nil { storage.deallocate() }
        source?.close()
    }

    var bytes: UnsafeRawBufferPointer {
        if let mapped { return mapped.bytes }
        return UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(storage)[0..<valid])
    }

    /// Up to `n` bytes ahead of the cursor, without consuming them (for sniffing).
    public func peek(_ n: Int) throws(InputError) -> [UInt8] {
        try skipBOM()
        while valid - start < n && !eof { try fill() }
        return Array(bytes[start..<min(valid, start + n)])
    }

    func skipBOM() throws(InputError) {
        guard !sniffedBOM else { return }
        if mapped == nil {
            while valid < 3 && !eof { try fill() }
        }
        sniffedBOM = true
        let b = bytes
        if b.count >= 3, b[0] == 0xEF, b[1] == 0xBB, b[2] == 0xBF { start = 3 }
    }

    func fill() throws(InputError) {
        guard source != nil, !eof else { return }
        if start > 0 && (capacity - valid < chunkSize) {
            let keep = valid - start
            if keep > 0 { storage.baseAddress!.copyMemory(from: storage.baseAddress! + start, byteCount: keep) }
            base += start
            valid = keep
            start = 0
        }
        if capacity - valid < chunkSize {
            let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity * 2, alignment: 16)
            bigger.baseAddress!.copyMemory(from: storage.baseAddress!, byteCount: valid)
            storage.deallocate()
            storage = bigger
            capacity *= 2
        }
        let n = try source!.read(
            into: UnsafeMutableRawBufferPointer(rebasing: storage[valid..<min(capacity, valid + chunkSize)]))
        if n == 0 { eof = true } else { valid += n }
    }

    /// Moves to the next row. Returns `false` at the end of the input.
    public func next() throws(InputError) -> Bool {
        try skipBOM()
        while true {
            let buf = bytes
            if start >= valid {
                if eof { return false }
                try fill()
                continue
            }
            row.buffer = buf
            switch scanner.scan(buf, from: start, eof: eof, fields: &row.fields) {
            case .row(let next, let newlines):
                var end = next
                if end > start, buf[end - 1] == 0x0A { end -= 1 }
                if end > start, buf[end - 1] == 0x0D { end -= 1 }
                row.offset = base + start
                row.line = line
                row.rawRange = start..<max(start, end)
                row.malformed = false
                line += newlines
                start = next
                releasePages()
                return true
            case .unterminated(let lineEnd, let lineNext):
                row.fields.removeAll(keepingCapacity: true)
                row.offset = base + start
                row.line = line
                row.rawRange = start..<lineEnd
                row.malformed = true
                line += 1
                start = lineNext
                return true
            case .needMore:
                try fill()
            }
        }
    }

    func releasePages() {
        guard let mapped else { return }
        rowsSinceRelease += 1
        if rowsSinceRelease == 65_536 {
            rowsSinceRelease = 0
            mapped.release(upTo: start)
        }
    }
}

/// Opens any input as a ``RowCursor``.
extension RowCursor {
    /// The cursor for an opened input.
    public static func make(_ opened: InputOpener.Opened, scanner: CSVScanner = CSVScanner()) -> RowCursor {
        switch opened {
        case .mapped(let file): RowCursor(mapped: file, scanner: scanner)
        case .stream(let source, _): RowCursor(stream: source, scanner: scanner)
        }
    }
}
