/// Event time: microseconds since the Unix epoch, UTC. One resolution for the whole engine
/// (captures carry microseconds; CDR seconds are scaled up).
public typealias EventTime = Int64

/// Calendar arithmetic and RFC 3339 parsing/formatting without Foundation.
///
/// The algorithms are Howard Hinnant's `days_from_civil` / `civil_from_days`, exact for the
/// proleptic Gregorian calendar over the whole `Int64` range we use.
public enum CivilTime {
    /// Microseconds in one second.
    public static let second: Int64 = 1_000_000
    /// Microseconds in one minute.
    public static let minute: Int64 = 60 * second
    /// Microseconds in one hour.
    public static let hour: Int64 = 60 * minute

    /// Days since 1970-01-01 for a proleptic Gregorian date.
    @inlinable
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date of a day count since 1970-01-01.
    @inlinable
    public static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Days in a month of a year.
    @inlinable
    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Formats an event time as RFC 3339 UTC to the second: `2026-01-20T15:04:05Z`.
    public static func format(_ t: EventTime) -> String {
        var secs = t / second
        if t % second < 0 { secs -= 1 }
        var days = secs / 86_400
        var rem = secs % 86_400
        if rem < 0 {
            rem += 86_400
            days -= 1
        }
        let (y, mo, d) = civilFromDays(Int(days))
        var out = [UInt8]()
        out.reserveCapacity(20)
        func put(_ v: Int, _ width: Int) {
            var digits = [UInt8](repeating: 0x30, count: width)
            var x = v
            for i in stride(from: width - 1, through: 0, by: -1) {
                digits[i] = UInt8(0x30 + x % 10)
                x /= 10
            }
            out.append(contentsOf: digits)
        }
        if y < 0 || y > 9999 {
            out.append(contentsOf: Array(String(y).utf8))
        } else {
            put(y, 4)
        }
        out.append(0x2D)
        put(mo, 2)
        out.append(0x2D)
        put(d, 2)
        out.append(0x54)
        put(Int(rem / 3600), 2)
        out.append(0x3A)
        put(Int(rem / 60 % 60), 2)
        out.append(0x3A)
        put(Int(rem % 60), 2)
        out.append(0x5A)
        return String(decoding: out, as: UTF8.self)
    }

    /// Why a timestamp field did not parse.
    public enum ParseError: Error, Equatable, Sendable {
        case malformed
        case outOfRange
        case missingOffset
    }

    /// Parses RFC 3339 / ISO 8601 date-time text: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM)`;
    /// a space may stand for `T`. Fractions beyond microseconds are truncated. The strict front
    /// of ``parseWritten(_:order:)``: a year-first date with a time of day.
    ///
    /// - Parameter requireOffset: when `true` a time without `Z` or an offset is an error (the
    ///   engine never assumes UTC); otherwise such a time is returned as if it were UTC, for the
    ///   caller to shift by a zone.
    /// - Returns: microseconds since the epoch.
    public static func parseRFC3339(
        _ p: UnsafeRawBufferPointer,
        requireOffset: Bool = true
    ) -> Result<EventTime, ParseError> {
        guard p.count >= 19, p[4] == 0x2D, p[7] == 0x2D, p.prefix(4).allSatisfy({ $0 &- 0x30 < 10 }),
            let w = parseWritten(p), !w.isEpoch, !w.dateOnly
        else { return .failure(.malformed) }
        guard let offset = w.offset else {
            return requireOffset ? .failure(.missingOffset) : .success(w.seconds * second + w.micros)
        }
        return .success((w.seconds - Int64(offset)) * second + w.micros)
    }

    /// Convenience for tests and configuration: parses RFC 3339 text.
    public static func parseRFC3339(_ text: String) -> Result<EventTime, ParseError> {
        var t = text
        return t.withUTF8 { parseRFC3339(UnsafeRawBufferPointer($0)) }
    }
}
