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

/// Turns one CSV row into a ``CallRecord``.
///
/// Numbers are normalised once here (E.164 per the ``NumberPlan``); timestamps must carry a UTC
/// offset (RFC 3339); the cell is a dashed CGI. No allocation for an accepted row except when a
/// party is a text identity.
public struct CDRDecoder {
    public let columns: CDRColumns
    public let plan: NumberPlan
    let start: Int
    let caller: Int
    let callee: Int
    let duration: Int
    let cell: Int
    let imei: Int
    let imsi: Int
    let answered: Int
    public let width: Int
    public var identities = IdentityTable()

    public init(columns: CDRColumns, plan: NumberPlan) {
        self.columns = columns
        self.plan = plan
        start = columns[.start] ?? -1
        caller = columns[.caller] ?? -1
        callee = columns[.callee] ?? -1
        duration = columns[.duration] ?? -1
        cell = columns[.cell] ?? -1
        imei = columns[.imei] ?? -1
        imsi = columns[.imsi] ?? -1
        answered = columns[.answered] ?? -1
        width = columns.header.count
    }

    @inline(__always)
    static func slice(_ buf: UnsafeRawBufferPointer, _ f: FieldSpan) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buf[f.start..<f.end])
    }

    /// Decodes a row; `source` is stamped on the record.
    public mutating func decode(
        _ buf: UnsafeRawBufferPointer, _ fields: [FieldSpan], source: SourceRef
    ) -> Result<CallRecord, RejectReason> {
        if fields.count != width {
            return .failure(RejectReason("field-count", "row has \(fields.count) fields, the header has \(width)"))
        }
        let startText = Self.slice(buf, fields[start])
        let t: EventTime
        switch CivilTime.parseRFC3339(startText) {
        case .success(let v): t = v
        case .failure(.missingOffset):
            return .failure(RejectReason("start-time", "start_time has no UTC offset: \(Self.show(startText))"))
        case .failure:
            return .failure(
                RejectReason("start-time", "start_time is not an RFC 3339 timestamp: \(Self.show(startText))"))
        }
        let a: Party
        switch party(Self.slice(buf, fields[caller]), "caller") {
        case .success(let p): a = p
        case .failure(let e): return .failure(e)
        }
        let b: Party
        switch party(Self.slice(buf, fields[callee]), "callee") {
        case .success(let p): b = p
        case .failure(let e): return .failure(e)
        }
        var durationMs: UInt32 = 0
        var hasDuration = false
        if duration >= 0 {
            let text = Self.slice(buf, fields[duration])
            switch Self.parseDuration(text) {
            case .some(.some(let ms)):
                durationMs = ms
                hasDuration = true
            case .some(.none): break
            case .none:
                return .failure(RejectReason("duration", "duration_s is not a number of seconds: \(Self.show(text))"))
            }
        }
        var c = CellID.none
        if cell >= 0 {
            let text = Self.slice(buf, fields[cell])
            if !Self.isBlank(text) {
                guard let parsed = CellID.parseDashed(text) else {
                    return .failure(RejectReason("cell-id", "cell_id is not a CGI MCC-MNC-LAC-CI: \(Self.show(text))"))
                }
                c = parsed
            }
        }
        var imeiValue: UInt64 = 0
        if imei >= 0 {
            let text = Self.slice(buf, fields[imei])
            guard let v = Self.parseDigits(text, maxDigits: 17) else {
                return .failure(RejectReason("imei", "imei is not numeric: \(Self.show(text))"))
            }
            imeiValue = v
        }
        var imsiValue: UInt64 = 0
        if imsi >= 0 {
            let text = Self.slice(buf, fields[imsi])
            guard let v = Self.parseDigits(text, maxDigits: 15) else {
                return .failure(RejectReason("imsi", "imsi is not numeric: \(Self.show(text))"))
            }
            imsiValue = v
        }
        var flags = CallRecord.Flags()
        var answeredValue: Bool? = nil
        if answered >= 0 {
            let text = Self.slice(buf, fields[answered])
            switch Self.parseBool(text) {
            case .some(let v): answeredValue = v
            case .none:
                return .failure(RejectReason("answered", "answered is not yes/no: \(Self.show(text))"))
            }
        }
        if answeredValue ?? (hasDuration && durationMs > 0) { flags.insert(.answered) }
        return .success(
            CallRecord(
                start: t, durationMs: durationMs, flags: flags, caller: a, callee: b, imei: imeiValue, imsi: imsiValue,
                cell: c, source: source))
    }

    mutating func party(_ text: UnsafeRawBufferPointer, _ name: String) -> Result<Party, RejectReason> {
        switch plan.normalise(text) {
        case .party(let p): return .success(p)
        case .empty: return .failure(RejectReason(name, "\(name) is empty"))
        case .invalid: return .failure(RejectReason(name, "\(name) is not a phone number: \(Self.show(text))"))
        case .text: return .success(identities.intern(Self.trimmed(text)))
        }
    }

    static func trimmed(_ p: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var s = 0
        var e = p.count
        while s < e, p[s] == 0x20 || p[s] == 0x22 { s += 1 }
        while e > s, p[e - 1] == 0x20 || p[e - 1] == 0x22 { e -= 1 }
        return UnsafeRawBufferPointer(rebasing: p[s..<e])
    }

    @inline(__always)
    static func isBlank(_ p: UnsafeRawBufferPointer) -> Bool {
        for b in p where b != 0x20 && b != 0x09 { return false }
        return true
    }

    /// Seconds, optionally with a fraction → milliseconds. `.some(nil)` for blank, `nil` when invalid.
    static func parseDuration(_ p: UnsafeRawBufferPointer) -> UInt32?? {
        let t = trimmed(p)
        if t.isEmpty { return .some(nil) }
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
        if i < t.count, t[i] == 0x2E {
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
        var v: UInt64 = 0
        var n = 0
        for b in p {
            let d = b &- 0x30
            if d < 10 {
                n += 1
                if n > maxDigits { return nil }
                v = v * 10 + UInt64(d)
            } else if b == 0x20 || b == 0x2D || b == 0x22 || b == 0x27 {
                continue
            } else {
                return nil
            }
        }
        return v
    }

    static func parseBool(_ p: UnsafeRawBufferPointer) -> Bool?? {
        let t = trimmed(p)
        if t.isEmpty { return .some(nil) }
        var lower = [UInt8]()
        lower.reserveCapacity(t.count)
        for b in t where b != 0x20 && b != 0x5F {
            lower.append(b >= 0x41 && b <= 0x5A ? b | 0x20 : b)
        }
        switch String(decoding: lower, as: UTF8.self) {
        case "1", "true", "t", "yes", "y", "si", "sí", "s", "answered", "contestada": return .some(true)
        case "0", "false", "f", "no", "n", "noanswer", "busy", "failed", "nocontestada", "cancelled", "canceled":
            return .some(false)
        default: return nil
        }
    }

    /// Field text for messages (at most 60 bytes).
    static func show(_ p: UnsafeRawBufferPointer) -> String {
        let s = String(decoding: p.prefix(60), as: UTF8.self)
        return "'" + s + (p.count > 60 ? "…" : "") + "'"
    }
}
