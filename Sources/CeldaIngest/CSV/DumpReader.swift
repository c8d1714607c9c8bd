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
    /// Blank lines (not rows).
    public var blankLines = 0
    public var rejectedByReason: [String: Int] = [:]
    public var skippedByReason: [String: Int] = [:]
    public init() {}

    public mutating func add(_ o: RowStats) {
        read += o.read
        accepted += o.accepted
        rejected += o.rejected
        skipped += o.skipped
        duplicate += o.duplicate
        blankLines += o.blankLines
        rejectedByReason.merge(o.rejectedByReason, uniquingKeysWith: +)
        skippedByReason.merge(o.skippedByReason, uniquingKeysWith: +)
    }
}

/// Receives rejected rows (the CLI writes them to `--rejects` and the summary).
public protocol RejectSink: AnyObject {
    func reject(path: String, line: Int, reason: RejectReason, raw: UnsafeRawBufferPointer)
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
        guard fd >= 0, !buffer.isEmpty else {
            return
        }
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

    /// Reads back the id at `offset`.
    public func read(_ offset: Int) -> String? {
        flush()
        guard fd >= 0 else { return nil }
        var len = [UInt8](repeating: 0, count: 2)
        guard len.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, 2, off_t(offset)) }) == 2 else { return nil }
        let n = Int(len[0]) | Int(len[1]) << 8
        var bytes = [UInt8](repeating: 0, count: n)
        let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, n, off_t(offset + 2)) }
        guard got == n else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    deinit { if fd >= 0 { close(fd) } }
}

/// Reads one CDR dump (CSV, plain or gzip, file or pipe) into call records.
///
/// The first row is the header; its names are matched to fields by ``CDRColumns``. Every other
/// row is accepted, rejected (with its line and reason, to the ``RejectSink``) or, when blank,
/// counted as a blank line. Regular files are memory-mapped; pipes and gzip are read in chunks.
public final class DumpReader {
    public let path: String
    public let inputIndex: Int
    public let plan: NumberPlan
    public private(set) var stats = RowStats()
    public private(set) var columns = CDRColumns()
    public private(set) var identities = IdentityTable()
    /// Bytes of the input (file size, or bytes read from a stream).
    public private(set) var bytes = 0
    public private(set) var kind = InputOpener.Kind.text
    var mapped: MappedFile?
    var spool: CallIDSpool?
    var delimiter: UInt8 = 0x2C
    /// Optional SHA-256 of the raw input bytes (set `hashing` before `run`).
    public var hashing = false
    public private(set) var sha256: String?

    public init(path: String, inputIndex: Int, plan: NumberPlan) {
        self.path = path
        self.inputIndex = inputIndex
        self.plan = plan
    }

    /// Reads the whole input, calling `sink` for each accepted record.
    ///
    /// - Throws: ``InputError`` when the input cannot be opened, has no usable header, or is cut
    ///   short; records read before the failure have been delivered.
    public func run(rejects: (any RejectSink)?, sink: (CallRecord) -> Void) throws(InputError) {
        let (opened, kind, size) = try InputOpener.open(path)
        self.kind = kind
        if kind == .pcap || kind == .pcapng {
            throw InputError(
                .unsupported, path: path,
                "is a packet capture (\(kind == .pcap ? "pcap" : "pcapng")); this build reads CDR CSV dumps")
        }
        bytes = size ?? 0
        var decoder: CDRDecoder?
        var header = true
        let reader = RowReader()
        var stats = RowStats()
        let handler: (inout RowReader.Row) -> Bool = { [self] row in
            let buf = row.buffer
            if !row.malformed, row.fields.count == 1, row.fields[0].start == row.fields[0].end {
                stats.blankLines += 1
                return true
            }
            if header {
                header = false
                if row.malformed {
                    return false
                }
                var names = row.fields.map { CSVScanner.text($0, in: buf) }
                if let first = names.first, first.hasPrefix("\u{FEFF}") { names[0] = String(first.dropFirst()) }
                columns = CDRColumns.detect(header: names)
                if !columns.missing.isEmpty { return false }
                decoder = CDRDecoder(columns: columns, plan: plan)
                return true
            }
            stats.read += 1
            let raw = UnsafeRawBufferPointer(rebasing: buf[row.rawRange])
            if row.malformed {
                let reason = RejectReason("unterminated-quote", "a quoted field never closes")
                stats.rejected += 1
                stats.rejectedByReason[reason.code, default: 0] += 1
                rejects?.reject(path: path, line: row.line, reason: reason, raw: raw)
                return true
            }
            var offset = row.offset
            if let spool, let idColumn = columns[.callID], idColumn < row.fields.count {
                let f = row.fields[idColumn]
                offset = spool.append(UnsafeRawBufferPointer(rebasing: buf[f.start..<f.end]))
            }
            let source = SourceRef(input: inputIndex, offset: offset, line: row.line)
            switch decoder!.decode(buf, row.fields, source: source) {
            case .success(let record):
                stats.accepted += 1
                sink(record)
            case .failure(let reason):
                stats.rejected += 1
                stats.rejectedByReason[reason.code, default: 0] += 1
                rejects?.reject(path: path, line: row.line, reason: reason, raw: raw)
            }
            return true
        }
        defer {
            self.stats = stats
            if let decoder { identities = decoder.identities }
        }
        switch opened {
        case .mapped(let file):
            mapped = file
            if hashing {
                var h = SHA256()
                h.update(file.bytes)
                sha256 = SHA256.hex(h.finalize())
            }
            reader.read(mapped: file, handler)
        case .stream(let source, _):
            if columnsNeedSpool() { spool = CallIDSpool() }
            var counting = CountingSource(inner: source, hashing: hashing)
            defer {
                bytes = counting.count
                if hashing { sha256 = counting.digest() }
                counting.close()
            }
            try reader.read(stream: &counting, handler)
        }
        if header {
            throw InputError(.badHeader, path: path, "is empty: no header row")
        }
        if decoder == nil {
            let missing = columns.missing.map(\.rawValue).joined(separator: ", ")
            let found = columns.header.isEmpty ? "none" : columns.header.joined(separator: ", ")
            throw InputError(.badHeader, path: path, "header has no column for \(missing) (columns found: \(found))")
        }
    }

    private func columnsNeedSpool() -> Bool { true }

    /// The evidence id of a record from this input: its call id, or `FILE:LINE` without a
    /// call-id column.
    public func callID(of ref: SourceRef) -> String {
        guard let idColumn = columns[.callID] else { return "\(path):\(ref.line)" }
        if let spool {
            return spool.read(ref.offset) ?? "\(path):\(ref.line)"
        }
        if let mapped {
            var fields: [FieldSpan] = []
            let r = CSVScanner(delimiter: delimiter).scan(mapped.bytes, from: ref.offset, eof: true, fields: &fields)
            if case .row = r, idColumn < fields.count {
                let id = CSVScanner.text(fields[idColumn], in: mapped.bytes)
                if !id.isEmpty { return id }
            }
        }
        return "\(path):\(ref.line)"
    }
}

/// Counts (and optionally hashes) the bytes another source delivers.
struct CountingSource: ByteSource {
    var inner: any ByteSource
    var count = 0
    var hasher: SHA256?

    init(inner: any ByteSource, hashing: Bool) {
        self.inner = inner
        self.hasher = hashing ? SHA256() : nil
    }

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(InputError) -> Int {
        let n = try inner.read(into: buffer)
        count += n
        if hasher != nil, n > 0 { hasher!.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
        return n
    }

    mutating func digest() -> String? {
        guard var h = hasher else { return nil }
        hasher = nil
        return SHA256.hex(h.finalize())
    }

    mutating func close() { inner.close() }
}
