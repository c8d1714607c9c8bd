/// Time-zone rules: UTC offsets over time, from a TZif file (RFC 8536) or a fixed offset, with
/// the POSIX TZ footer for times after the last listed transition.
///
/// Used to turn local wall-clock times in carrier exports into UTC. Ambiguous local times (the
/// repeated hour when clocks go back) resolve to the first occurrence; times in a skipped hour
/// resolve with the offset in force before the change.
public struct ZoneRules: Sendable, Hashable {
    public let name: String
    /// UTC seconds of each transition, ascending.
    let transitions: [Int64]
    /// Offset (seconds east of UTC) from each transition on.
    let offsets: [Int32]
    /// Offset before the first transition.
    let initialOffset: Int32
    /// Rule after the last transition.
    let footer: PosixRule?

    /// A fixed offset (seconds east of UTC).
    public static func fixed(seconds: Int32, name: String) -> ZoneRules {
        ZoneRules(name: name, transitions: [], offsets: [], initialOffset: seconds, footer: nil)
    }

    /// UTC.
    public static let utc = ZoneRules.fixed(seconds: 0, name: "UTC")

    /// Parses a fixed-offset name: `UTC`, `Z`, `UTC-6`, `UTC+05:30`, `-06:00`, `+0530`.
    public static func fixedOffset(_ text: String) -> ZoneRules? {
        var t = Substring(text)
        if t == "UTC" || t == "Z" || t == "GMT" || t == "Etc/UTC" { return .utc }
        if t.hasPrefix("UTC") || t.hasPrefix("GMT") { t = t.dropFirst(3) }
        guard let sign = t.first, sign == "+" || sign == "-" else { return nil }
        t = t.dropFirst()
        let digits = t.filter { $0 != ":" }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), digits.count <= 4 else {
            return nil
        }
        let h: Int
        let m: Int
        if digits.count <= 2 {
            h = Int(digits)!
            m = 0
        } else {
            h = Int(digits.prefix(digits.count - 2))!
            m = Int(digits.suffix(2))!
        }
        guard h <= 14, m < 60 else { return nil }
        return .fixed(seconds: Int32((h * 3600 + m * 60) * (sign == "-" ? -1 : 1)), name: text)
    }

    /// Parses TZif data (versions 1-4; the 64-bit block when present).
    public static func tzif(_ data: [UInt8], name: String) -> ZoneRules? {
        func be32(_ i: Int) -> Int64 {
            Int64(
                Int32(
                    bitPattern: UInt32(data[i]) << 24 | UInt32(data[i + 1]) << 16 | UInt32(data[i + 2]) << 8
                        | UInt32(data[i + 3])))
        }
        func be64(_ i: Int) -> Int64 {
            var v: UInt64 = 0
            for k in 0..<8 { v = v << 8 | UInt64(data[i + k]) }
            return Int64(bitPattern: v)
        }
        guard data.count >= 44, data[0] == 0x54, data[1] == 0x5A, data[2] == 0x69, data[3] == 0x66 else { return nil }
        let version = data[4]
        func header(_ at: Int) -> (isutc: Int, isstd: Int, leap: Int, time: Int, type: Int, char: Int)? {
            guard at + 44 <= data.count else { return nil }
            return (
                Int(be32(at + 20)), Int(be32(at + 24)), Int(be32(at + 28)), Int(be32(at + 32)), Int(be32(at + 36)),
                Int(be32(at + 40))
            )
        }
        guard let h1 = header(0) else { return nil }
        var at = 0
        var h = h1
        var timeSize = 4
        if version >= 0x32 {
            let v1Size = h1.time * 4 + h1.time + h1.type * 6 + h1.char + h1.leap * 8 + h1.isstd + h1.isutc
            at = 44 + v1Size
            guard let h2 = header(at) else { return nil }
            h = h2
            timeSize = 8
        }
        var p = at + 44
        let needed = h.time * timeSize + h.time + h.type * 6 + h.char + h.leap * (timeSize + 4) + h.isstd + h.isutc
        guard p + needed <= data.count, h.type > 0 else { return nil }
        var times: [Int64] = []
        for i in 0..<h.time { times.append(timeSize == 8 ? be64(p + i * 8) : be32(p + i * 4)) }
        p += h.time * timeSize
        let indices = (0..<h.time).map { Int(data[p + $0]) }
        p += h.time
        var typeOffsets: [Int32] = []
        for i in 0..<h.type { typeOffsets.append(Int32(be32(p + i * 6))) }
        p += h.type * 6 + h.char + h.leap * (timeSize + 4) + h.isstd + h.isutc
        var footer: PosixRule?
        if version >= 0x32, p < data.count, data[p] == 0x0A {
            if let end = data[(p + 1)...].firstIndex(of: 0x0A) {
                footer = PosixRule(String(decoding: data[(p + 1)..<end], as: UTF8.self))
            }
        }
        guard indices.allSatisfy({ $0 < typeOffsets.count }) else { return nil }
        return ZoneRules(
            name: name, transitions: times, offsets: indices.map { typeOffsets[$0] },
            initialOffset: typeOffsets[0], footer: footer)
    }

    /// The offset in force at a UTC instant (seconds).
    public func offset(atUTC t: Int64) -> Int32 {
        if transitions.isEmpty || t >= transitions[transitions.count - 1] {
            if let footer { return footer.offset(atUTC: t) }
            return transitions.isEmpty ? initialOffset : offsets[offsets.count - 1]
        }
        if t < transitions[0] { return initialOffset }
        var lo = 0
        var hi = transitions.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if transitions[mid] <= t { lo = mid } else { hi = mid - 1 }
        }
        return offsets[lo]
    }

    /// UTC seconds of a local wall-clock time (seconds since the epoch as if local were UTC).
    public func utc(fromLocal local: Int64) -> Int64 {
        // Try the offset before and after; prefer the earlier valid instant.
        let o1 = Int64(offset(atUTC: local - 86_400))
        let o2 = Int64(offset(atUTC: local + 86_400))
        let a = local - o1
        let b = local - o2
        let aValid = Int64(offset(atUTC: a)) == o1
        let bValid = Int64(offset(atUTC: b)) == o2
        switch (aValid, bValid) {
        case (true, true): return min(a, b)
        case (true, false): return a
        case (false, true): return b
        case (false, false): return a  // in a skipped hour: the offset in force before the change
        }
    }
}

/// A POSIX TZ rule such as `CST6CDT,M3.2.0,M11.1.0` or `CST6` (TZif footer).
struct PosixRule: Sendable, Hashable {
    var stdOffset: Int32
    var dstOffset: Int32?
    var start: (month: Int, week: Int, day: Int, time: Int32)?
    var end: (month: Int, week: Int, day: Int, time: Int32)?

    static func == (a: PosixRule, b: PosixRule) -> Bool {
        a.stdOffset == b.stdOffset && a.dstOffset == b.dstOffset && a.start?.month == b.start?.month
            && a.end?.month == b.end?.month
    }
    func hash(into h: inout Hasher) {
        h.combine(stdOffset)
        h.combine(dstOffset)
    }

    init?(_ text: String) {
        var s = Array(text.utf8)[...]
        func name() -> Bool {
            if s.first == 0x3C {
                guard let end = s.firstIndex(of: 0x3E) else { return false }
                s = s[(end + 1)...]
                return true
            }
            var n = 0
            while let c = s.first, (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) {
                s = s.dropFirst()
                n += 1
            }
            return n >= 3
        }
        func number() -> Int? {
            var v = 0
            var any = false
            while let c = s.first, c >= 0x30, c <= 0x39 {
                v = v * 10 + Int(c - 0x30)
                s = s.dropFirst()
                any = true
            }
            return any ? v : nil
        }
        func time() -> Int32? {
            var sign: Int32 = 1
            if s.first == 0x2D {
                sign = -1
                s = s.dropFirst()
            } else if s.first == 0x2B {
                s = s.dropFirst()
            }
            guard let h = number() else { return nil }
            var secs = Int32(h * 3600)
            if s.first == 0x3A {
                s = s.dropFirst()
                secs += Int32((number() ?? 0) * 60)
                if s.first == 0x3A {
                    s = s.dropFirst()
                    secs += Int32(number() ?? 0)
                }
            }
            return sign * secs
        }
        func date() -> (Int, Int, Int, Int32)? {
            guard s.first == 0x4D else { return nil }  // only the Mm.w.d form
            s = s.dropFirst()
            guard let m = number(), s.first == 0x2E else { return nil }
            s = s.dropFirst()
            guard let w = number(), s.first == 0x2E else { return nil }
            s = s.dropFirst()
            guard let d = number() else { return nil }
            var t: Int32 = 7200
            if s.first == 0x2F {
                s = s.dropFirst()
                guard let tt = time() else { return nil }
                t = tt
            }
            return (m, w, d, t)
        }
        guard name(), let std = time() else { return nil }
        stdOffset = -std
        if s.isEmpty { return }
        guard name() else { return nil }
        if let c = s.first, c != 0x2C, let d = time() { dstOffset = -d } else { dstOffset = stdOffset + 3600 }
        guard s.first == 0x2C else { return nil }
        s = s.dropFirst()
        guard let a = date(), s.first == 0x2C else { return nil }
        s = s.dropFirst()
        guard let b = date() else { return nil }
        start = (a.0, a.1, a.2, a.3)
        end = (b.0, b.1, b.2, b.3)
    }

    /// Local seconds of the transition in a year (week 5 = last).
    static func transition(year: Int, month: Int, week: Int, day: Int, time: Int32) -> Int64 {
        let first = CivilTime.daysFromCivil(year: year, month: month, day: 1)
        let weekdayOfFirst = ((first % 7) + 11) % 7  // 1970-01-01 was a Thursday (4)
        var dayOfMonth = 1 + (day - weekdayOfFirst + 7) % 7 + (week - 1) * 7
        let dim = CivilTime.daysInMonth(year: year, month: month)
        while dayOfMonth > dim { dayOfMonth -= 7 }
        return Int64(first + dayOfMonth - 1) * 86_400 + Int64(time)
    }

    func offset(atUTC t: Int64) -> Int32 {
        guard let dst = dstOffset, let start, let end else { return stdOffset }
        let year = CivilTime.civilFromDays(Int((t + Int64(stdOffset)).quotient(86_400))).year
        let s =
            Self.transition(year: year, month: start.month, week: start.week, day: start.day, time: start.time)
            - Int64(stdOffset)
        let e =
            Self.transition(year: year, month: end.month, week: end.week, day: end.day, time: end.time)
            - Int64(dst)
        if s < e { return t >= s && t < e ? dst : stdOffset }
        return t >= e && t < s ? stdOffset : dst
    }
}

extension Int64 {
    /// Floor division.
    func quotient(_ d: Int64) -> Int64 { self >= 0 ? self / d : (self - d + 1) / d }
}
