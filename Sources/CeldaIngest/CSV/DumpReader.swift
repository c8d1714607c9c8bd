public import CeldaCore

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Counts of one run's rows (spec/inputs.md "Accounting": read = accepted + rejected + skipped + duplicate).
public struct RowStats: Sendable, Equatable {
    public var read = 0
    public var accepted = 0
    public var rejected = 0
    public var skipped = 0
    public var duplicate = 0
    /// Of `duplicate`: legs of a call already counted (same charging id).
    public var sameCallLegs = 0
    /// Blank lines (not rows).
    public var blankLines = 0
    /// Title lines before the header (not rows).
    public var titleLines = 0
    public var rejectedByReason: [String: Int] = [:]
    public var skippedByReason: [String: Int] = [:]
    public init() {}

    public mutating func add(_ o: RowStats) {
        read += o.read
        accepted += o.accepted
        rejected += o.rejected
        skipped += o.skipped
        duplicate += o.duplicate
        sameCallLegs += o.sameCallLegs
        blankLines += o.blankLines
        titleLines += o.titleLines
        rejectedByReason.merge(o.rejectedByReason, uniquingKeysWith: +)
        skippedByReason.merge(o.skippedByReason, uniquingKeysWith: +)
    }
}

/// Receives rejected rows (the CLI writes them to `--rejects` and the summary).
public protocol RejectSink: AnyObject {
    func reject(path: String, line: Int, reason: RejectReason, raw: UnsafeRawBufferPointer)
    /// A problem in a capture, at a packet.
    func rejectPacket(path: String, packet: Int, code: String, message: String)
}

extension RejectSink {
    public func rejectPacket(path: String, packet: Int, code: String, message: String) {
        var raw = message
        raw.withUTF8 {
            reject(path: path, line: packet, reason: RejectReason(code, message), raw: UnsafeRawBufferPointer($0))
        }
    }
}

/// A spool of call ids for inputs that cannot be read twice (pipes, gzip): each id is written
/// once, and read back only when an alert cites it. Lives in an unlinked temporary file.
public final class CallIDSpool {
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []
    private var written = 0

    public init() {}

    /// Appends an id and returns its offset.
    public func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        if fd < 0 { open() }
        let offset = written + buffer.count
        let n = min(bytes.count, 0xFFFF)
        buffer.append(UInt8(n & 0xFF))
        buffer.append(UInt8(n >> 8))
        buffer.append(contentsOf: bytes.prefix(n))
        if buffer.count >= 1 << 16 { flush() }
        return offset
    }

    private func open() {
        var template = Array("\(Self.tempDirectory())/celda-spool-XXXXXX".utf8CString)
        fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd >= 0 { template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) } }
    }

    static func tempDirectory() -> String {
        if let t = getenv("TMPDIR") { return String(cString: t) }
        return "/tmp"
    }

    private func flush() {
        guard fd >= 0, !buffer.isEmpty else { return }
        var done = 0
        buffer.withUnsafeBytes { b in
            while done < b.count {
                let n = write(fd, b.baseAddress! + done, b.count - done)
                if n <= 0 { break }
                done += n
            }
        }
        written += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    /// Reads back the bytes at `offset`.
    public func read(_ offset: Int) -> [UInt8]? {
        flush()
        guard fd >= 0 else { return nil }
        var len = [UInt8](repeating: 0, count: 2)
        guard len.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, 2, off_t(offset)) }) == 2 else { return nil }
        let n = Int(len[0]) | Int(len[1]) << 8
        var bytes = [UInt8](repeating: 0, count: n)
        let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, n, off_t(offset + 2)) }
        guard got == n else { return nil }
        return bytes
    }

    deinit { if fd >= 0 { close(fd) } }
}

/// How a dump is read: numbers, time zone, and an optional layout or mapping.
public struct ReaderOptions: Sendable {
    public var plan = NumberPlan.mexico
    public var zone = ZoneRules.utc
    /// A built-in layout name (`header`, `asterisk`, …), or `nil` to detect.
    public var layoutName: String?
    /// A mapping that overrides detection.
    public var mapping: CDRMapping?
    public var dateOrder = DateOrder.dayFirst
    public init() {}
}

/// What was detected about a file (for `celda columns` and the summary).
public struct Detection: Sendable {
    public var layout: CDRLayout
    /// How each choice was made, for people.
    public var notes: [String]
}

/// Reads one CDR dump (CSV, plain or gzip, file or pipe) into call records, one at a time.
///
/// Detection looks at the first 64 KiB: the encoding (UTF-8, else Windows-1252), the delimiter
/// (comma, semicolon, tab or pipe), title lines before the header, and the header's names by
/// alias (English and Spanish); a file whose first row is data is matched against the built-in
/// headerless layouts. A ``CDRMapping`` overrides any of it. Regular files are memory-mapped;
/// pipes and gzip are read in chunks.
// Read from one thread (the chunk workers have their own state): the per-row properties skip
// the run-time exclusivity checks a class's stored properties get (about 12 checks a record
// across the reader, the dump set, the engine front and the site table).
public final class DumpReader {
    public let path: String
    public let inputIndex: Int
    public let options: ReaderOptions
    public weak var rejects: (any RejectSink)?
    @exclusivity(unchecked) public internal(set) var stats = RowStats()
    public internal(set) var detection: Detection?
    /// Bytes of the input (file size, or bytes read from a stream).
    public private(set) var bytes = 0
    public private(set) var kind = InputOpener.Kind.text
    /// The hash of the raw bytes of the row behind the last record returned (for duplicates).
    @exclusivity(unchecked) public internal(set) var lastRowHash: UInt64 = 0
    var cursor: RowCursor?
    var decoder: CDRDecoder?
    var mapped: MappedFile?
    var spool: CallIDSpool?
    var counting: CountingSource?
    /// The capture behind this input, when it is one.
    @exclusivity(unchecked) public internal(set) var capture: CaptureReader?
    var captureIdentities = IdentityTable()
    /// Limits for captures.
    public var captureLimits = CaptureLimits()
    /// A hash of the call's charging id (`icid`) when known, else 0: legs of one call seen at
    /// several hops share it and are counted once.
    @exclusivity(unchecked) public internal(set) var lastLegKey: UInt64 = 0
    /// SHA-256 of the raw input bytes, when `hashing` is set before ``open()``.
    public var hashing = false
    /// Threads that decode a mapped file ahead of the reader (0: decode on the caller's thread).
    /// The records are the same for any count.
    public var decodeThreads = 0
    /// Bytes per decoded chunk of a mapped file.
    public var chunkBytes = ChunkPipeline.defaultChunkBytes
    @exclusivity(unchecked) var pipeline: ChunkPipeline?
    @exclusivity(unchecked) var chunk = DecodedChunk()
    @exclusivity(unchecked) var chunkIndex = -1
    @exclusivity(unchecked) var chunkNext = 0
    @exclusivity(unchecked) var chunkLine = 1
    var seenInline = Set<CellID>()
    @exclusivity(unchecked) var pendingTowers: [Tower] = []
    @exclusivity(unchecked) var towerNext = 0
    var chunkedIdentities = IdentityTable()
    var chunkedSites = SiteNames()
    public internal(set) var sha256: String?

    public init(path: String, inputIndex: Int, options: ReaderOptions) {
        self.path = path
        self.inputIndex = inputIndex
        self.options = options
    }

    public var layout: CDRLayout { detection?.layout ?? CDRLayout() }
    public var identities: IdentityTable {
        if capture != nil { return captureIdentities }
        if pipeline != nil { return chunkedIdentities }
        return decoder?.identities ?? IdentityTable()
    }
    public var siteNames: SiteNames { pipeline != nil ? chunkedSites : decoder?.sites ?? SiteNames() }

    /// Towers first seen with inline coordinates since the last call (drained).
    public func takeNewTowers() -> [Tower] {
        if pipeline != nil {
            guard !pendingTowers.isEmpty else { return [] }
            let t = pendingTowers
            pendingTowers.removeAll()
            return t
        }
        guard let d = decoder, !d.newTowers.isEmpty else { return [] }
        let t = d.newTowers
        decoder!.newTowers.removeAll()
        return t
    }

    /// Opens the input and works out its layout.
    ///
    /// - Throws: ``InputError`` when the input cannot be opened or has no usable layout.
    public func open() throws(InputError) {
        let (opened, kind, size) = try InputOpener.open(path)
        self.kind = kind
        bytes = size ?? 0
        if kind == .pcap || kind == .pcapng {
            try openCapture(opened)
            return
        }
        let cursor: RowCursor
        switch opened {
        case .mapped(let file):
            mapped = file
            if hashing {
                var h = SHA256()
                h.update(file.bytes)
                sha256 = SHA256.hex(h.finalize())
            }
            cursor = RowCursor(mapped: file)
        case .stream(let source, let gzip):
            spool = CallIDSpool()
            // A gzip file is fingerprinted as stored; a pipe as read.
            if hashing, gzip, path != "-" { sha256 = try Self.fileSHA256(path) }
            counting = CountingSource(hashing: hashing && sha256 == nil)
            cursor = RowCursor(stream: StreamCounter(reader: self, inner: source))
        }
        self.cursor = cursor
        let head = try cursor.peek(64 * 1024)
        let found = try detect(head)
        cursor.scanner.delimiter = found.layout.delimiter
        // Consume title lines and the header.
        var skip = found.layout.skipLines + (found.layout.hasHeader ? 1 : 0)
        stats.titleLines = found.layout.skipLines
        while skip > 0, try cursor.next() {
            if cursor.row.isBlank { stats.blankLines += 1 } else { skip -= 1 }
        }
        detection = found
        decoder = CDRDecoder(layout: found.layout, plan: options.plan, zone: options.zone)
        if let mapped {
            let chunker = ChunkDecoder(template: decoder!, inputIndex: inputIndex, delimiter: found.layout.delimiter)
            chunkLine = cursor.line
            chunkNext = cursor.start
            pipeline = ChunkPipeline(
                buffer: mapped.bytes, owner: mapped, from: cursor.start, decoder: chunker, workers: decodeThreads,
                chunkBytes: chunkBytes, lineBreak: Self.lineBreakReader(path: path, size: mapped.bytes.count))
        }
    }

    /// Finds line breaks by reading the file with `pread` (nil when it cannot be opened again:
    /// then the pipeline reads the mapping). Reading does not map pages, so cutting a dump into
    /// chunks leaves resident memory alone; through the mapping, each boundary read maps a whole
    /// page-cache folio (1.9 GB of a 6 GB dump the page cache held in large folios).
    static func lineBreakReader(path: String, size: Int) -> ((Int) -> Int?)? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        let closer = FileCloser(fd: fd)
        var block = [UInt8](repeating: 0, count: 1 << 16)
        return { at in
            var offset = at
            while offset < size {
                let n = block.withUnsafeMutableBytes { pread(closer.fd, $0.baseAddress, $0.count, off_t(offset)) }
                guard n > 0 else { return nil }
                if let i = block[0..<n].firstIndex(of: 0x0A) { return offset + i }
                offset += n
            }
            return nil
        }
    }

    /// The next record of a mapped input, from the decoded chunks.
    func nextFromChunks() -> CallRecord? {
        guard let pipeline else { return nil }
        while towerNext >= chunk.records.count {
            // The next chunk (checked to start where the rows so far ended).
            guard chunkIndex + 1 < pipeline.count else {
                pipeline.cancel()
                finish()
                return nil
            }
            chunkIndex += 1
            chunk = pipeline.take(chunkIndex, from: chunkNext)
            chunkNext = chunk.end
            take(chunk)
            towerNext = 0
        }
        let i = towerNext
        towerNext += 1
        var r = chunk.records[i]
        r.source.line &+= UInt32(truncatingIfNeeded: chunkLine)
        if !chunk.towers.isEmpty {
            for t in chunk.towers where t.at == i && seenInline.insert(t.tower.cell).inserted {
                pendingTowers.append(t.tower)
            }
        }
        stats.accepted += 1
        lastRowHash = chunk.rowHashes[i]
        lastLegKey = chunk.legKeys.isEmpty ? 0 : chunk.legKeys[i]
        if i + 1 == chunk.records.count { chunkLine += chunk.newlines }
        return r
    }

    /// The row hash of the record `ahead` places after the last one returned, when it is
    /// already decoded (for prefetching the duplicate filter).
    public func upcomingRowHash(_ ahead: Int) -> UInt64? {
        let i = towerNext + ahead - 1
        return pipeline != nil && i < chunk.rowHashes.count ? chunk.rowHashes[i] : nil
    }

    /// Counts, rejects and names of a chunk just taken.
    private func take(_ c: DecodedChunk) {
        var s = c.stats
        s.accepted = 0  // counted as records are handed on
        stats.add(s)
        for rj in c.rejects {
            rejects?.reject(
                path: path, line: chunkLine + rj.line, reason: rj.reason,
                raw: UnsafeRawBufferPointer(rebasing: mapped!.bytes[rj.raw]))
        }
        chunkedIdentities.merge(c.identities)
        chunkedSites.merge(c.siteNames)
        if c.records.isEmpty { chunkLine += c.newlines }
        mapped?.release(upTo: c.start)
    }

    /// Works out encoding, delimiter, header and columns from the first bytes.
    func detect(_ head: [UInt8]) throws(InputError) -> Detection {
        var notes: [String] = []
        let mapping = options.mapping
        var encoding = TextEncoding.isValidUTF8(head) ? TextEncoding.utf8 : .windows1252
        if let e = mapping?.encoding { encoding = e }
        notes.append("encoding \(encoding.rawValue)\(mapping?.encoding != nil ? " (mapping)" : " (detected)")")
        let delimiter = mapping?.delimiter ?? Self.sniffDelimiter(head)
        notes.append("delimiter \(Self.describe(delimiter))\(mapping?.delimiter != nil ? " (mapping)" : " (detected)")")
        let scanner = CSVScanner(delimiter: delimiter)
        // The first rows, as text.
        var rows: [[String]] = []
        head.withUnsafeBytes { buf in
            var fields: [FieldSpan] = []
            var pos = 0
            while pos < buf.count, rows.count < 30 {
                switch scanner.scan(buf, from: pos, eof: true, fields: &fields) {
                case .row(let next, _):
                    let isBlank = fields.count == 1 && fields[0].start == fields[0].end
                    rows.append(
                        isBlank
                            ? []
                            : fields.map { f in
                                let raw = UnsafeRawBufferPointer(rebasing: buf[f.start..<f.end])
                                return f.quoted ? CSVScanner.text(f, in: buf) : encoding.decode(raw)
                            })
                    pos = next
                case .unterminated(_, let lineNext):
                    rows.append(["?"])
                    pos = lineNext
                case .needMore: pos = buf.count
                }
            }
        }
        let nonBlank = rows.enumerated().filter { !$0.element.isEmpty }
        var layout: CDRLayout
        let name = mapping?.layout ?? options.layoutName
        if let name, name != "header" {
            guard var builtIn = CDRLayout.builtIn[name] else {
                throw InputError(
                    .badHeader, path: path,
                    "unknown layout '\(name)' (known: \(CDRLayout.layoutNames.joined(separator: ", ")))")
            }
            builtIn.skipLines = mapping?.skipLines ?? 0
            layout = builtIn
            notes.append("layout \(name) (\(mapping?.layout != nil ? "mapping" : "--layout"))")
        } else if mapping?.hasHeader == false {
            layout = CDRLayout()
            layout.name = "mapping"
            layout.hasHeader = false
            layout.skipLines = mapping?.skipLines ?? 0
            let width = nonBlank.first?.element.count ?? 0
            layout.header = (0..<width).map { "column \($0 + 1)" }
            notes.append("no header row (mapping)")
        } else {
            // The header: the first of the first rows that maps the required fields best.
            var best: (index: Int, layout: CDRLayout)?
            let limit = mapping?.skipLines.map { $0 + 1 } ?? 20
            for (i, (_, row)) in nonBlank.prefix(limit).enumerated() {
                if let skip = mapping?.skipLines, i != skip { continue }
                let candidate = CDRLayout.detect(header: row)
                if candidate.missing.isEmpty || mapping != nil {
                    best = (i, candidate)
                    break
                }
                if best == nil || candidate.score > best!.layout.score { best = (i, candidate) }
            }
            if let best, best.layout.missing.isEmpty || mapping != nil {
                layout = best.layout
                layout.skipLines = best.index
                notes.append(
                    "header on line \(best.index + 1)" + (best.index > 0 ? " after \(best.index) title line(s)" : ""))
            } else if mapping == nil, let first = nonBlank.first?.element,
                let guess = CDRLayout.guessHeaderless(fieldCount: first.count, startText: { first[$0] })
            {
                layout = guess
                notes.append(
                    "no header row; \(first.count) columns and a timestamp where \(guess.name) puts one: layout \(guess.name)"
                )
            } else {
                let seen = nonBlank.first?.element.joined(separator: ", ") ?? "nothing"
                let missing = best?.layout.missing.joined(separator: ", ") ?? "caller, callee, start_time"
                throw InputError(
                    .badHeader, path: path,
                    "no header with \(missing) found in the first rows (first row: \(seen.prefix(200))); "
                        + "pass --layout NAME for a headerless PBX file or --mapping FILE")
            }
        }
        layout.encoding = encoding
        layout.delimiter = delimiter
        layout.dateOrder = mapping?.dateOrder ?? options.dateOrder
        if let hex = mapping?.cellHex { layout.cellHex = hex }
        if let m = mapping {
            for (word, cls) in m.callTypes { layout.callTypes[word] = cls }
            for (field, ref) in m.columns {
                switch ref {
                case .index(let i):
                    layout.columns[field] = i
                case .name(let n):
                    let target = CDRLayout.normalise(n)
                    guard let i = layout.header.firstIndex(where: { CDRLayout.normalise($0) == target }) else {
                        throw InputError(
                            .badHeader, path: path,
                            "mapping names column '\(n)' for \(field.rawValue), but the header has: \(layout.header.joined(separator: ", "))"
                        )
                    }
                    layout.columns[field] = i
                }
            }
            if layout.header.isEmpty || !layout.hasHeader {
                let width = max(layout.header.count, (layout.columns.values.max() ?? -1) + 1)
                if layout.header.count < width {
                    layout.header += (layout.header.count..<width).map { "column \($0 + 1)" }
                }
            }
        }
        if !layout.missing.isEmpty {
            throw InputError(
                .badHeader, path: path,
                "no column for \(layout.missing.joined(separator: ", ")) (columns: \(layout.header.joined(separator: ", ")))"
            )
        }
        return Detection(layout: layout, notes: notes)
    }

    static func describe(_ d: UInt8) -> String {
        switch d {
        case 0x2C: "comma"
        case 0x3B: "semicolon"
        case 0x09: "tab"
        case 0x7C: "pipe"
        default: "'\(Character(Unicode.Scalar(d)))'"
        }
    }

    /// The delimiter that splits the first lines most consistently (comma on a tie).
    static func sniffDelimiter(_ head: [UInt8]) -> UInt8 {
        let candidates: [UInt8] = [0x2C, 0x3B, 0x09, 0x7C]
        var best: (UInt8, Int) = (0x2C, 0)
        for d in candidates {
            var counts: [Int] = []
            var n = 0
            var inQuotes = false
            for b in head {
                if b == 0x22 {
                    inQuotes.toggle()
                } else if !inQuotes && b == d {
                    n += 1
                } else if !inQuotes && b == 0x0A {
                    if n > 0 { counts.append(n) }
                    n = 0
                    if counts.count >= 30 { break }
                }
            }
            guard !counts.isEmpty else { continue }
            // The most common per-line count, and how many lines have it.
            var freq: [Int: Int] = [:]
            for c in counts { freq[c, default: 0] += 1 }
            let mode = freq.max { ($0.value, $0.key) < ($1.value, $1.key) }!
            let score = mode.value * 100 + mode.key
            if score > best.1 { best = (d, score) }
        }
        return best.0
    }

    /// The next accepted record, or `nil` at the end of the input.
    public func next() throws(InputError) -> CallRecord? {
        if capture != nil { return try nextFromCapture() }
        if pipeline != nil { return nextFromChunks() }
        guard let cursor, decoder != nil else { return nil }
        while try cursor.next() {
            let row = cursor.row
            if row.isBlank {
                stats.blankLines += 1
                continue
            }
            stats.read += 1
            if row.malformed {
                reject(row, RejectReason("unterminated-quote", "a quoted field never closes"))
                continue
            }
            var offset = row.offset
            if let spool {
                let idColumn = layout.columns[.callID] ?? -1
                offset = spool.append(
                    idColumn >= 0 ? row.field(idColumn) : UnsafeRawBufferPointer(start: nil, count: 0))
            }
            let source = SourceRef(input: inputIndex, offset: offset, line: row.line)
            switch decoder!.decode(row, source: source) {
            case .record(let record):
                stats.accepted += 1
                lastRowHash = StableHash.words(row.raw)
                lastLegKey = decoder!.legKey(row)
                return record
            case .skipped(let why):
                stats.skipped += 1
                stats.skippedByReason[why, default: 0] += 1
            case .rejected(let reason):
                reject(row, reason)
            }
        }
        finish()
        return nil
    }

    func reject(_ row: Row, _ reason: RejectReason) {
        stats.rejected += 1
        stats.rejectedByReason[reason.code, default: 0] += 1
        rejects?.reject(path: path, line: row.line, reason: reason, raw: row.raw)
    }

    /// Bytes of the input read so far, when known (mapped files; for streams, bytes taken in).
    public var position: Int {
        if pipeline != nil { return chunkNext }
        if mapped != nil { return cursor?.row.offset ?? 0 }
        return counting?.count ?? 0
    }

    /// Counts a record the caller found to be an exact duplicate of an earlier row, or (with
    /// `sameCall`) another leg of a call already counted.
    public func countDuplicate(sameCall: Bool = false) {
        stats.accepted -= 1
        stats.duplicate += 1
        if sameCall { stats.sameCallLegs += 1 }
    }

    deinit { if evidenceFD >= 0 { _ = Glibc.close(evidenceFD) } }

    func finish() {
        if counting != nil {
            if mapped == nil { bytes = bytes == 0 ? counting!.count : bytes }
            if hashing, sha256 == nil { sha256 = counting!.digest() }
        }
    }

    /// The evidence id of a record from this input: its call id, or `FILE:LINE` without a
    /// call-id column.
    public func callID(of ref: SourceRef) -> String {
        if capture != nil {
            if let bytes = spool?.read(ref.offset), !bytes.isEmpty { return String(decoding: bytes, as: UTF8.self) }
            return "\(path)#\(ref.line)"
        }
        guard let idColumn = layout.columns[.callID] else { return "\(path):\(ref.line)" }
        if let spool {
            if let bytes = spool.read(ref.offset), !bytes.isEmpty {
                let text = bytes.withUnsafeBytes { layout.encoding.decode(CDRDecoder.trimmed($0)) }
                if !text.isEmpty { return text }
            }
            return "\(path):\(ref.line)"
        }
        if let mapped {
            // Read with pread, not through the mapping: cited rows are scattered over the file,
            // and faulting each one in (with the kernel's read-around) would make the whole
            // file resident again at the end of a run.
            if let id = rereadCallID(ref, column: idColumn, size: mapped.bytes.count) { return id }
            var fields: [FieldSpan] = []
            let r = CSVScanner(delimiter: layout.delimiter).scan(
                mapped.bytes, from: ref.offset, eof: true, fields: &fields)
            if case .row = r, idColumn < fields.count {
                let f = fields[idColumn]
                let id =
                    f.quoted
                    ? CSVScanner.text(f, in: mapped.bytes)
                    : layout.encoding.decode(UnsafeRawBufferPointer(rebasing: mapped.bytes[f.start..<f.end]))
                let trimmed = id.trimmingSpaces
                if !trimmed.isEmpty { return trimmed }
            }
        }
        return "\(path):\(ref.line)"
    }

    var evidenceFD: Int32 = -2
    var evidenceBuffer: [UInt8] = []

    /// The call id of the row at `ref`, read back with `pread` (nil when the file cannot be
    /// opened again; the caller then reads the mapping).
    func rereadCallID(_ ref: SourceRef, column: Int, size: Int) -> String? {
        if evidenceFD == -2 { evidenceFD = Glibc.open(path, O_RDONLY | O_CLOEXEC) }
        guard evidenceFD >= 0 else { return nil }
        var want = 4096
        while true {
            let n = min(want, size - ref.offset)
            guard n > 0 else { return nil }
            if evidenceBuffer.count < n { evidenceBuffer = [UInt8](repeating: 0, count: n) }
            let got = evidenceBuffer.withUnsafeMutableBytes { pread(evidenceFD, $0.baseAddress, n, off_t(ref.offset)) }
            guard got == n else { return nil }
            let eof = ref.offset + n >= size
            var fields: [FieldSpan] = []
            let result: String?? = evidenceBuffer.withUnsafeBytes { all in
                let buf = UnsafeRawBufferPointer(rebasing: all[0..<n])
                switch CSVScanner(delimiter: layout.delimiter).scan(buf, from: 0, eof: eof, fields: &fields) {
                case .needMore: return .none
                case .row:
                    guard column < fields.count else { return .some(nil) }
                    let f = fields[column]
                    let id =
                        f.quoted
                        ? CSVScanner.text(f, in: buf)
                        : layout.encoding.decode(UnsafeRawBufferPointer(rebasing: buf[f.start..<f.end]))
                    let trimmed = id.trimmingSpaces
                    return .some(trimmed.isEmpty ? nil : trimmed)
                case .unterminated: return .some(nil)
                }
            }
            switch result {
            case .none:
                guard want < 1 << 21 else { return nil }
                want *= 4
            case .some(let id): return id ?? "\(path):\(ref.line)"
            }
        }
    }

    static func fileSHA256(_ path: String) throws(InputError) -> String {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw InputError(.unreadable, path: path, "cannot open to hash") }
        defer { _ = Glibc.close(fd) }
        var h = SHA256()
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buf.deallocate() }
        while true {
            let n = Glibc.read(fd, buf.baseAddress, buf.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            h.update(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
        }
        return SHA256.hex(h.finalize())
    }

    /// Reads the whole input, calling `sink` for each accepted record (a convenience for one input).
    public func run(sink: (CallRecord) -> Void) throws(InputError) {
        if detection == nil { try open() }
        while let r = try next() { sink(r) }
    }
}

/// Counts (and optionally hashes) the raw bytes of a stream.
struct CountingSource {
    var count = 0
    var hasher: SHA256?

    init(hashing: Bool) { hasher = hashing ? SHA256() : nil }

    mutating func add(_ b: UnsafeRawBufferPointer) {
        count += b.count
        if hasher != nil { hasher!.update(b) }
    }

    mutating func digest() -> String? {
        guard var h = hasher else { return nil }
        hasher = nil
        return SHA256.hex(h.finalize())
    }
}

/// Passes a stream through, telling the reader about every byte read.
struct StreamCounter: ByteSource {
    unowned let reader: DumpReader
    var inner: any ByteSource

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(InputError) -> Int {
        let n = try inner.read(into: buffer)
        if n > 0 { reader.counting?.add(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
        return n
    }

    mutating func close() { inner.close() }
}

/// Closes a descriptor when the last closure holding it goes.
final class FileCloser {
    let fd: Int32
    init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }
}
