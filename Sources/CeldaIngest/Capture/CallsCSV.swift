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
