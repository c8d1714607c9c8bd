/// A cell global identity: MCC, MNC, LAC (or TAC) and cell identity, as integers.
///
/// The MNC is kept numerically (OpenCellID drops its leading zeros); it is printed with three
/// digits as the alert spec fixes: `334-020-1234-56789`. A zero ``plmn`` means "no cell".
@frozen
public struct CellID: Hashable, Comparable, Sendable {
    /// `mcc * 1000 + mnc`.
    public var plmn: UInt32
    /// Location or tracking area code.
    public var lac: UInt32
    /// Cell identity (16-bit GSM CI, 28-bit UTRAN/E-UTRAN, up to 36-bit NR).
    public var ci: UInt64

    @inlinable public init(plmn: UInt32, lac: UInt32, ci: UInt64) {
        self.plmn = plmn
        self.lac = lac
        self.ci = ci
    }

    @inlinable public init(mcc: UInt32, mnc: UInt32, lac: UInt32, ci: UInt64) {
        self.init(plmn: mcc * 1000 + mnc, lac: lac, ci: ci)
    }

    /// No cell.
    public static let none = CellID(plmn: 0, lac: 0, ci: 0)

    @inlinable public var isNone: Bool { plmn == 0 }
    @inlinable public var mcc: UInt32 { plmn / 1000 }
    @inlinable public var mnc: UInt32 { plmn % 1000 }

    /// A well-mixed stable hash (for routing by tower).
    @inlinable public var stableHash: UInt64 {
        StableHash.combine(StableHash.mix(UInt64(plmn) << 32 | UInt64(lac)), ci)
    }

    @inlinable public func hash(into hasher: inout Hasher) {
        hasher.combine(plmn)
        hasher.combine(lac)
        hasher.combine(ci)
    }

    /// One multiply-xorshift round instead of SipHash (the site lookup is on every record's path).
    @inlinable public func _rawHashValue(seed: Int) -> Int {
        Int(truncatingIfNeeded: StableHash.combine(stableHash, UInt64(truncatingIfNeeded: seed)))
    }

    @inlinable public static func < (a: CellID, b: CellID) -> Bool {
        (a.plmn, a.lac, a.ci) < (b.plmn, b.lac, b.ci)
    }

    /// `MCC-MNC-LAC-CI`, decimal, MNC with three digits.
    public var formatted: String {
        let m = String(mnc)
        let mncText = String(repeating: "0", count: max(0, 3 - m.count)) + m
        let c = String(mcc)
        return String(repeating: "0", count: max(0, 3 - c.count)) + c + "-" + mncText + "-" + String(lac) + "-"
            + String(ci)
    }

    /// Parses a dashed CGI `MCC-MNC-LAC-CI` (decimal; `_`, `:` or `.` also accepted as separators).
    /// Returns `nil` when the text is not a CGI.
    @inlinable
    public static func parseDashed(_ p: UnsafeRawBufferPointer) -> CellID? {
        // The usual field: four runs of digits joined by dashes, nothing around them.
        let n = p.count
        var i = 0
        @inline(__always) func part() -> UInt64? {
            var v: UInt64 = 0
            let first = i
            while i < n {
                let d = p[i] &- 0x30
                if d >= 10 { break }
                v = v &* 10 &+ UInt64(d)
                i += 1
            }
            return i > first && i - first <= 12 ? v : nil
        }
        if let a = part(), i < n, p[i] == 0x2D {
            i += 1
            if let b = part(), i < n, p[i] == 0x2D {
                i += 1
                if let c = part(), i < n, p[i] == 0x2D {
                    i += 1
                    if let d = part(), i == n {
                        guard a >= 1, a <= 999, b <= 999, c <= 0xFF_FFFF, d < 1 << 40 else { return nil }
                        return CellID(mcc: UInt32(a), mnc: UInt32(b), lac: UInt32(c), ci: d)
                    }
                }
            }
        }
        return parseDashedGeneral(p)
    }

    @inlinable
    static func parseDashedGeneral(_ p: UnsafeRawBufferPointer) -> CellID? {
        var parts: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var index = 0
        var digits = 0
        var current: UInt64 = 0
        var start = 0
        var end = p.count
        while start < end, p[start] == 0x20 || p[start] == 0x22 { start += 1 }
        while end > start, p[end - 1] == 0x20 || p[end - 1] == 0x22 { end -= 1 }
        if start == end { return nil }
        var i = start
        while i <= end {
            let c: UInt8 = i < end ? p[i] : 0x2D
            let d = c &- 0x30
            if d < 10 {
                guard digits < 12 else { return nil }
                current = current * 10 + UInt64(d)
                digits += 1
            } else if c == 0x2D || c == 0x5F || c == 0x3A || c == 0x2E {
                guard digits > 0, index < 4 else { return nil }
                switch index {
                case 0: parts.0 = current
                case 1: parts.1 = current
                case 2: parts.2 = current
                default: parts.3 = current
                }
                index += 1
                digits = 0
                current = 0
            } else {
                return nil
            }
            i += 1
        }
        guard index == 4, parts.0 >= 1, parts.0 <= 999, parts.1 <= 999, parts.2 <= 0xFF_FFFF, parts.3 < 1 << 40
        else { return nil }
        return CellID(mcc: UInt32(parts.0), mnc: UInt32(parts.1), lac: UInt32(parts.2), ci: parts.3)
    }

    /// Convenience for tests and configuration.
    public static func parse(_ text: String) -> CellID? {
        var t = text
        return t.withUTF8 { parseDashed(UnsafeRawBufferPointer($0)) }
    }
}

extension CellID {
    /// The PLMN value that marks a carrier site code (a cell named by text, not by a CGI).
    public static let siteCodePLMN: UInt32 = .max

    /// A carrier site code by the hash of its text (the text lives in a ``SiteNames`` table).
    @inlinable public static func siteCode(hash: UInt64) -> CellID { CellID(plmn: siteCodePLMN, lac: 0, ci: hash) }

    /// Whether this is a site code rather than a CGI.
    @inlinable public var isSiteCode: Bool { plmn == CellID.siteCodePLMN }
}

/// The text of carrier site codes, keyed by their ``CellID``.
public struct SiteNames: Sendable {
    public private(set) var names: [CellID: String] = [:]
    public init() {}

    /// Records a site code and returns its cell.
    public mutating func intern(_ text: String) -> CellID {
        let c = CellID.siteCode(hash: StableHash.string(text))
        if names[c] == nil { names[c] = text }
        return c
    }

    public mutating func merge(_ other: SiteNames) { names.merge(other.names) { a, _ in a } }

    /// The printable form of any cell.
    public func name(of cell: CellID) -> String {
        if cell.isSiteCode { return names[cell] ?? "site-" + StableHash.hex(cell.ci) }
        return cell.formatted
    }
}
