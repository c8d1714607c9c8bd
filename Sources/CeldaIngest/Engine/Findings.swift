public import CeldaCore

/// What one `--shard K/N` run found: the keyed detectors' findings before the second stages,
/// with everything needed to finish the log elsewhere (`celda merge`): the names, call ids and
/// tower names they refer to, the prison list, the allowlist and the detector settings.
///
/// Binary, little-endian, exact (scores keep every bit), so N shard files merged give the
/// single-run log byte for byte.
public struct ShardFindings {
    public static let magic = Array("CELDA-FINDINGS/1\n".utf8)

    public var part: Int
    public var parts: Int
    /// `DetectorSettings.rendered()` of the run.
    public var settings: String
    public var prisons: [Prison]
    public var allowExact: [UInt64]
    public var allowPrefixes: [(UInt64, Int)]
    public var output: DetectorOutput
    public var names: [UInt64: String] = [:]
    public var callIDs: [SourceRef: String] = [:]
    public var towerNames: [CellID: String] = [:]
    /// Records the run analysed (the same in every shard).
    public var records: Int

    public init(
        part: Int, parts: Int, settings: String, prisons: [Prison], allowlist: NumberList, output: DetectorOutput,
        records: Int, resolver: some AlertResolver
    ) {
        self.part = part
        self.parts = parts
        self.settings = settings
        self.prisons = prisons
        self.allowExact = allowlist.exactValues
        self.allowPrefixes = allowlist.prefixValues
        self.output = output
        self.records = records
        // Resolve every reference now, while the inputs are at hand.
        var parties = Set<Party>()
        var refs = Set<SourceRef>()
        var cells = Set<CellID>()
        func entity(_ e: Entity) {
            switch e {
            case .line(let p), .victim(let p): parties.insert(p)
            case .tower(let c): cells.insert(c)
            default: break
            }
        }
        for a in output.alerts + output.victimCandidates {
            entity(a.entity)
            a.related.forEach(entity)
            refs.formUnion(a.evidence)
            cells.formUnion(a.towers)
        }
        for l in output.victimLinks + output.prisonCalls {
            parties.insert(l.victim)
            parties.insert(l.caller)
            refs.insert(l.ref)
        }
        for l in output.longCalls {
            parties.insert(l.victim)
            parties.insert(l.caller)
            refs.insert(l.ref)
        }
        for p in parties where p.formatted == nil && !p.isNone { names[p.raw] = resolver.name(of: p) }
        for r in refs { callIDs[r] = resolver.callID(of: r) }
        for c in cells {
            let n = resolver.towerName(c)
            if n != c.formatted { towerNames[c] = n }
        }
    }

    /// The allowlist the shard ran with.
    public var allowlist: NumberList {
        var l = NumberList()
        for v in allowExact { l.add(Party(raw: v)) }
        for (d, n) in allowPrefixes { l.addPrefix(digits: d, count: n) }
        return l
    }

    // MARK: encoding

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.bytes(Self.magic)
        w.int(part)
        w.int(parts)
        w.int(records)
        w.string(settings)
        w.int(prisons.count)
        for p in prisons {
            w.string(p.id)
            w.string(p.name)
            w.double(p.location.lat)
            w.double(p.location.lon)
            w.double(p.radiusM)
            w.string(p.state)
            w.string(p.source)
            w.int(p.polygons.count)
            for poly in p.polygons {
                w.int(poly.count)
                for ring in poly {
                    w.int(ring.count)
                    for pt in ring {
                        w.double(pt.lat)
                        w.double(pt.lon)
                    }
                }
            }
        }
        w.int(allowExact.count)
        allowExact.forEach { w.u64($0) }
        w.int(allowPrefixes.count)
        for (d, n) in allowPrefixes {
            w.u64(d)
            w.int(n)
        }
        let o = output
        w.int(o.alerts.count)
        o.alerts.forEach { w.alert($0) }
        w.int(o.victimCandidates.count)
        o.victimCandidates.forEach { w.alert($0) }
        for list in [o.victimLinks, o.prisonCalls] {
            w.int(list.count)
            for l in list {
                w.u64(l.victim.raw)
                w.u64(l.caller.raw)
                w.int(l.prison)
                w.i64(l.time)
                w.ref(l.ref)
            }
        }
        w.int(o.longCalls.count)
        for l in o.longCalls {
            w.u64(l.victim.raw)
            w.u64(l.caller.raw)
            w.int(l.prison)
            w.i64(l.start)
            w.i64(l.end)
            w.ref(l.ref)
        }
        // An empty sketch (a shard that saw no call) is the same as none.
        let sketches = o.pairSketches.filter { !$0.isEmpty }
        w.int(sketches.count)
        for s in sketches {
            // Its size, then runs of zero words, common in small dumps: (zeros, literal count,
            // literals…).
            w.int(s.counters)
            s.withWords { words in
                var i = 0
                while i < words.count {
                    var zeros = 0
                    while i < words.count, words[i] == 0 {
                        zeros += 1
                        i += 1
                    }
                    var j = i
                    while j < words.count, words[j] != 0 { j += 1 }
                    w.int(zeros)
                    w.int(j - i)
                    for k in i..<j { w.u64(words[k]) }
                    i = j
                }
            }
        }
        w.int(names.count)
        for (k, v) in names.sorted(by: { $0.key < $1.key }) {
            w.u64(k)
            w.string(v)
        }
        w.int(callIDs.count)
        for (k, v) in callIDs.sorted(by: { $0.key < $1.key }) {
            w.ref(k)
            w.string(v)
        }
        w.int(towerNames.count)
        for (k, v) in towerNames.sorted(by: { $0.key < $1.key }) {
            w.cell(k)
            w.string(v)
        }
        w.bytes(Array("END\n".utf8))
        return w.out
    }

    /// Reads a findings file written by ``encoded()``.
    public static func decode(_ bytes: [UInt8], path: String) throws(InputError) -> ShardFindings {
        var r = ByteReader(bytes: bytes)
        guard bytes.starts(with: magic) else {
            throw InputError(.badHeader, path: path, "is not a shard findings file (write one with --shard K/N)")
        }
        r.pos = magic.count
        do throws(ByteReader.Short) {
            let part = try r.int()
            let parts = try r.int()
            let records = try r.int()
            let settings = try r.string()
            var prisons: [Prison] = []
            for _ in 0..<(try r.count()) {
                let id = try r.string()
                let name = try r.string()
                let lat = try r.double()
                let lon = try r.double()
                let radius = try r.double()
                let state = try r.string()
                let source = try r.string()
                var polygons: [[[GeoPoint]]] = []
                for _ in 0..<(try r.count()) {
                    var poly: [[GeoPoint]] = []
                    for _ in 0..<(try r.count()) {
                        var ring: [GeoPoint] = []
                        for _ in 0..<(try r.count()) { ring.append(GeoPoint(lat: try r.double(), lon: try r.double())) }
                        poly.append(ring)
                    }
                    polygons.append(poly)
                }
                prisons.append(
                    Prison(
                        id: id, name: name, location: GeoPoint(lat: lat, lon: lon), radiusM: radius, state: state,
                        source: source, polygons: polygons))
            }
            var allow = NumberList()
            for _ in 0..<(try r.count()) { allow.add(Party(raw: try r.u64())) }
            for _ in 0..<(try r.count()) { allow.addPrefix(digits: try r.u64(), count: try r.int()) }
            var o = DetectorOutput()
            for _ in 0..<(try r.count()) { o.alerts.append(try r.alert()) }
            for _ in 0..<(try r.count()) { o.victimCandidates.append(try r.alert()) }
            for k in 0..<2 {
                var list: [VictimLink] = []
                for _ in 0..<(try r.count()) {
                    list.append(
                        VictimLink(
                            victim: Party(raw: try r.u64()), caller: Party(raw: try r.u64()), prison: try r.int(),
                            time: try r.i64(), ref: try r.ref()))
                }
                if k == 0 { o.victimLinks = list } else { o.prisonCalls = list }
            }
            for _ in 0..<(try r.count()) {
                o.longCalls.append(
                    LongCall(
                        victim: Party(raw: try r.u64()), caller: Party(raw: try r.u64()), prison: try r.int(),
                        start: try r.i64(), end: try r.i64(), ref: try r.ref()))
            }
            for _ in 0..<(try r.count()) {
                // The size the shard ran with: the one its settings give.
                let counters = try r.int()
                let mib = (try? SettingsFile.parse(settings, path: path))?.victim.pairSketchMiB
                guard let mib, counters == mib * PairSketch.countersPerMiB else { throw ByteReader.Short() }
                let s = PairSketch(counters: counters)
                try s.withMutableWords { (words) throws(ByteReader.Short) in
                    var i = 0
                    while i < words.count {
                        let zeros = try r.int()
                        let n = try r.int()
                        guard zeros >= 0, n >= 0, i + zeros + n <= words.count else { throw ByteReader.Short() }
                        i += zeros
                        for k in 0..<n { words[i + k] = try r.u64() }
                        i += n
                    }
                }
                o.pairSketches.append(s)
            }
            var f = ShardFindings(
                part: part, parts: parts, settings: settings, prisons: prisons, allowlist: allow, output: o,
                records: records, resolver: NoResolver())
            f.names = [:]
            f.callIDs = [:]
            f.towerNames = [:]
            for _ in 0..<(try r.count()) { f.names[try r.u64()] = try r.string() }
            for _ in 0..<(try r.count()) { f.callIDs[try r.ref()] = try r.string() }
            for _ in 0..<(try r.count()) { f.towerNames[try r.cell()] = try r.string() }
            guard Array(bytes[r.pos...]) == Array("END\n".utf8) else { throw ByteReader.Short() }
            return f
        } catch {
            throw InputError(.truncated, path: path, "shard findings file is cut short or damaged (at byte \(r.pos))")
        }
    }
}

/// Resolves from the tables of merged findings.
public struct FindingsResolver: AlertResolver {
    public var names: [UInt64: String] = [:]
    public var callIDs: [SourceRef: String] = [:]
    public var towerNames: [CellID: String] = [:]
    public init() {}

    public mutating func add(_ f: ShardFindings) {
        names.merge(f.names) { a, _ in a }
        callIDs.merge(f.callIDs) { a, _ in a }
        towerNames.merge(f.towerNames) { a, _ in a }
    }

    public func name(of party: Party) -> String {
        if let s = party.formatted { return s }
        return names[party.raw] ?? IdentityTable().name(of: party)
    }

    public func callID(of ref: SourceRef) -> String { callIDs[ref] ?? "?:\(ref.line)" }

    public func towerName(_ cell: CellID) -> String { towerNames[cell] ?? cell.formatted }
}

struct NoResolver: AlertResolver {
    func name(of party: Party) -> String { "" }
    func callID(of ref: SourceRef) -> String { "" }
}

struct ByteWriter {
    var out: [UInt8] = []

    mutating func bytes(_ b: [UInt8]) { out += b }
    mutating func u64(_ v: UInt64) {
        var x = v
        for _ in 0..<8 {
            out.append(UInt8(x & 0xFF))
            x >>= 8
        }
    }
    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    mutating func int(_ v: Int) { i64(Int64(v)) }
    mutating func double(_ d: Double) { u64(d.bitPattern) }
    mutating func string(_ s: String) {
        let b = Array(s.utf8)
        int(b.count)
        out += b
    }
    mutating func ref(_ r: SourceRef) {
        u64(r.packed)
        u64(UInt64(r.line))
    }
    mutating func cell(_ c: CellID) {
        u64(UInt64(c.plmn))
        u64(UInt64(c.lac))
        u64(c.ci)
    }
    mutating func entity(_ e: Entity) {
        switch e {
        case .line(let p):
            out.append(1)
            u64(p.raw)
        case .victim(let p):
            out.append(2)
            u64(p.raw)
        case .device(let d):
            out.append(3)
            u64(d)
        case .tower(let c):
            out.append(4)
            cell(c)
        case .prisonPair(let s):
            out.append(5)
            string(s)
        }
    }
    mutating func alert(_ a: Alert) {
        string(a.detector)
        int(a.severity.rawValue)
        double(a.score)
        entity(a.entity)
        i64(a.windowStart)
        i64(a.windowEnd)
        i64(a.detectedAt)
        if let p = a.prison {
            out.append(1)
            int(p.index)
            double(p.distanceM)
        } else {
            out.append(0)
        }
        int(a.towers.count)
        a.towers.forEach { cell($0) }
        int(a.metrics.count)
        for (k, v) in a.metrics {
            string(k)
            switch v {
            case .int(let i):
                out.append(0)
                int(i)
            case .number(let d):
                out.append(1)
                double(d)
            }
        }
        int(a.reasons.count)
        a.reasons.forEach { string($0) }
        int(a.evidence.count)
        a.evidence.forEach { ref($0) }
        int(a.evidenceTotal)
        int(a.related.count)
        a.related.forEach { entity($0) }
    }
}

struct ByteReader {
    struct Short: Error {}
    let bytes: [UInt8]
    var pos = 0

    mutating func u8() throws(Short) -> UInt8 {
        guard pos < bytes.count else { throw Short() }
        pos += 1
        return bytes[pos - 1]
    }
    mutating func u64() throws(Short) -> UInt64 {
        guard pos + 8 <= bytes.count else { throw Short() }
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(bytes[pos + k]) << UInt64(8 * k) }
        pos += 8
        return v
    }
    mutating func i64() throws(Short) -> Int64 { Int64(bitPattern: try u64()) }
    mutating func int() throws(Short) -> Int { Int(try i64()) }
    /// A count (bounded by what is left, so a damaged file cannot ask for huge arrays).
    mutating func count() throws(Short) -> Int {
        let n = try int()
        guard n >= 0, n <= bytes.count - pos else { throw Short() }
        return n
    }
    mutating func double() throws(Short) -> Double { Double(bitPattern: try u64()) }
    mutating func string() throws(Short) -> String {
        let n = try count()
        defer { pos += n }
        return String(decoding: bytes[pos..<(pos + n)], as: UTF8.self)
    }
    mutating func ref() throws(Short) -> SourceRef {
        let packed = try u64()
        let line = try u64()
        var r = SourceRef(input: 0, offset: 0, line: Int(line))
        r.packed = packed
        return r
    }
    mutating func cell() throws(Short) -> CellID {
        CellID(plmn: UInt32(truncatingIfNeeded: try u64()), lac: UInt32(truncatingIfNeeded: try u64()), ci: try u64())
    }
    mutating func entity() throws(Short) -> Entity {
        switch try u8() {
        case 1: return .line(Party(raw: try u64()))
        case 2: return .victim(Party(raw: try u64()))
        case 3: return .device(try u64())
        case 4: return .tower(try cell())
        case 5: return .prisonPair(try string())
        default: throw Short()
        }
    }
    mutating func alert() throws(Short) -> Alert {
        let detector = try string()
        guard let severity = Severity(rawValue: try int()) else { throw Short() }
        let score = try double()
        let entity = try entity()
        let ws = try i64()
        let we = try i64()
        let at = try i64()
        var prison: AlertPrison?
        if try u8() == 1 { prison = AlertPrison(index: try int(), distanceM: try double()) }
        var towers: [CellID] = []
        for _ in 0..<(try count()) { towers.append(try cell()) }
        var metrics: [(String, MetricValue)] = []
        for _ in 0..<(try count()) {
            let k = try string()
            metrics.append((k, try u8() == 0 ? .int(try int()) : .number(try double())))
        }
        var reasons: [String] = []
        for _ in 0..<(try count()) { reasons.append(try string()) }
        var evidence: [SourceRef] = []
        for _ in 0..<(try count()) { evidence.append(try ref()) }
        let total = try int()
        var related: [Entity] = []
        for _ in 0..<(try count()) { related.append(try self.entity()) }
        return Alert(
            detector: detector, severity: severity, score: score, entity: entity, windowStart: ws, windowEnd: we,
            detectedAt: at, prison: prison, towers: towers, metrics: metrics, reasons: reasons, evidence: evidence,
            evidenceTotal: total, related: related)
    }
}
