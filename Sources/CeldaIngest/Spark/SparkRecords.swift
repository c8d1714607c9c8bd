public import CeldaCore

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The detector families of a cluster run: each is one keyed pass (`DISTRIBUTE BY` its key
/// group), so a family's detectors must key every record they take by the same value.
///
/// - `line`: `burst`, `sequential`, `sim-churn` by line, `watchlist`; keyed by the calling line,
///   and again by the called line (`burst`'s reciprocity, calls to a watched number).
/// - `victim`: `victim`; keyed by the called number, and again by the calling line (the numbers
///   a watched victim calls itself).
/// - `tower`: `tower-surge`; keyed by the cell.
/// - `device`: `sim-churn` by handset; keyed by the IMEI.
public enum SparkFamily: String, CaseIterable, Sendable {
    case line, victim, tower, device

    /// The family of a detector (`nil` for a detector no family takes: a programming error that
    /// `celda spark` reports instead of silently dropping the detector).
    public static func of(_ d: any Detector) -> SparkFamily? {
        switch d {
        case is BurstDetector, is SequentialDetector, is WatchlistDetector: .line
        case is VictimDetector: .victim
        case is TowerSurgeDetector: .tower
        case let s as SimChurnDetector: s.mode == .device ? .device : .line
        default: nil
        }
    }
}

/// A normalised record's sort key and payload: every ``CallRecord`` field in the engine's release
/// order (``CallRecord/precedes(_:_:)``), as fixed-width lowercase hex, so that sorting the text
/// sorts the records: start (sign bit flipped), caller, callee, duration, cell (PLMN, LAC, CI),
/// IMEI, IMSI, flags, source (input index and position).
public enum SparkKey {
    public static let length = 138
    /// The part without the source: records equal in it are equal in content.
    public static let contentLength = 122

    public static func encode(_ r: CallRecord, into out: inout [UInt8]) {
        SparkText.hex(UInt64(bitPattern: r.start) ^ 1 << 63, digits: 16, into: &out)
        SparkText.hex(r.caller.raw, digits: 16, into: &out)
        SparkText.hex(r.callee.raw, digits: 16, into: &out)
        SparkText.hex(UInt64(r.durationMs), digits: 8, into: &out)
        SparkText.hex(UInt64(r.cell.plmn), digits: 8, into: &out)
        SparkText.hex(UInt64(r.cell.lac), digits: 8, into: &out)
        SparkText.hex(r.cell.ci, digits: 16, into: &out)
        SparkText.hex(r.imei, digits: 16, into: &out)
        SparkText.hex(r.imsi, digits: 16, into: &out)
        SparkText.hex(UInt64(r.flags.rawValue), digits: 2, into: &out)
        SparkText.hex(r.source.packed, digits: 16, into: &out)
    }

    public static func decode(_ p: UnsafeRawBufferPointer) -> CallRecord? {
        guard p.count == length else { return nil }
        var at = 0
        func take(_ n: Int) -> UInt64? {
            defer { at += n }
            return SparkText.parseHex(p, from: at, count: n)
        }
        guard let start = take(16), let caller = take(16), let callee = take(16), let dur = take(8),
            let plmn = take(8), let lac = take(8), let ci = take(16), let imei = take(16), let imsi = take(16),
            let flags = take(2), let packed = take(16)
        else { return nil }
        var source = SourceRef(input: 0, offset: 0, line: 0)
        source.packed = packed
        return CallRecord(
            start: EventTime(bitPattern: start ^ 1 << 63), durationMs: UInt32(truncatingIfNeeded: dur),
            flags: CallRecord.Flags(rawValue: UInt8(truncatingIfNeeded: flags)), caller: Party(raw: caller),
            callee: Party(raw: callee), imei: imei, imsi: imsi,
            cell: CellID(plmn: UInt32(truncatingIfNeeded: plmn), lac: UInt32(truncatingIfNeeded: lac), ci: ci),
            source: source)
    }
}

/// Counters a mode reports as `C` lines (summed by the job).
public struct SparkCounters {
    public var values: [String: Int] = [:]
    public init() {}
    public mutating func add(_ name: String, _ n: Int = 1) { values[name, default: 0] += n }

    /// `C<TAB>name<TAB>value` lines, sorted by name.
    public func write(to out: LineWriter) throws(InputError) {
        for (k, v) in values.sorted(by: { $0.key < $1.key }) { try out.line(Array("C\t\(k)\t\(v)".utf8)) }
    }
}

/// `celda spark normalize`: raw dump rows (as Spark read them) to normalised records.
///
/// Input, one row a line: `INPUT<TAB>POSITION<TAB>` then the dump's columns in the order named by
/// `columns`, each escaped (``SparkText/escape(_:into:)``). `INPUT` is the file's index in the
/// sorted input list and `POSITION` Spark's `monotonically_increasing_id()` (partition index
/// above bit 33, row below), which orders rows as they stand in their file, so evidence and ties
/// fall as in a single-process run. Each row is decoded by the same ``CDRDecoder`` as
/// `celda analyze` (numbers to E.164, cells, times, call types).
///
/// Output, one line each (15 tab-separated columns, unused ones empty):
/// `R, key, start_us, tick_bucket, row_hash, line_p, line_s, victim_p, victim_s, tower_p, device_p,
/// call_id, caller_name, callee_name, cell_name` for a record (`*_p`/`*_s`: the key group the
/// family takes the record under, primary or secondary, -1 for none); `X, code, line, …, message`
/// for a rejected row; `C, name, value` counters at the end.
public final class SparkNormalizer {
    public let layout: CDRLayout
    var decoder: CDRDecoder
    let context: DetectorContext
    let families: [(SparkFamily, [any Detector])]
    public private(set) var counters = SparkCounters()
    let tick: EventTime
    var buffer: [UInt8] = []
    var spans: [Range<Int>] = []
    var out: [UInt8] = []

    /// - Throws: ``InputError`` when the columns do not make a usable layout.
    public init(
        columns: [String], options: ReaderOptions, detectors: [any Detector], context: DetectorContext,
        tick: EventTime = EngineConfig().tick
    ) throws(InputError) {
        let probe = DumpReader(path: "spark columns", inputIndex: 0, options: options)
        var head = Array(columns.joined(separator: "\t").utf8)
        head.append(0x0A)
        var found = try probe.detect(head).layout
        // Spark hands over UTF-8 text split into fields.
        found.encoding = .utf8
        found.delimiter = 0x09
        guard found.columns[.callID] != nil else {
            throw InputError(
                .badHeader, path: "spark columns",
                "no call-id column among \(columns.joined(separator: ", ")): a cluster run cites evidence by call id")
        }
        layout = found
        decoder = CDRDecoder(layout: found, plan: options.plan, zone: options.zone)
        self.context = context
        self.tick = tick
        var byFamily: [SparkFamily: [any Detector]] = [:]
        for d in detectors {
            guard let f = SparkFamily.of(d) else {
                throw InputError(.unsupported, path: "spark", "detector \(d.name) belongs to no Spark family")
            }
            byFamily[f, default: []].append(d)
        }
        families = SparkFamily.allCases.map { ($0, byFamily[$0] ?? []) }
    }

    /// Normalises every line of `input` to `output`.
    public func run(_ input: LineReader, _ output: LineWriter) throws(InputError) {
        while try input.next({ (line: UnsafeRawBufferPointer) throws(InputError) in
            try self.row(line, number: input.line, output)
        }) {}
        try counters.write(to: output)
        try output.flush()
    }

    func reject(_ code: String, _ message: String, line: Int, _ output: LineWriter) throws(InputError) {
        counters.add("rows_rejected")
        counters.add("rejected:" + code)
        var o = Array("X\t\(code)\t\(line)\t\t\t\t\t\t\t\t\t".utf8)
        SparkText.escape(Array(message.utf8), into: &o)
        o += Array("\t\t\t".utf8)
        try output.line(o)
    }

    func row(_ line: UnsafeRawBufferPointer, number: Int, _ output: LineWriter) throws(InputError) {
        if line.isEmpty { return }
        SparkText.split(line, into: &spans)
        counters.add("rows_read")
        let width = layout.header.count
        guard spans.count == width + 2 else {
            return try reject(
                "field-count", "row has \(spans.count - 2) fields, the columns are \(width)", line: number, output)
        }
        guard let input = SparkText.parseInt(UnsafeRawBufferPointer(rebasing: line[spans[0]])), input >= 0,
            input < 1 << 16, let id = SparkText.parseInt(UnsafeRawBufferPointer(rebasing: line[spans[1]])), id >= 0
        else {
            throw InputError(
                .corrupt, path: "standard input",
                "line \(number): the first two fields must be the input index (0-65535) and the row position")
        }
        let partition = UInt64(id) >> 33
        let position = UInt64(id) & (1 << 33 - 1)
        guard partition < 1 << 15 else {
            throw InputError(
                .unsupported, path: "standard input", "line \(number): more than 32768 input splits in one run")
        }
        // The fields, unescaped, side by side (tab-separated, as the row's raw bytes).
        buffer.removeAll(keepingCapacity: true)
        var fields: [FieldSpan] = []
        fields.reserveCapacity(width)
        for k in 2..<spans.count {
            if k > 2 { buffer.append(0x09) }
            let s = buffer.count
            SparkText.unescape(UnsafeRawBufferPointer(rebasing: line[spans[k]]), into: &buffer)
            fields.append(FieldSpan(start: s, end: buffer.count, quoted: false))
        }
        let source = SourceRef(input: Int(input), offset: Int(partition << 33 | position), line: 0)
        let outcome: RowOutcome = buffer.withUnsafeBytes { b in
            let row = Row(buffer: b, fields: fields, offset: 0, line: number, rawRange: 0..<b.count, malformed: false)
            return decoder.decode(row, source: source)
        }
        switch outcome {
        case .skipped(let why):
            counters.add("rows_skipped")
            counters.add("skipped:" + why)
        case .rejected(let reason):
            try reject(reason.code, reason.message, line: number, output)
        case .record(var r):
            counters.add("rows_accepted")
            try record(&r, fields: fields, number: number, output)
        }
    }

    func record(_ r: inout CallRecord, fields: [FieldSpan], number: Int, _ output: LineWriter) throws(InputError) {
        if !decoder.newTowers.isEmpty {
            let fresh = decoder.newTowers.filter { !context.sites.contains($0.cell) }
            decoder.newTowers.removeAll()
            if !fresh.isEmpty {
                throw InputError(
                    .unsupported, path: "standard input",
                    "line \(number): the dump places cell \(fresh[0].cell.formatted) with inline coordinates; "
                        + "a cluster run needs every tower in the --towers file")
            }
        }
        let (rowHash, legKey, callID): (UInt64, UInt64, [UInt8]) = buffer.withUnsafeBytes { b in
            let row = Row(buffer: b, fields: fields, offset: 0, line: number, rawRange: 0..<b.count, malformed: false)
            let id = layout.columns[.callID].map { CDRDecoder.trimmed(row.field($0)) }
            return (StableHash.bytes(b), decoder.legKey(row), id.map { Array($0) } ?? [])
        }
        if legKey != 0 {
            throw InputError(
                .unsupported, path: "standard input",
                "line \(number): rows with a charging id (icid) are legs of one call counted once, "
                    + "which a cluster run does not do; analyse them with celda analyze")
        }
        if !context.allowlist.isEmpty, context.allowlist.contains(r.caller) {
            counters.add("records_allowlisted")
            return
        }
        context.sites.locate(&r)
        if !r.isLocated {
            counters.add("records_unlocated")
        } else if r.isPrisonLinked {
            counters.add("records_prison_linked")
        }
        counters.add("records")
        out.removeAll(keepingCapacity: true)
        out += [0x52, 0x09]
        SparkKey.encode(r, into: &out)
        out.append(0x09)
        SparkText.decimal(r.start, into: &out)
        out.append(0x09)
        SparkText.decimal(r.start / tick, into: &out)
        out.append(0x09)
        SparkText.hex(rowHash, digits: 16, into: &out)
        for (family, detectors) in families {
            for role in [KeyRole.primary, .secondary] {
                out.append(0x09)
                var key: UInt64?
                for d in detectors {
                    guard
                        let k = role == .primary
                            ? d.routingKey(of: r, context: context) : d.secondaryKey(of: r, context: context)
                    else { continue }
                    if let key, key != k {
                        throw InputError(
                            .unsupported, path: "spark",
                            "the \(family.rawValue) family's detectors key one record by different values")
                    }
                    key = k
                }
                SparkText.decimal(key.map { Int64(KeyPartition.group(of: $0)) } ?? -1, into: &out)
            }
        }
        out.append(0x09)
        SparkText.escape(callID, into: &out)
        out.append(0x09)
        if r.caller.isText { SparkText.escape(Array(decoder.identities.name(of: r.caller).utf8), into: &out) }
        out.append(0x09)
        if r.callee.isText { SparkText.escape(Array(decoder.identities.name(of: r.callee).utf8), into: &out) }
        out.append(0x09)
        if r.cell.isSiteCode { SparkText.escape(Array(decoder.sites.name(of: r.cell).utf8), into: &out) }
        try output.line(out)
    }
}

/// Call ids of the records a family pass read, kept in an unlinked temporary file with the
/// record's source position and read back for the ones the findings cite.
final class CallIDLog {
    var fd: Int32 = -1
    var buffer: [UInt8] = []

    func append(_ packed: UInt64, _ id: [UInt8]) throws(InputError) {
        if fd < 0 {
            var template = Array("\(CallIDSpool.tempDirectory())/celda-spark-ids-XXXXXX".utf8CString)
            fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else {
                throw InputError(.unreadable, path: CallIDSpool.tempDirectory(), "cannot create a temporary file")
            }
            template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        }
        var x = packed
        for _ in 0..<8 {
            buffer.append(UInt8(x & 0xFF))
            x >>= 8
        }
        let n = min(id.count, 0xFFFF)
        buffer.append(UInt8(n & 0xFF))
        buffer.append(UInt8(n >> 8))
        buffer += id.prefix(n)
        if buffer.count >= 1 << 16 { try flush() }
    }

    func flush() throws(InputError) {
        guard fd >= 0, !buffer.isEmpty else { return }
        let ok = buffer.withUnsafeBytes { b in
            var done = 0
            while done < b.count {
                let n = write(fd, b.baseAddress! + done, b.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                done += n
            }
            return true
        }
        buffer.removeAll(keepingCapacity: true)
        if !ok { throw InputError(.unreadable, path: CallIDSpool.tempDirectory(), "cannot write a temporary file") }
    }

    /// The ids of `wanted`, by one pass over the log.
    func lookup(_ wanted: Set<UInt64>) throws(InputError) -> [UInt64: String] {
        try flush()
        var found: [UInt64: String] = [:]
        guard fd >= 0, !wanted.isEmpty else { return found }
        guard lseek(fd, 0, SEEK_SET) == 0 else {
            throw InputError(.unreadable, path: CallIDSpool.tempDirectory(), "cannot read a temporary file")
        }
        let reader = LineReader(fd: fd)
        // The log is binary: read it through the reader's buffer as raw chunks.
        var pending: [UInt8] = []
        while true {
            try reader.fill()
            let chunk = UnsafeRawBufferPointer(rebasing: reader.buffer[reader.start..<reader.end])
            pending += chunk
            reader.start = reader.end
            var at = 0
            while pending.count - at >= 10 {
                var packed: UInt64 = 0
                for k in 0..<8 { packed |= UInt64(pending[at + k]) << UInt64(8 * k) }
                let n = Int(pending[at + 8]) | Int(pending[at + 9]) << 8
                guard pending.count - at >= 10 + n else { break }
                if wanted.contains(packed) {
                    found[packed] = String(decoding: pending[(at + 10)..<(at + 10 + n)], as: UTF8.self)
                }
                at += 10 + n
            }
            pending.removeFirst(at)
            if reader.eof && reader.end == reader.start { break }
        }
        return found
    }

    deinit { if fd >= 0 { close(fd) } }
}

/// `celda spark family`: one detector family over the records of some whole key groups, sorted
/// by ``SparkKey``, as the single-process engine would have dispatched them to a lane.
///
/// Input, one line each: `ROLE<TAB>key<TAB>row_hash<TAB>call_id<TAB>caller_name<TAB>callee_name<TAB>cell_name`,
/// sorted by key then role (`P` before `S`); a record that both its keys bring here comes twice.
/// Event time ticks where the whole dump's would (``ticks``: the first start time of each
/// 10-minute bucket after the first, as ``EngineFront`` ticks), so windows, sweeps and idle
/// eviction happen at the same event times as in one process. An exact repeat of a row is
/// counted once, as ``DumpSet`` does.
public final class SparkFamilyRun {
    public let family: SparkFamily
    let context: DetectorContext
    var detectors: [any Detector]
    var output = DetectorOutput()
    let ticks: [EventTime]
    var nextTick = 0
    public private(set) var counters = SparkCounters()
    var identities = IdentityTable()
    var siteNames: SiteNames
    let ids = CallIDLog()
    // The record being gathered (its roles may come on two lines).
    var current: CallRecord?
    var currentKey: [UInt8] = []
    var roles: (primary: Bool, secondary: Bool) = (false, false)
    var contentKey: [UInt8] = []
    var contentHashes = Set<UInt64>()
    var lastKey: [UInt8] = []
    var lastRole: UInt8 = 0
    var spans: [Range<Int>] = []
    var scratch: [UInt8] = []

    /// - Parameters:
    ///   - bucketStarts: the earliest start of every 10-minute bucket that holds a record (any order).
    public init(
        family: SparkFamily, detectors: [any Detector], context: DetectorContext, bucketStarts: [EventTime],
        siteNames: SiteNames
    ) {
        self.family = family
        self.context = context
        self.detectors = detectors.filter { SparkFamily.of($0) == family }.map { $0.startingRun().makeShard() }
        // The engine's front does not tick on the first record it releases.
        ticks = Array(Set(bucketStarts).sorted().dropFirst())
        self.siteNames = siteNames
    }

    /// Reads every line, then writes the findings.
    public func run(
        _ input: LineReader, settings: String, prisons: [Prison], _ output: LineWriter, tag: String
    ) throws(InputError) {
        while try input.next({ (line: UnsafeRawBufferPointer) throws(InputError) in
            try self.line(line, number: input.line)
        }) {}
        try dispatchCurrent()
        while nextTick < ticks.count {
            advance(to: ticks[nextTick])
            nextTick += 1
        }
        for i in detectors.indices { detectors[i].finish(context: context, output: &self.output) }
        let found = DetectorOutput.merged([self.output])
        // The call ids the findings cite.
        var refs = Set<UInt64>()
        for a in found.alerts + found.victimCandidates { for r in a.evidence { refs.insert(r.packed) } }
        for l in found.victimLinks + found.prisonCalls { refs.insert(l.ref.packed) }
        for l in found.longCalls { refs.insert(l.ref.packed) }
        let resolver = SparkResolver(
            identities: identities, sites: siteNames, callIDs: try ids.lookup(refs))
        let findings = ShardFindings(
            part: 0, parts: 1, settings: settings, prisons: prisons, allowlist: context.allowlist, output: found,
            records: counters.values["records"] ?? 0, resolver: resolver)
        let text = SparkText.base64(findings.encoded())
        let chunk = 1 << 16
        let total = max(1, (text.count + chunk - 1) / chunk)
        var seq = 0
        var at = 0
        repeat {
            let end = min(text.count, at + chunk)
            try output.line(Array("F\t\(tag)\t\(seq)/\(total)\t".utf8) + text[at..<end])
            seq += 1
            at = end
        } while at < text.count
        counters.add("alerts_keyed:" + family.rawValue, found.alerts.count)
        try counters.write(to: output)
        try output.flush()
    }

    func fail(_ number: Int, _ message: String) -> InputError {
        InputError(.corrupt, path: "standard input", "line \(number): \(message)")
    }

    func line(_ line: UnsafeRawBufferPointer, number: Int) throws(InputError) {
        if line.isEmpty { return }
        SparkText.split(line, into: &spans)
        guard spans.count == 7 else {
            throw fail(
                number, "expected 7 tab-separated fields (role, key, row hash, call id, names), got \(spans.count)")
        }
        func field(_ i: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: line[spans[i]]) }
        let roleField = field(0)
        guard roleField.count == 1, roleField[0] == 0x50 || roleField[0] == 0x53 else {
            throw fail(number, "the role must be P or S")
        }
        let role = roleField[0]
        let key = field(1)
        guard let record = SparkKey.decode(key) else {
            throw fail(number, "not a record key from celda spark normalize")
        }
        // Sorted by key, then role.
        let order: Bool = lastKey.withUnsafeBytes { last in
            if last.isEmpty { return true }
            let c = memcmp(last.baseAddress!, key.baseAddress!, SparkKey.length)
            return c < 0 || (c == 0 && lastRole < role)
        }
        guard order else {
            throw fail(
                number,
                "records are not sorted by key (SORT BY key, role): a family pass needs each partition in the engine's order"
            )
        }
        lastKey = Array(key)
        lastRole = role
        if current != nil, currentKey.elementsEqual(key) {
            if role == 0x53 { roles.secondary = true } else { roles.primary = true }
            return
        }
        try dispatchCurrent()
        // An exact repeat of a row (same content, same raw bytes) is counted once.
        let content = UnsafeRawBufferPointer(rebasing: key[0..<SparkKey.contentLength])
        if !contentKey.elementsEqual(content) {
            contentKey = Array(content)
            contentHashes.removeAll(keepingCapacity: true)
        }
        guard let hash = SparkText.parseHex(field(2), from: 0, count: 16), field(2).count == 16 else {
            throw fail(number, "the row hash must be 16 hex digits")
        }
        if !contentHashes.insert(hash).inserted {
            if role == 0x50 { counters.add("rows_duplicate:" + family.rawValue) }
            currentKey = Array(key)
            current = nil
            return
        }
        var r = record
        context.sites.locate(&r)
        scratch.removeAll(keepingCapacity: true)
        SparkText.unescape(field(3), into: &scratch)
        try ids.append(r.source.packed, scratch)
        if r.caller.isText { try intern(field(4), r.caller, number) }
        if r.callee.isText { try intern(field(5), r.callee, number) }
        if r.cell.isSiteCode {
            scratch.removeAll(keepingCapacity: true)
            SparkText.unescape(field(6), into: &scratch)
            let name = String(decoding: scratch, as: UTF8.self)
            guard siteNames.intern(name) == r.cell else { throw fail(number, "the cell name does not match its cell") }
        }
        current = r
        currentKey = Array(key)
        roles = (role == 0x50, role == 0x53)
    }

    func intern(_ field: UnsafeRawBufferPointer, _ party: Party, _ number: Int) throws(InputError) {
        scratch.removeAll(keepingCapacity: true)
        SparkText.unescape(field, into: &scratch)
        let got = scratch.withUnsafeBytes { identities.intern($0) }
        guard got == party else { throw fail(number, "the name does not match its party") }
    }

    func advance(to t: EventTime) {
        for i in detectors.indices { detectors[i].advance(to: t, context: context, output: &output) }
    }

    func dispatchCurrent() throws(InputError) {
        guard let r = current else { return }
        current = nil
        while nextTick < ticks.count, ticks[nextTick] <= r.start {
            advance(to: ticks[nextTick])
            nextTick += 1
        }
        counters.add("records")
        for i in detectors.indices {
            if roles.primary, detectors[i].routingKey(of: r, context: context) != nil {
                detectors[i].observe(r, role: .primary, context: context, output: &output)
            }
            if roles.secondary, detectors[i].secondaryKey(of: r, context: context) != nil {
                detectors[i].observe(r, role: .secondary, context: context, output: &output)
            }
        }
    }
}

/// Names, towers and call ids of a family pass.
struct SparkResolver: AlertResolver {
    let identities: IdentityTable
    let sites: SiteNames
    let callIDs: [UInt64: String]

    func name(of party: Party) -> String { identities.name(of: party) }
    func towerName(_ cell: CellID) -> String { sites.name(of: cell) }
    func callID(of ref: SourceRef) -> String {
        if let id = callIDs[ref.packed], !id.isEmpty { return id }
        return "?:\(ref.line)"
    }
}

/// `celda spark finish`: the findings of every pass, folded into one as each pass's chunks are
/// complete, so memory holds the merged findings and one pass's text rather than every pass's
/// (the job sorts the chunks by tag).
public struct SparkFindingsSet {
    /// What every pass must have run with.
    public let settings: String
    public let prisons: [Prison]
    public let allowExact: [UInt64]
    var chunks: [String: (total: Int, parts: [Int: [UInt8]])] = [:]
    var done = Set<String>()
    var merged = DetectorOutput()
    var sketch: PairSketch?
    public private(set) var resolver = FindingsResolver()
    /// Passes folded in.
    public private(set) var passes = 0

    public init(settings: String, prisons: [Prison], allowlist: NumberList) {
        self.settings = settings
        self.prisons = prisons
        allowExact = allowlist.exactValues
    }

    /// Takes an `F<TAB>tag<TAB>seq/total<TAB>base64` line; other kinds are ignored.
    public mutating func add(_ line: UnsafeRawBufferPointer, number: Int) throws(InputError) {
        guard line.first == 0x46 else { return }
        var spans: [Range<Int>] = []
        SparkText.split(line, into: &spans)
        let bad = InputError(
            .corrupt, path: "standard input", "line \(number): a findings line is F, tag, seq/total, data")
        guard spans.count == 4 else { throw bad }
        let seqText = String(decoding: UnsafeRawBufferPointer(rebasing: line[spans[2]]), as: UTF8.self)
        let bits = seqText.split(separator: "/")
        guard bits.count == 2, let seq = Int(bits[0]), let total = Int(bits[1]), seq >= 0, seq < total else {
            throw bad
        }
        let tag = String(decoding: UnsafeRawBufferPointer(rebasing: line[spans[1]]), as: UTF8.self)
        guard !done.contains(tag) else {
            throw InputError(
                .corrupt, path: tag, "line \(number): findings chunk \(seqText) after its pass was complete")
        }
        var entry = chunks[tag] ?? (total, [:])
        guard entry.total == total, entry.parts[seq] == nil else {
            throw InputError(.corrupt, path: tag, "line \(number): findings chunk \(seqText) repeated or inconsistent")
        }
        entry.parts[seq] = Array(UnsafeRawBufferPointer(rebasing: line[spans[3]]))
        if entry.parts.count < total {
            chunks[tag] = entry
            return
        }
        chunks[tag] = nil
        done.insert(tag)
        guard let bytes = SparkText.unbase64((0..<total).flatMap { entry.parts[$0]! }) else {
            throw InputError(.corrupt, path: tag, "findings are not valid base64")
        }
        try fold(try ShardFindings.decode(bytes, path: tag), tag: tag)
    }

    mutating func fold(_ f: ShardFindings, tag: String) throws(InputError) {
        guard f.settings == settings, f.prisons == prisons, f.allowExact == allowExact else {
            throw InputError(
                .unsupported, path: tag,
                "the pass ran with other settings, prisons or allowlist than finish; refusing to merge")
        }
        resolver.add(f)
        let o = f.output
        merged.alerts += o.alerts
        merged.victimLinks += o.victimLinks
        merged.victimCandidates += o.victimCandidates
        merged.longCalls += o.longCalls
        merged.prisonCalls += o.prisonCalls
        // The settings match (checked above), so the sketches are of one size.
        for s in o.pairSketches { PairSketch.accumulate(s, into: &sketch) }
        passes += 1
    }

    /// The merged findings, in canonical order; an error when a pass's chunks are missing.
    public func findings() throws(InputError) -> DetectorOutput {
        if let (tag, entry) = chunks.first {
            throw InputError(
                .truncated, path: tag, "findings chunks are missing (\(entry.parts.count) of \(entry.total))")
        }
        var m = merged
        m.pairSketches = sketch.map { [$0] } ?? []
        return DetectorOutput.merged([m])
    }
}
