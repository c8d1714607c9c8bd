/// How a slashed or dotted date without a four-digit year first is read.
public enum DateOrder: String, Sendable, Hashable, CaseIterable {
    /// `DD/MM/YYYY` (Mexico and most carrier exports).
    case dayFirst = "dmy"
    /// `MM/DD/YYYY`.
    case monthFirst = "mdy"
}

/// A timestamp field as written: wall-clock seconds and microseconds, and the UTC offset when
/// the text carried one (otherwise the caller applies a time zone).
public struct WrittenTime: Sendable, Equatable {
    /// Seconds since the epoch of the wall-clock reading (UTC when `offset` is `nil` and `isEpoch`).
    public var seconds: Int64
    public var micros: Int64
    /// Offset east of UTC in seconds, when written.
    public var offset: Int32?
    /// The value was an epoch count (already UTC).
    public var isEpoch: Bool
    /// The text held only a date (no time of day).
    public var dateOnly: Bool

    @inlinable
    public init(seconds: Int64, micros: Int64, offset: Int32?, isEpoch: Bool, dateOnly: Bool) {
        self.seconds = seconds
        self.micros = micros
        self.offset = offset
        self.isEpoch = isEpoch
        self.dateOnly = dateOnly
    }
}

extension CivilTime {
    /// Parses the timestamp forms carriers and PBXs write (spec/inputs.md §1):
    /// RFC 3339 / ISO 8601 with or without offset and fraction; `YYYY-MM-DD HH:MM:SS`;
    /// `YYYY/M/D H:MM` (no padding, seconds optional); `DD/MM/YYYY HH:MM:SS` (or month first);
    /// a 12-hour clock with `AM`/`PM`; epoch seconds (10 digits) or milliseconds (13 digits);
    /// or a date alone.
    @inlinable
    public static func parseWritten(_ p: UnsafeRawBufferPointer, order: DateOrder = .dayFirst) -> WrittenTime? {
        var s = 0
        var e = p.count
        while s < e, p[s] == 0x20 || p[s] == 0x22 || p[s] == 0x27 || p[s] == 0x09 { s += 1 }
        while e > s, p[e - 1] == 0x20 || p[e - 1] == 0x22 || p[e - 1] == 0x27 || p[e - 1] == 0x09 || p[e - 1] == 0x0D {
            e -= 1
        }
        guard s < e else { return nil }
        if let fast = parseFixedISO(p, from: s, end: e) { return fast }
        var i = s
        @inline(__always) func number(_ maxDigits: Int) -> (Int, Int)? {
            var v = 0
            var n = 0
            while i < e, p[i] &- 0x30 < 10, n < maxDigits {
                v = v * 10 + Int(p[i] &- 0x30)
                n += 1
                i += 1
            }
            return n > 0 ? (v, n) : nil
        }
        // Epoch: digits only.
        var allDigits = true
        for k in s..<e where p[k] &- 0x30 >= 10 && p[k] != 0x2E {
            allDigits = false
            break
        }
        if allDigits {
            guard let (v, n) = number(13) else { return nil }
            if i < e && p[i] != 0x2E { return nil }
            var micros: Int64 = 0
            if i < e {
                i += 1
                var scale: Int64 = 100_000
                while i < e, p[i] &- 0x30 < 10 {
                    micros += Int64(p[i] &- 0x30) * scale
                    scale /= 10
                    i += 1
                }
                guard i == e else { return nil }
            }
            if n == 13 {
                return WrittenTime(
                    seconds: Int64(v / 1000), micros: Int64(v % 1000) * 1000, offset: nil, isEpoch: true,
                    dateOnly: false)
            }
            if n >= 9 && n <= 10 {
                return WrittenTime(seconds: Int64(v), micros: micros, offset: nil, isEpoch: true, dateOnly: false)
            }
            return nil
        }
        // Date.
        guard let (a, la) = number(4), i < e else { return nil }
        let sep = p[i]
        guard sep == 0x2D || sep == 0x2F || sep == 0x2E else { return nil }
        i += 1
        guard let (b, _) = number(2), i < e, p[i] == sep else { return nil }
        i += 1
        guard let (c, lc) = number(4) else { return nil }
        var year: Int
        var month: Int
        var day: Int
        if la == 4 {
            (year, month, day) = (a, b, c)
            guard lc <= 2 else { return nil }
        } else {
            guard la <= 2, lc == 4 || lc == 2 else { return nil }
            year = lc == 2 ? 2000 + c : c
            (day, month) = order == .dayFirst ? (a, b) : (b, a)
        }
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month) else { return nil }
        let days = Int64(daysFromCivil(year: year, month: month, day: day))
        if i == e {
            return WrittenTime(seconds: days * 86_400, micros: 0, offset: nil, isEpoch: false, dateOnly: true)
        }
        guard p[i] == 0x54 || p[i] == 0x74 || p[i] == 0x20 else { return nil }
        while i < e, p[i] == 0x54 || p[i] == 0x74 || p[i] == 0x20 { i += 1 }
        guard let tod = parseTimeOfDay(p, from: &i, end: e) else { return nil }
        var offset: Int32?
        while i < e, p[i] == 0x20 { i += 1 }
        if i < e {
            let c0 = p[i]
            if c0 == 0x5A || c0 == 0x7A {
                offset = 0
                i += 1
            } else if c0 == 0x2B || c0 == 0x2D {
                i += 1
                guard let (oh, ol) = number(2), ol == 2 else { return nil }
                if i < e, p[i] == 0x3A { i += 1 }
                var om = 0
                if i < e {
                    guard let (m, ml) = number(2), ml == 2 else { return nil }
                    om = m
                }
                guard oh < 24, om < 60 else { return nil }
                offset = Int32((oh * 3600 + om * 60) * (c0 == 0x2D ? -1 : 1))
            }
            guard i == e else { return nil }
        }
        return WrittenTime(
            seconds: days * 86_400 + tod.seconds, micros: tod.micros, offset: offset, isEpoch: false, dateOnly: false)
    }

    /// The usual form of carrier and SIP timestamps, read at fixed positions:
    /// `YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|±HH:MM|±HHMM]`. Anything else (or an invalid value)
    /// gives `nil`, and the general parser decides; where this one answers, it answers as the
    /// general one would.
    @inlinable @inline(__always)
    public static func parseFixedISO(_ p: UnsafeRawBufferPointer, from s: Int, end e: Int) -> WrittenTime? {
        guard e - s >= 19, let days = fixedISODate(p, from: s) else { return nil }
        return fixedISOTime(p, from: s, end: e, days: days)
    }

    /// The day number of the date `YYYY-MM-DD` at `s` (ten readable bytes), or `nil`.
    @inlinable @inline(__always)
    public static func fixedISODate(_ p: UnsafeRawBufferPointer, from s: Int) -> Int64? {
        @inline(__always) func d(_ k: Int) -> Int { Int(p[s + k] &- 0x30) }
        @inline(__always) func isDigit(_ k: Int) -> Bool { p[s + k] &- 0x30 < 10 }
        guard p[s + 4] == 0x2D, p[s + 7] == 0x2D, isDigit(0), isDigit(1), isDigit(2), isDigit(3), isDigit(5),
            isDigit(6), isDigit(8), isDigit(9)
        else { return nil }
        let year = d(0) * 1000 + d(1) * 100 + d(2) * 10 + d(3)
        let month = d(5) * 10 + d(6)
        let day = d(8) * 10 + d(9)
        guard month >= 1, month <= 12, day >= 1, day <= daysInMonth(year: year, month: month) else { return nil }
        return Int64(daysFromCivil(year: year, month: month, day: day))
    }

    /// The rest of the fixed form after its date (`days`): `[T ]HH:MM:SS[.fraction][Z|±HH:MM|±HHMM]`
    /// from `s + 10` to `e` (at least 19 bytes from `s`), or `nil`.
    @inlinable @inline(__always)
    public static func fixedISOTime(_ p: UnsafeRawBufferPointer, from s: Int, end e: Int, days: Int64) -> WrittenTime? {
        guard let clock = fixedISOClock(p, from: s), let (micros, offset) = fixedISOTail(p, from: s + 19, end: e)
        else { return nil }
        return WrittenTime(
            seconds: days * 86_400 + clock, micros: micros, offset: offset, isEpoch: false, dateOnly: false)
    }

    /// The seconds of the day of the fixed form's `[T ]HH:MM:SS` at `s + 10` (nine readable bytes), or
    /// `nil`.
    @inlinable @inline(__always)
    public static func fixedISOClock(_ p: UnsafeRawBufferPointer, from s: Int) -> Int64? {
        @inline(__always) func d(_ k: Int) -> Int { Int(p[s + k] &- 0x30) }
        @inline(__always) func isDigit(_ k: Int) -> Bool { p[s + k] &- 0x30 < 10 }
        let sepT = p[s + 10]
        guard sepT == 0x54 || sepT == 0x74 || sepT == 0x20, p[s + 13] == 0x3A, p[s + 16] == 0x3A, isDigit(11),
            isDigit(12), isDigit(14), isDigit(15), isDigit(17), isDigit(18)
        else { return nil }
        let h = d(11) * 10 + d(12)
        let m = d(14) * 10 + d(15)
        let sec = min(d(17) * 10 + d(18), 59)
        guard h < 24, m < 60 else { return nil }
        return Int64(h * 3600 + m * 60 + sec)
    }

    /// What follows the seconds of the fixed form, `[.fraction][Z|±HH:MM|±HHMM]` in `[start, e)`: the
    /// fraction in microseconds and the offset if written, or `nil`.
    @inlinable @inline(__always)
    public static func fixedISOTail(
        _ p: UnsafeRawBufferPointer, from start: Int, end e: Int
    ) -> (
        micros: Int64, offset: Int32?
    )? {
        var i = start
        var micros: Int64 = 0
        if i < e, p[i] == 0x2E || p[i] == 0x2C {
            i += 1
            var scale: Int64 = 100_000
            let first = i
            while i < e, p[i] &- 0x30 < 10 {
                micros += Int64(p[i] &- 0x30) * scale
                scale /= 10
                i += 1
            }
            guard i > first else { return nil }
        }
        var offset: Int32?
        if i < e {
            let c0 = p[i]
            if c0 == 0x5A || c0 == 0x7A {
                guard i + 1 == e else { return nil }
                offset = 0
            } else if c0 == 0x2B || c0 == 0x2D {
                let n = e - i
                guard n == 6 || n == 5 else { return nil }
                let colon = n == 6
                if colon { guard p[i + 3] == 0x3A else { return nil } }
                let mi = colon ? i + 4 : i + 3
                guard p[i + 1] &- 0x30 < 10, p[i + 2] &- 0x30 < 10, p[mi] &- 0x30 < 10, p[mi + 1] &- 0x30 < 10 else {
                    return nil
                }
                let oh = Int(p[i + 1] &- 0x30) * 10 + Int(p[i + 2] &- 0x30)
                let om = Int(p[mi] &- 0x30) * 10 + Int(p[mi + 1] &- 0x30)
                guard oh < 24, om < 60 else { return nil }
                offset = Int32((oh * 3600 + om * 60) * (c0 == 0x2D ? -1 : 1))
            } else {
                return nil
            }
        }
        return (micros, offset)
    }

    /// `H:MM[:SS[.fraction]]` with an optional `AM`/`PM` (also `a. m.` / `p. m.`).
    @inlinable
    public static func parseTimeOfDay(
        _ p: UnsafeRawBufferPointer, from i: inout Int, end e: Int
    ) -> (seconds: Int64, micros: Int64)? {
        @inline(__always) func number(_ maxDigits: Int) -> (Int, Int)? {
            var v = 0
            var n = 0
            while i < e, p[i] &- 0x30 < 10, n < maxDigits {
                v = v * 10 + Int(p[i] &- 0x30)
                n += 1
                i += 1
            }
            return n > 0 ? (v, n) : nil
        }
        guard var (h, _) = number(2), i < e, p[i] == 0x3A else { return nil }
        i += 1
        guard let (m, ml) = number(2), ml == 2 else { return nil }
        var sec = 0
        var micros: Int64 = 0
        if i < e, p[i] == 0x3A {
            i += 1
            guard let (ss, sl) = number(2), sl == 2 else { return nil }
            sec = min(ss, 59)
            if i < e, p[i] == 0x2E || p[i] == 0x2C {
                i += 1
                var scale: Int64 = 100_000
                var any = false
                while i < e, p[i] &- 0x30 < 10 {
                    micros += Int64(p[i] &- 0x30) * scale
                    scale /= 10
                    i += 1
                    any = true
                }
                guard any else { return nil }
            }
        }
        // 12-hour clock.
        var j = i
        while j < e, p[j] == 0x20 { j += 1 }
        if j < e, p[j] | 0x20 == 0x61 || p[j] | 0x20 == 0x70 {
            let pm = p[j] | 0x20 == 0x70
            var k = j + 1
            if k < e, p[k] == 0x2E { k += 1 }
            while k < e, p[k] == 0x20 { k += 1 }
            if k < e, p[k] | 0x20 == 0x6D {
                k += 1
                if k < e, p[k] == 0x2E { k += 1 }
                guard h >= 1, h <= 12 else { return nil }
                if h == 12 { h = 0 }
                if pm { h += 12 }
                i = k
            }
        }
        guard h < 24, m < 60 else { return nil }
        return (Int64(h * 3600 + m * 60 + sec), micros)
    }
}

/// ``CivilTime/parseFixedISO(_:from:end:)`` keeping the last date it read: the rows of a dump
/// share their date, so a timestamp whose first ten bytes are the last one's reads only its time
/// of day and zone. It answers exactly as `parseFixedISO` does.
public struct FixedISOReader: Sendable {
    /// The first ten bytes of the last date read (eight, then two), and its day number.
    @usableFromInline var dateWord: UInt64 = 0
    @usableFromInline var dateTail: UInt16 = 0
    @usableFromInline var days: Int64 = 0
    /// The last valid tail of up to eight bytes (``CivilTime/fixedISOTail(_:from:end:)``) and
    /// what it gave; length 0 until then.
    @usableFromInline var tailLength = 0
    @usableFromInline var tailWord: UInt64 = 0
    @usableFromInline var tailMicros: Int64 = 0
    @usableFromInline var tailOffset: Int32?

    public init() {}

    @inlinable @inline(__always)
    public mutating func parse(_ p: UnsafeRawBufferPointer, from s: Int, end e: Int) -> WrittenTime? {
        guard e - s >= 19, let base = p.baseAddress else { return nil }
        let w = base.loadUnaligned(fromByteOffset: s, as: UInt64.self)
        let t = base.loadUnaligned(fromByteOffset: s + 8, as: UInt16.self)
        // No date's bytes are all zero, so the first one is always read.
        if w != dateWord || t != dateTail {
            guard let d = CivilTime.fixedISODate(p, from: s) else { return nil }
            dateWord = w
            dateTail = t
            days = d
        }
        return time(p, from: s, end: e)
    }

    /// The time of day at its fixed place, then the fraction and offset (kept too: the rows of a
    /// dump mostly share them, so a tail of up to eight bytes equal to the last one is not read).
    @inlinable @inline(__always)
    mutating func time(_ p: UnsafeRawBufferPointer, from s: Int, end e: Int) -> WrittenTime? {
        guard let clock = CivilTime.fixedISOClock(p, from: s) else { return nil }
        let n = e - (s + 19)
        var micros: Int64 = 0
        var offset: Int32?
        if n > 0 {
            // The tail's bytes in the high end of the word that ends with it (its length is kept
            // beside it, so the low bytes are never compared).
            let key =
                n <= 8
                ? p.baseAddress!.loadUnaligned(fromByteOffset: e - 8, as: UInt64.self) >> ((8 - UInt64(n)) * 8) : 0
            if n <= 8, n == tailLength, key == tailWord {
                micros = tailMicros
                offset = tailOffset
            } else {
                guard let t = CivilTime.fixedISOTail(p, from: s + 19, end: e) else { return nil }
                (micros, offset) = t
                if n <= 8 {
                    tailLength = n
                    tailWord = key
                    tailMicros = t.micros
                    tailOffset = t.offset
                }
            }
        }
        return WrittenTime(
            seconds: days * 86_400 + clock, micros: micros, offset: offset, isEpoch: false, dateOnly: false)
    }
}
