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
    /// building strings for the times, numbers and cell: the row is written into scratch memory
    /// sized for the longest row these fields can make, then copied once.
    public static func append(_ c: AssembledCall, plan: NumberPlan, file: String, to out: inout [UInt8]) {
        var dates = Dates()
        append(c, plan: plan, file: file, dates: &dates, to: &out)
    }

    /// The last date a row's time was written with, kept from row to row: a capture's calls fall
    /// on few days, so most times copy their date from here instead of working it out.
    public struct Dates: Sendable {
        var day = Int64.min
        /// `YYYY-MM-DD`.
        var head: UInt64 = 0
        var tail: UInt16 = 0

        public init() {}

        init(day: Int64, head: UInt64, tail: UInt16) {
            self.day = day
            self.head = head
            self.tail = tail
        }
    }

    /// ``append(_:plan:file:to:)``, with the last date written kept in `dates`.
    public static func append(
        _ c: AssembledCall, plan: NumberPlan, file: String, dates: inout Dates, to out: inout [UInt8]
    ) {
        // Every text field at most doubles when quoted (plus its quotes); the rest is under 160 bytes.
        let texts = c.callID.utf8.count + c.caller.utf8.count + c.callee.utf8.count + c.icid.utf8.count
        let bound = 2 * (texts + file.utf8.count) + 200
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bound) { b in
            var w = RowWriter(at: b.baseAddress!, dates: dates)
            defer { dates = w.dates }
            w.field(c.callID)
            w.byte(0x2C)
            w.time(c.start)
            w.byte(0x2C)
            if let a = c.answer { w.time(a) }
            w.byte(0x2C)
            if let e = c.end { w.time(e) }
            w.byte(0x2C)
            if c.answer != nil && c.end != nil {
                let ms = c.durationMs
                w.decimal(UInt64(ms / 1000))
                w.byte(0x2E)
                w.digits(UInt64(ms % 1000), width: 3)
            }
            w.byte(0x2C)
            w.identity(c.caller, plan: plan)
            w.byte(0x2C)
            w.identity(c.callee, plan: plan)
            w.byte(0x2C)
            if !c.cell.isNone {
                w.digits(UInt64(c.cell.mcc), width: 3)
                w.byte(0x2D)
                w.digits(UInt64(c.cell.mnc), width: 3)
                w.byte(0x2D)
                w.decimal(UInt64(c.cell.lac))
                w.byte(0x2D)
                w.decimal(c.cell.ci)
            }
            w.byte(0x2C)
            w.raw(c.disposition.rawValue)
            w.byte(0x2C)
            w.field(c.icid)
            w.byte(0x2C)
            if needsQuotes(file) {
                w.field(file + "#" + String(c.packet))
            } else {
                w.raw(file)
                w.byte(0x23)
                w.decimal(UInt64(c.packet))
            }
            w.byte(0x0A)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: b[0..<w.count]))
        }
    }

    /// Writes a row into memory made ready for it.
    struct RowWriter {
        let p: UnsafeMutablePointer<UInt8>
        var count = 0
        var dates: Dates

        init(at p: UnsafeMutablePointer<UInt8>, dates: Dates) {
            self.p = p
            self.dates = dates
        }

        @inline(__always) mutating func byte(_ b: UInt8) {
            p[count] = b
            count += 1
        }

        mutating func raw(_ s: String) {
            let done = s.utf8.withContiguousStorageIfAvailable { u -> Bool in
                if let base = u.baseAddress { (p + count).update(from: base, count: u.count) }
                count += u.count
                return true
            }
            if done == nil { for b in s.utf8 { byte(b) } }
        }

        mutating func field(_ s: String) { raw(needsQuotes(s) ? quote(s) : s) }

        mutating func identity(_ uri: String, plan: NumberPlan) {
            let outcome =
                uri.utf8.withContiguousStorageIfAvailable { plan.normalise(UnsafeRawBufferPointer($0)) }
                ?? {
                    var u = uri
                    return u.withUTF8 { plan.normalise(UnsafeRawBufferPointer($0)) }
                }()
            if case .party(let party) = outcome, party.isE164 {
                byte(0x2B)
                decimal(party.raw)
                return
            }
            field(SIPIdentity.text(uri, plan: plan))
        }

        @inline(__always) mutating func digits(_ v: UInt64, width: Int) {
            var x = v
            var i = count + width - 1
            while i >= count {
                p[i] = UInt8(truncatingIfNeeded: 0x30 &+ x % 10)
                x /= 10
                i -= 1
            }
            count += width
        }

        @inline(__always) mutating func decimal(_ v: UInt64) {
            var width = 1
            var x = v
            while x >= 10 {
                x /= 10
                width += 1
            }
            digits(v, width: width)
        }

        /// Two digits of `v` (0...99).
        @inline(__always) mutating func two(_ v: Int) {
            let tens = v / 10
            p[count] = UInt8(truncatingIfNeeded: 0x30 + tens)
            p[count + 1] = UInt8(truncatingIfNeeded: 0x30 + v - tens * 10)
            count += 2
        }

        /// `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC).
        mutating func time(_ t: Int64) {
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
            let at = UnsafeMutableRawPointer(p + count)
            if days == dates.day {
                at.storeBytes(of: dates.head, as: UInt64.self)
                at.storeBytes(of: dates.tail, toByteOffset: 8, as: UInt16.self)
                count += 10
            } else {
                let (y, mo, d) = CivilTime.civilFromDays(Int(days))
                digits(UInt64(max(0, y)), width: 4)
                byte(0x2D)
                two(mo)
                byte(0x2D)
                two(d)
                dates = Dates(
                    day: days, head: at.loadUnaligned(as: UInt64.self),
                    tail: at.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
            }
            byte(0x54)
            let r = Int(rem)
            two(r / 3600)
            byte(0x3A)
            two(r / 60 % 60)
            byte(0x3A)
            two(r % 60)
            byte(0x2E)
            let u = Int(micros)
            two(u / 10_000)
            two(u / 100 % 100)
            two(u % 100)
            byte(0x5A)
        }
    }

    @inline(__always) static func needsQuotes(_ s: String) -> Bool {
        s.utf8.withContiguousStorageIfAvailable { u in
            for c in u where c == 0x2C || c == 0x22 || c == 0x0A || c == 0x0D { return true }
            return false
        } ?? s.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D })
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
