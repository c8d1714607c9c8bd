public import CeldaCore

/// Caller and callee identities from SIP URIs: E.164 (or a digit string) where the user part is
/// a number, else the URI without its parameters.
public enum SIPIdentity {
    /// The URI without parameters or headers (`sip:alice@host:5060;transport=tcp` → `sip:alice@host:5060`).
    public static func bareURI(_ uri: String) -> String {
        var u = Substring(uri)
        if let q = u.firstIndex(of: "?") { u = u[..<q] }
        // Parameters follow the host part, i.e. a ';' after the '@' (a ';' before it belongs to the
        // user); without a user part, after the scheme.
        let hostStart = u.firstIndex(of: "@") ?? u.firstIndex(of: ":") ?? u.startIndex
        if let semi = u[hostStart...].firstIndex(of: ";") { u = u[..<semi] }
        return String(u)
    }

    /// The party of a URI under a number plan; non-numbers are interned as their bare URI.
    public static func party(_ uri: String, plan: NumberPlan, identities: inout IdentityTable) -> Party {
        var u = uri
        let outcome = u.withUTF8 { plan.normalise(UnsafeRawBufferPointer($0)) }
        if case .party(let p) = outcome { return p }
        var bare = bareURI(uri)
        if bare.isEmpty { return .none }
        return bare.withUTF8 { identities.intern(UnsafeRawBufferPointer($0)) }
    }

    /// The printable form written to `calls.csv` (reads back as the same party).
    public static func text(_ uri: String, plan: NumberPlan) -> String {
        var u = uri
        let outcome = u.withUTF8 { plan.normalise(UnsafeRawBufferPointer($0)) }
        if case .party(let p) = outcome, let f = p.formatted { return f }
        return bareURI(uri)
    }
}

/// The `celda calls` table: one row per SIP dialog.
public enum CallsCSV {
    public static let header =
        "call_id,start_time,answer_time,end_time,duration_s,caller,callee,cell_id,disposition,icid,source\n"

    /// RFC 3339 UTC with microseconds: `2026-01-20T15:04:05.123456Z`.
    public static func time(_ t: Int64) -> String {
        let base = CivilTime.format(t)
        var micros = t % 1_000_000
        if micros < 0 { micros += 1_000_000 }
        let digits = String(micros)
        return String(base.dropLast()) + "." + String(repeating: "0", count: 6 - digits.count) + digits + "Z"
    }

    /// Seconds with millisecond precision.
    public static func seconds(ms: UInt32) -> String {
        let frac = String(ms % 1000)
        return String(ms / 1000) + "." + String(repeating: "0", count: 3 - frac.count) + frac
    }

    public static func quote(_ s: String) -> String {
        if s.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) {
            return "\"" + s.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
        }
        return s
    }

    /// Appends one row (with its line end) to `out`, as ``row(_:plan:file:)`` writes it, without
    /// building strings for the times, numbers and cell.
    public static func append(_ c: AssembledCall, plan: NumberPlan, file: String, to out: inout [UInt8]) {
        field(c.callID, &out)
        out.append(0x2C)
        appendTime(c.start, &out)
        out.append(0x2C)
        if let a = c.answer { appendTime(a, &out) }
        out.append(0x2C)
        if let e = c.end { appendTime(e, &out) }
        out.append(0x2C)
        if c.answer != nil && c.end != nil {
            let ms = c.durationMs
            appendDecimal(UInt64(ms / 1000), &out)
            out.append(0x2E)
            appendDigits(UInt64(ms % 1000), width: 3, &out)
        }
        out.append(0x2C)
        identity(c.caller, plan: plan, &out)
        out.append(0x2C)
        identity(c.callee, plan: plan, &out)
        out.append(0x2C)
        if !c.cell.isNone {
            appendDigits(UInt64(c.cell.mcc), width: 3, &out)
            out.append(0x2D)
            appendDigits(UInt64(c.cell.mnc), width: 3, &out)
            out.append(0x2D)
            appendDecimal(UInt64(c.cell.lac), &out)
            out.append(0x2D)
            appendDecimal(c.cell.ci, &out)
        }
        out.append(0x2C)
        out.append(contentsOf: c.disposition.rawValue.utf8)
        out.append(0x2C)
        field(c.icid, &out)
        out.append(0x2C)
        if needsQuotes(file) {
            field(file + "#" + String(c.packet), &out)
        } else {
            out.append(contentsOf: file.utf8)
            out.append(0x23)
            appendDecimal(UInt64(c.packet), &out)
        }
        out.append(0x0A)
    }

    @inline(__always) static func needsQuotes(_ s: String) -> Bool {
        s.utf8.withContiguousStorageIfAvailable { u in
            for c in u where c == 0x2C || c == 0x22 || c == 0x0A || c == 0x0D { return true }
            return false
        } ?? s.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D })
    }

    static func field(_ s: String, _ out: inout [UInt8]) {
        if needsQuotes(s) {
            out.append(contentsOf: quote(s).utf8)
        } else {
            out.append(contentsOf: s.utf8)
        }
    }

    static func identity(_ uri: String, plan: NumberPlan, _ out: inout [UInt8]) {
        var u = uri
        let outcome = u.withUTF8 { plan.normalise(UnsafeRawBufferPointer($0)) }
        if case .party(let p) = outcome, p.isE164 {
            out.append(0x2B)
            appendDecimal(p.raw, &out)
            return
        }
        field(SIPIdentity.text(uri, plan: plan), &out)
    }

    @inline(__always) static func appendDigits(_ v: UInt64, width: Int, _ out: inout [UInt8]) {
        // Placeholders first, then the digits from the right, in place (no temporary slice).
        let start = out.count
        for _ in 0..<width { out.append(0x30) }
        var x = v
        out.withUnsafeMutableBufferPointer { b in
            var i = start + width - 1
            while i >= start {
                b[i] = UInt8(truncatingIfNeeded: 0x30 &+ x % 10)
                x /= 10
                i -= 1
            }
        }
    }

    @inline(__always) static func appendDecimal(_ v: UInt64, _ out: inout [UInt8]) {
        var digits = 1
        var p: UInt64 = 10
        while digits < 20, v >= p {
            digits += 1
            if p > UInt64.max / 10 { break }
            p *= 10
        }
        var tmp = (UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &tmp) { t in
            var x = v
            for i in stride(from: digits - 1, through: 0, by: -1) {
                t[i] = UInt8(truncatingIfNeeded: 0x30 &+ x % 10)
                x /= 10
            }
            out.append(contentsOf: t.prefix(digits))
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC).
    static func appendTime(_ t: Int64, _ out: inout [UInt8]) {
        var secs = t / 1_000_000
        var micros = t % 1_000_000
        if micros < 0 {
            micros += 1_000_000
            secs -= 1
        }
        var days = secs / 86_400
        var rem = secs % 86_400
        if rem < 0 {
            rem += 86_400
            days -= 1
        }
        let (y, mo, d) = CivilTime.civilFromDays(Int(days))
        appendDigits(UInt64(max(0, y)), width: 4, &out)
        out.append(0x2D)
        appendDigits(UInt64(mo), width: 2, &out)
        out.append(0x2D)
        appendDigits(UInt64(d), width: 2, &out)
        out.append(0x54)
        appendDigits(UInt64(rem / 3600), width: 2, &out)
        out.append(0x3A)
        appendDigits(UInt64(rem / 60 % 60), width: 2, &out)
        out.append(0x3A)
        appendDigits(UInt64(rem % 60), width: 2, &out)
        out.append(0x2E)
        appendDigits(UInt64(micros), width: 6, &out)
        out.append(0x5A)
    }

    /// One row (with its line end).
    public static func row(_ c: AssembledCall, plan: NumberPlan, file: String) -> String {
        let fields: [String] = [
            c.callID, time(c.start), c.answer.map(time) ?? "", c.end.map(time) ?? "",
            c.answer != nil && c.end != nil ? seconds(ms: c.durationMs) : "",
            SIPIdentity.text(c.caller, plan: plan), SIPIdentity.text(c.callee, plan: plan),
            c.cell.isNone ? "" : c.cell.formatted, c.disposition.rawValue, c.icid, file + "#" + String(c.packet),
        ]
        return fields.map(quote).joined(separator: ",") + "\n"
    }
}
