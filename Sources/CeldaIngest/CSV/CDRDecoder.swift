public import CeldaCore

/// Why a row was rejected. `code` is stable (summary keys); `message` names the field and value.
public struct RejectReason: Error, Sendable, Equatable {
    public var code: String
    public var message: String
    public init(_ code: String, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// What became of one row.
public enum RowOutcome {
    case record(CallRecord)
    /// Valid but not an outgoing voice call (an incoming mirror, SMS, data): counted by reason.
    case skipped(String)
    case rejected(RejectReason)
}

/// Turns one CSV row into a ``CallRecord`` following a ``CDRLayout``.
///
/// Numbers are normalised once here (E.164 per the ``NumberPlan``); local times without an
/// offset are placed in the configured ``ZoneRules``; the cell is a dashed CGI (decimal or hex),
/// separate MCC/MNC/LAC/CI columns, or a carrier site code; inline tower coordinates become
/// ``newTowers``. No allocation for an accepted row except for text identities and new sites.
public struct CDRDecoder {
    public let layout: CDRLayout
    public let plan: NumberPlan
    public let zone: ZoneRules
    public var identities = IdentityTable()
    public var sites = SiteNames()
    /// Towers first seen with inline coordinates (drained by the caller).
    public var newTowers: [Tower] = []
    var seenInline = Set<CellID>()
    /// The common layout's timestamps, with the last date kept (the rows of a dump share it).
    var isoReader = FixedISOReader()
    let col:
        (
            start: Int, date: Int, time: Int, answer: Int, end: Int, duration: Int, caller: Int, callee: Int,
            type: Int, answered: Int, disposition: Int, cell: Int, mcc: Int, mnc: Int, lac: Int, ci: Int, lat: Int,
            lon: Int, azimuth: Int, imei: Int, imsi: Int
        )
    public let width: Int
    let icidColumn: Int
    /// The layout is one ``decodeCommon(_:source:)`` handles: one start column, a duration,
    /// dashed or absent cells, no call type, answer or end time, disposition or inline tower.
    let commonLayout: Bool

    public init(layout: CDRLayout, plan: NumberPlan, zone: ZoneRules) {
        self.layout = layout
        self.plan = plan
        self.zone = zone
        func c(_ f: CDRField) -> Int { layout.columns[f] ?? -1 }
        col = (
            c(.start), c(.date), c(.time), c(.answerTime), c(.end), c(.duration), c(.caller), c(.callee), c(.callType),
            c(.answered), c(.disposition), c(.cell), c(.mcc), c(.mnc), c(.lac), c(.ci), c(.latitude), c(.longitude),
            c(.azimuth), c(.imei), c(.imsi)
        )
        width = layout.header.count
        icidColumn = layout.columns[.icid] ?? -1
        commonLayout =
            col.start >= 0 && col.type < 0 && col.answer < 0 && col.end < 0 && col.disposition < 0 && col.lat < 0
            && col.lon < 0 && col.mcc < 0 && !layout.cellHex && layout.encoding == .utf8
    }

    /// The usual row of the usual layout, decoded without building rejection messages: `nil`
    /// when anything is not the plain case (the caller then runs ``decode(_:source:)``, which
    /// decides, with its message). Where it answers, it answers exactly as ``decode(_:source:)``.
    @inline(__always)
    mutating func decodeCommon(_ row: Row, source: SourceRef) -> CallRecord? {
        guard commonLayout, width == 0 || row.fields.count == width else { return nil }
        let tf = row.field(col.start)
        guard let w = isoReader.parse(tf, from: 0, end: tf.count) else { return nil }
        let t = utc(localSeconds: w.seconds, micros: w.micros, offset: w.offset)
        guard case .party(let a) = plan.normalise(row.field(col.caller)),
            case .party(let b) = plan.normalise(row.field(col.callee))
        else { return nil }
        var durationMs: UInt32 = 0
        var hasDuration = false
        if col.duration >= 0 {
            let f = row.field(col.duration)
            if f.count > 0 {
                guard f.count <= 9 else { return nil }
                var v: UInt32 = 0
                for c in f {
                    let d = c &- 0x30
                    guard d < 10 else { return nil }
                    v = v &* 10 &+ UInt32(d)
                }
                guard UInt64(v) * 1000 <= UInt64(UInt32.max) else { return nil }
                durationMs = v * 1000
                hasDuration = true
            }
        }
        var c = CellID.none
        if col.cell >= 0 {
            let f = row.field(col.cell)
            if f.count > 0 {
                guard let parsed = CellID.parseDashed(f) else { return nil }
                c = parsed
            }
        }
        var imeiValue: UInt64 = 0
        if col.imei >= 0 {
            guard let v = Self.plainDigits(row.field(col.imei), maxDigits: 17) else { return nil }
            imeiValue = v
        }
        var imsiValue: UInt64 = 0
        if col.imsi >= 0 {
            guard let v = Self.plainDigits(row.field(col.imsi), maxDigits: 15) else { return nil }
            imsiValue = v
        }
        var answered: Bool?
        if col.answered >= 0 {
            let f = row.field(col.answered)
            if f.count == 1, f[0] == 0x31 {
                answered = true
            } else if f.count == 1, f[0] == 0x30 {
                answered = false
            } else if f.count != 0 {
                return nil
            }
        }
        var flags = CallRecord.Flags()
        if answered ?? (hasDuration && durationMs > 0) { flags.insert(.answered) }
        return CallRecord(
            start: t, durationMs: durationMs, flags: flags, caller: a, callee: b, imei: imeiValue, imsi: imsiValue,
            cell: c, source: source)
    }

    /// Digits only (0 for an empty field), else `nil`. Eight to sixteen digits (IMEIs and
    /// IMSIs) are read as two words of eight; other lengths a digit at a time.
    @inline(__always)
    static func plainDigits(_ p: UnsafeRawBufferPointer, maxDigits: Int) -> UInt64? {
        let n = p.count
        guard n <= maxDigits else { return nil }
        if n >= 8 && n <= 16, let base = p.baseAddress { return Digits.eightToSixteen(base, count: n) }
        var v: UInt64 = 0
        for c in p {
            let d = c &- 0x30
            guard d < 10 else { return nil }
            v = v &* 10 &+ UInt64(d)
        }
        return v
    }

    /// The hash of the row's charging id, 0 without one (legs sharing it are one call).
    public func legKey(_ row: Row) -> UInt64 {
        guard icidColumn >= 0 else { return 0 }
        let f = Self.trimmed(row.field(icidColumn))
        return f.isEmpty ? 0 : StableHash.bytes(f)
    }

    /// Decodes a row; `source` is stamped on the record.
    public mutating func decode(_ row: Row, source: SourceRef) -> RowOutcome {
        let fields = row.fields
        if width > 0 && fields.count != width {
            return .rejected(RejectReason("field-count", "row has \(fields.count) fields, the header has \(width)"))
        }
        // Call type first: mirrors, SMS and data rows are skipped whatever else they hold.
        if col.type >= 0 {
            let text = layout.encoding.decode(row.field(col.type)).trimmingSpaces
            let cls = layout.callTypes[text.uppercased()] ?? CallClass.classify(text)
            switch cls {
            case .outgoing: break
            case .some(let other): return .skipped(other.rawValue)
            case .none:
                return .rejected(
                    RejectReason(
                        "call-type",
                        "call type \(Self.show(row.field(col.type))) is not recognised (map it under [call_types] in --mapping)"
                    ))
            }
        }
        let t: EventTime
        switch startTime(row) {
        case .success(let v): t = v
        case .failure(let e): return .rejected(e)
        }
        let a: Party
        switch party(row.field(col.caller), "caller") {
        case .success(let p): a = p
        case .failure(let e): return .rejected(e)
        }
        let b: Party
        switch party(row.field(col.callee), "callee") {
        case .success(let p): b = p
        case .failure(let e): return .rejected(e)
        }
        var durationMs: UInt32 = 0
        var hasDuration = false
        var answerAt: EventTime?
        if col.answer >= 0 {
            let f = row.field(col.answer)
            if !Self.isBlank(f) {
                guard let v = time(f, date: nil) else {
                    return .rejected(RejectReason("answer-time", "answer time is not a timestamp: \(Self.show(f))"))
                }
                answerAt = v
            }
        }
        if col.duration >= 0 {
            let text = row.field(col.duration)
            switch Self.parseDuration(text) {
            case .some(.some(let ms)):
                durationMs = ms
                hasDuration = true
            case .some(.none): break
            case .none:
                return .rejected(RejectReason("duration", "duration is not a number of seconds: \(Self.show(text))"))
            }
        } else if col.end >= 0 {
            let f = row.field(col.end)
            if !Self.isBlank(f) {
                guard let end = time(f, date: nil) else {
                    return .rejected(RejectReason("end-time", "end time is not a timestamp: \(Self.show(f))"))
                }
                let from = answerAt ?? t
                durationMs = UInt32(clamping: max(0, (end - from) / 1000))
                hasDuration = true
            }
        }
        var c = CellID.none
        switch cell(row) {
        case .success(let v): c = v
        case .failure(let e): return .rejected(e)
        }
        var imeiValue: UInt64 = 0
        if col.imei >= 0 {
            let text = row.field(col.imei)
            guard let v = Self.parseDigits(text, maxDigits: 17) else {
                return .rejected(RejectReason("imei", "imei is not numeric: \(Self.show(text))"))
            }
            imeiValue = v
        }
        var imsiValue: UInt64 = 0
        if col.imsi >= 0 {
            let text = row.field(col.imsi)
            guard let v = Self.parseDigits(text, maxDigits: 15) else {
                return .rejected(RejectReason("imsi", "imsi is not numeric: \(Self.show(text))"))
            }
            imsiValue = v
        }
        var answered: Bool?
        if col.answered >= 0 {
            let text = row.field(col.answered)
            switch Self.parseBool(text) {
            case .some(let v): answered = v
            case .none:
                return .rejected(RejectReason("answered", "answered is not yes/no: \(Self.show(text))"))
            }
        }
        if answered == nil, col.disposition >= 0 { answered = Self.parseDisposition(row.field(col.disposition)) }
        if answered == nil, col.answer >= 0 { answered = answerAt != nil }
        var flags = CallRecord.Flags()
        if answered ?? (hasDuration && durationMs > 0) { flags.insert(.answered) }
        if c.isSiteCode { nameSite(row, c) }
        if col.lat >= 0 && col.lon >= 0 { inlineTower(row, cell: &c) }
        return .record(
            CallRecord(
                start: t, durationMs: durationMs, flags: flags, caller: a, callee: b, imei: imeiValue, imsi: imsiValue,
                cell: c, source: source))
    }

    // MARK: time

    func time(_ f: UnsafeRawBufferPointer, date: Int64?) -> EventTime? {
        guard let w = CivilTime.parseWritten(f, order: layout.dateOrder) else {
            // A bare time of day with a date from elsewhere.
            guard let date else { return nil }
            var i = 0
            var s = 0
            var e = f.count
            while s < e, f[s] == 0x20 || f[s] == 0x22 { s += 1 }
            while e > s, f[e - 1] == 0x20 || f[e - 1] == 0x22 { e -= 1 }
            let trimmed = UnsafeRawBufferPointer(rebasing: f[s..<e])
            guard let tod = CivilTime.parseTimeOfDay(trimmed, from: &i, end: trimmed.count), i == trimmed.count else {
                return nil
            }
            return utc(localSeconds: date + tod.seconds, micros: tod.micros, offset: nil)
        }
        if w.isEpoch { return w.seconds * CivilTime.second + w.micros }
        return utc(localSeconds: w.seconds, micros: w.micros, offset: w.offset)
    }

    @inline(__always)
    func utc(localSeconds: Int64, micros: Int64, offset: Int32?) -> EventTime {
        let secs = offset.map { localSeconds - Int64($0) } ?? zone.utc(fromLocal: localSeconds)
        return secs * CivilTime.second + micros
    }

    func startTime(_ row: Row) -> Result<EventTime, RejectReason> {
        if col.start >= 0 {
            let f = row.field(col.start)
            guard let w = CivilTime.parseWritten(f, order: layout.dateOrder) else {
                return .failure(RejectReason("start-time", "start time is not a recognised timestamp: \(Self.show(f))"))
            }
            if w.dateOnly, col.time >= 0 { return dateAndTime(dateSeconds: w.seconds, row: row) }
            if w.isEpoch { return .success(w.seconds * CivilTime.second + w.micros) }
            return .success(utc(localSeconds: w.seconds, micros: w.micros, offset: w.offset))
        }
        let f = row.field(col.date)
        guard let w = CivilTime.parseWritten(f, order: layout.dateOrder) else {
            return .failure(RejectReason("start-time", "date is not a recognised date: \(Self.show(f))"))
        }
        if w.dateOnly {
            guard col.time >= 0 else {
                return .failure(
                    RejectReason("start-time", "date has no time of day and no time column is mapped: \(Self.show(f))"))
            }
            return dateAndTime(dateSeconds: w.seconds, row: row)
        }
        if w.isEpoch { return .success(w.seconds * CivilTime.second + w.micros) }
        return .success(utc(localSeconds: w.seconds, micros: w.micros, offset: w.offset))
    }

    func dateAndTime(dateSeconds: Int64, row: Row) -> Result<EventTime, RejectReason> {
        let f = row.field(col.time)
        guard let v = time(f, date: dateSeconds) else {
            return .failure(RejectReason("start-time", "time is not a time of day: \(Self.show(f))"))
        }
        return .success(v)
    }

    // MARK: parties

    mutating func party(_ text: UnsafeRawBufferPointer, _ name: String) -> Result<Party, RejectReason> {
        switch plan.normalise(text) {
        case .party(let p): return .success(p)
        case .empty: return .failure(RejectReason(name, "\(name) is empty"))
        case .invalid: return .failure(RejectReason(name, "\(name) is not a phone number: \(Self.show(text))"))
        case .text:
            let trimmed = Self.trimmed(text)
            if layout.encoding == .utf8 { return .success(identities.intern(trimmed)) }
            var s = layout.encoding.decode(trimmed)
            return .success(s.withUTF8 { identities.intern(UnsafeRawBufferPointer($0)) })
        }
    }

    // MARK: cells

    func cell(_ row: Row) -> Result<CellID, RejectReason> {
        if col.cell >= 0 {
            let text = row.field(col.cell)
            if Self.isBlank(text) { return .success(.none) }
            if let parsed = CellID.parseDashed(text, hex: layout.cellHex) { return .success(parsed) }
            if let parsed = CellID.parseDashed(text, hex: true), Self.containsHexLetter(text) {
                return .success(parsed)
            }
            return .success(siteCode(text))
        }
        if col.mcc >= 0 && col.mnc >= 0 && col.lac >= 0 && col.ci >= 0 {
            let parts = [col.mcc, col.mnc, col.lac, col.ci].map { row.field($0) }
            if parts.allSatisfy(Self.isBlank) { return .success(.none) }
            let values = parts.enumerated().map { i, p in Self.parseNumber(p, hex: layout.cellHex && i >= 2) }
            guard let mcc = values[0], let mnc = values[1], let lac = values[2], let ci = values[3], mcc >= 1,
                mcc <= 999,
                mnc <= 999, lac <= 0xFF_FFFF
            else {
                return .failure(
                    RejectReason(
                        "cell-id",
                        "MCC/MNC/LAC/CI are not numbers in range: \(parts.map { Self.show($0) }.joined(separator: " "))"
                    ))
            }
            return .success(CellID(mcc: UInt32(mcc), mnc: UInt32(mnc), lac: UInt32(lac), ci: ci))
        }
        return .success(.none)
    }

    func siteCode(_ text: UnsafeRawBufferPointer) -> CellID {
        // Names are kept by the reader (``sites``); the hash is enough here.
        // Hashed as ``SiteNames`` hashes the decoded text, so names resolve in any encoding.
        let t = Self.trimmed(text)
        return CellID.siteCode(
            hash: layout.encoding == .utf8 || t.allSatisfy({ $0 < 0x80 })
                ? StableHash.bytes(t) : StableHash.string(layout.encoding.decode(t)))
    }

    mutating func inlineTower(_ row: Row, cell: inout CellID) {
        guard let lat = FieldParse.double(row.field(col.lat)), let lon = FieldParse.double(row.field(col.lon)) else {
            return
        }
        let point = GeoPoint(lat: lat, lon: lon)
        guard point.isValid, !(lat == 0 && lon == 0) else { return }
        if cell.isNone {
            // No cell column: the coordinates name the site.
            var name = "\(lat),\(lon)"
            cell = name.withUTF8 { CellID.siteCode(hash: StableHash.bytes(UnsafeRawBufferPointer($0))) }
            if sites.names[cell] == nil { _ = sites.intern(name) }
        }
        guard seenInline.insert(cell).inserted else { return }
        if cell.isSiteCode, col.cell >= 0, sites.names[cell] == nil {
            _ = sites.intern(layout.encoding.decode(Self.trimmed(row.field(col.cell))))
        }
        let azimuth = col.azimuth >= 0 ? FieldParse.double(row.field(col.azimuth)) : nil
        newTowers.append(Tower(cell: cell, location: point, rangeM: nil, azimuth: azimuth))
    }

    /// Records the text of a site-code cell seen in a row (called by the reader once per new code).
    mutating func nameSite(_ row: Row, _ cell: CellID) {
        if cell.isSiteCode, col.cell >= 0, sites.names[cell] == nil {
            _ = sites.intern(layout.encoding.decode(Self.trimmed(row.field(col.cell))))
        }
    }

    // MARK: field helpers

    static func trimmed(_ p: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var s = 0
        var e = p.count
        while s < e, p[s] == 0x20 || p[s] == 0x22 || p[s] == 0x09 { s += 1 }
        while e > s, p[e - 1] == 0x20 || p[e - 1] == 0x22 || p[e - 1] == 0x09 { e -= 1 }
        return UnsafeRawBufferPointer(rebasing: p[s..<e])
    }

    @inline(__always)
    static func isBlank(_ p: UnsafeRawBufferPointer) -> Bool {
        for b in p where b != 0x20 && b != 0x09 && b != 0x22 { return false }
        return true
    }

    static func containsHexLetter(_ p: UnsafeRawBufferPointer) -> Bool {
        p.contains { ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x66 }
    }

    static func parseNumber(_ p: UnsafeRawBufferPointer, hex: Bool) -> UInt64? {
        let t = trimmed(p)
        guard !t.isEmpty else { return nil }
        var v: UInt64 = 0
        var i = 0
        var isHex = hex
        if t.count > 2, t[0] == 0x30, t[1] | 0x20 == 0x78 {
            i = 2
            isHex = true
        }
        guard i < t.count else { return nil }
        while i < t.count {
            let c = t[i]
            let d: UInt64
            if c &- 0x30 < 10 {
                d = UInt64(c &- 0x30)
            } else if isHex, (c | 0x20) >= 0x61, (c | 0x20) <= 0x66 {
                d = UInt64((c | 0x20) - 0x61 + 10)
            } else {
                return nil
            }
            let (m, o) = v.multipliedReportingOverflow(by: isHex ? 16 : 10)
            guard !o else { return nil }
            v = m + d
            i += 1
        }
        return v
    }

    /// Seconds, optionally with a fraction, or `H:MM:SS` → milliseconds. `.some(nil)` for blank,
    /// `nil` when invalid.
    static func parseDuration(_ p: UnsafeRawBufferPointer) -> UInt32?? {
        let t = trimmed(p)
        if t.isEmpty { return .some(nil) }
        if t.contains(0x3A) {
            var i = 0
            guard let hms = CivilTime.parseTimeOfDay(t, from: &i, end: t.count), i == t.count else { return nil }
            return .some(UInt32(hms.seconds * 1000 + hms.micros / 1000))
        }
        var ms: UInt64 = 0
        var i = 0
        var digits = 0
        while i < t.count, t[i] &- 0x30 < 10 {
            ms = ms * 10 + UInt64(t[i] &- 0x30)
            digits += 1
            i += 1
            if digits > 9 { return nil }
        }
        ms *= 1000
        if i < t.count, t[i] == 0x2E || t[i] == 0x2C {
            i += 1
            var scale: UInt64 = 100
            while i < t.count, t[i] &- 0x30 < 10 {
                ms += UInt64(t[i] &- 0x30) * scale
                scale /= 10
                i += 1
            }
        }
        guard i == t.count, digits > 0, ms <= UInt64(UInt32.max) else { return nil }
        return .some(UInt32(ms))
    }

    /// Digits with optional separators; 0 for blank; `nil` when letters appear.
    static func parseDigits(_ p: UnsafeRawBufferPointer, maxDigits: Int) -> UInt64? {
        // The usual field: digits only.
        if p.count <= maxDigits {
            var v: UInt64 = 0
            var i = 0
            while i < p.count {
                let d = p[i] &- 0x30
                if d >= 10 { break }
                v = v &* 10 &+ UInt64(d)
                i += 1
            }
            if i == p.count { return v }
        }
        var v: UInt64 = 0
        var n = 0
        for b in p {
            let d = b &- 0x30
            if d < 10 {
                n += 1
                if n > maxDigits { return nil }
                v = v * 10 + UInt64(d)
            } else if b == 0x20 || b == 0x2D || b == 0x22 || b == 0x27 || b == 0x09 {
                continue
            } else {
                return nil
            }
        }
        return v
    }

    /// FNV-1a of a field's bytes, ASCII-lowercased, without spaces, underscores and dashes
    /// (`NO ANSWER` and `no_answer` hash alike); `nil` for a blank field. No allocation.
    static func wordHash(_ p: UnsafeRawBufferPointer) -> UInt64? {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        var any = false
        for b in trimmed(p) where b != 0x20 && b != 0x5F && b != 0x2D {
            h ^= UInt64(b >= 0x41 && b <= 0x5A ? b | 0x20 : b)
            h = h &* 0x100_0000_01B3
            any = true
        }
        return any ? h : nil
    }

    static func table(_ yes: [String], _ no: [String]) -> [UInt64: Bool] {
        var t: [UInt64: Bool] = [:]
        for (words, value) in [(yes, true), (no, false)] {
            for var w in words { w.withUTF8 { t[wordHash(UnsafeRawBufferPointer($0))!] = value } }
        }
        return t
    }

    static let booleans = table(
        ["1", "true", "t", "yes", "y", "si", "sí", "s", "answered", "contestada"],
        ["0", "false", "f", "no", "n", "noanswer", "busy", "failed", "nocontestada", "cancelled", "canceled"])

    static let dispositions = table(
        [
            "answered", "answer", "contestada", "completada", "completed", "success", "exitosa", "connected",
            "normalclearing",
        ],
        [
            "noanswer", "busy", "failed", "congestion", "cancel", "cancelled", "canceled", "ocupado", "nocontesta",
            "nocontestada", "fallida", "rechazada", "noanswered", "unanswered", "noresponse", "nouserresponse",
        ])

    static func parseBool(_ p: UnsafeRawBufferPointer) -> Bool?? {
        guard let h = wordHash(p) else { return .some(nil) }
        guard let v = booleans[h] else { return nil }
        return .some(v)
    }

    /// Asterisk / carrier dispositions: `ANSWERED`, `NO ANSWER`, `BUSY`, `FAILED`, `CONGESTION`…
    static func parseDisposition(_ p: UnsafeRawBufferPointer) -> Bool? {
        wordHash(p).flatMap { dispositions[$0] }
    }

    /// Field text for messages (at most 60 bytes).
    static func show(_ p: UnsafeRawBufferPointer) -> String {
        let s = String(decoding: p.prefix(60), as: UTF8.self)
        return "'" + s + (p.count > 60 ? "…" : "") + "'"
    }
}

extension CellID {
    /// Parses a dashed CGI whose parts may be hexadecimal.
    public static func parseDashed(_ p: UnsafeRawBufferPointer, hex: Bool) -> CellID? {
        guard hex else { return parseDashed(p) }
        var parts: [UInt64] = []
        var current: UInt64 = 0
        var digits = 0
        var s = 0
        var e = p.count
        while s < e, p[s] == 0x20 || p[s] == 0x22 { s += 1 }
        while e > s, p[e - 1] == 0x20 || p[e - 1] == 0x22 { e -= 1 }
        for i in s...e {
            let c: UInt8 = i < e ? p[i] : 0x2D
            if c == 0x2D || c == 0x5F || c == 0x3A || c == 0x2E {
                guard digits > 0 else { return nil }
                parts.append(current)
                current = 0
                digits = 0
                continue
            }
            let lower = c | 0x20
            let d: UInt64
            if c &- 0x30 < 10 {
                // MCC and MNC are always decimal digits.
                d = UInt64(c &- 0x30)
            } else if lower >= 0x61, lower <= 0x66, parts.count >= 2 {
                d = UInt64(lower - 0x61 + 10)
            } else {
                return nil
            }
            digits += 1
            guard digits <= 12 else { return nil }
            current = current * (parts.count >= 2 ? 16 : 10) + d
        }
        guard parts.count == 4, parts[0] >= 1, parts[0] <= 999, parts[1] <= 999, parts[2] <= 0xFF_FFFF else {
            return nil
        }
        return CellID(mcc: UInt32(parts[0]), mnc: UInt32(parts[1]), lac: UInt32(parts[2]), ci: parts[3])
    }
}
