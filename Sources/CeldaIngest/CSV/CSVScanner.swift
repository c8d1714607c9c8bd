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

/// Feeds complete rows of any input to a handler: a mapped file in one pass, a stream through a
/// reusable buffer that carries the incomplete row over to the next read.
public struct RowReader {
    /// One row as the handler sees it.
    public struct Row {
        /// The buffer the spans point into (valid only during the handler call).
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
    }

    public var scanner: CSVScanner
    /// Bytes read per `read(2)` for streams (≤128 KiB is fastest here, see perf-anchors.md).
    public var chunkSize: Int

    public init(scanner: CSVScanner = CSVScanner(), chunkSize: Int = 128 * 1024) {
        self.scanner = scanner
        self.chunkSize = chunkSize
    }

    /// Reads every row of a mapped file. `handler` returns `false` to stop early.
    public func read(mapped file: MappedFile, skipBOM: Bool = true, _ handler: (inout Row) -> Bool) {
        let buf = file.bytes
        var pos = 0
        if skipBOM, buf.count >= 3, buf[0] == 0xEF, buf[1] == 0xBB, buf[2] == 0xBF { pos = 3 }
        var line = 1
        var row = Row(buffer: buf, fields: [], offset: 0, line: 1, rawRange: 0..<0, malformed: false)
        row.fields.reserveCapacity(32)
        var sinceRelease = 0
        while pos < buf.count {
            let r = scanner.scan(buf, from: pos, eof: true, fields: &row.fields)
            switch r {
            case .row(let next, let newlines):
                var end = next
                if end > pos, buf[end - 1] == 0x0A { end -= 1 }
                if end > pos, buf[end - 1] == 0x0D { end -= 1 }
                row.offset = pos
                row.line = line
                row.rawRange = pos..<max(pos, end)
                row.malformed = false
                if !handler(&row) { return }
                line += newlines
                pos = next
            case .unterminated(let lineEnd, let lineNext):
                row.fields.removeAll(keepingCapacity: true)
                row.offset = pos
                row.line = line
                row.rawRange = pos..<lineEnd
                row.malformed = true
                if !handler(&row) { return }
                line += 1
                pos = lineNext
            case .needMore:
                preconditionFailure("scanner asked for more input at end of file")
            }
            sinceRelease += 1
            if sinceRelease == 65_536 {
                sinceRelease = 0
                file.release(upTo: pos)
            }
        }
    }

    /// Reads every row of a stream. Throws what the source throws (rows before the failure have
    /// been handled).
    public func read(
        stream source: inout some ByteSource, skipBOM: Bool = true, _ handler: (inout Row) -> Bool
    ) throws(InputError) {
        var capacity = max(chunkSize * 2, 64)
        var storage = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        defer { storage.deallocate() }
        var start = 0  // first unconsumed byte
        var valid = 0  // bytes filled
        var base = 0  // stream offset of storage[0]
        var eof = false
        var line = 1
        var first = true
        var row = Row(
            buffer: UnsafeRawBufferPointer(storage), fields: [], offset: 0, line: 1, rawRange: 0..<0, malformed: false)
        row.fields.reserveCapacity(32)
        while true {
            // Fill.
            if !eof {
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
                let n = try source.read(
                    into: UnsafeMutableRawBufferPointer(rebasing: storage[valid..<min(capacity, valid + chunkSize)]))
                if n == 0 { eof = true } else { valid += n }
                if first && (valid >= 3 || eof) {
                    first = false
                    if skipBOM, valid >= 3, storage[0] == 0xEF, storage[1] == 0xBB, storage[2] == 0xBF { start = 3 }
                }
                if first { continue }
            }
            let buf = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(storage)[0..<valid])
            row.buffer = buf
            scan: while start < valid {
                let r = scanner.scan(buf, from: start, eof: eof, fields: &row.fields)
                switch r {
                case .row(let next, let newlines):
                    var end = next
                    if end > start, buf[end - 1] == 0x0A { end -= 1 }
                    if end > start, buf[end - 1] == 0x0D { end -= 1 }
                    row.offset = base + start
                    row.line = line
                    row.rawRange = start..<max(start, end)
                    row.malformed = false
                    if !handler(&row) { return }
                    line += newlines
                    start = next
                case .unterminated(let lineEnd, let lineNext):
                    row.fields.removeAll(keepingCapacity: true)
                    row.offset = base + start
                    row.line = line
                    row.rawRange = start..<lineEnd
                    row.malformed = true
                    if !handler(&row) { return }
                    line += 1
                    start = lineNext
                case .needMore:
                    break scan
                }
            }
            if eof && start >= valid { return }
            if eof && start < valid {
                // Cannot happen: at EOF the scanner always completes a row.
                return
            }
        }
    }
}
