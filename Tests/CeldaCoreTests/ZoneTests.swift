import CeldaCore
import Foundation
import Testing

@Suite struct ZoneTests {
    static func rules(_ name: String) throws -> ZoneRules {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "/usr/share/zoneinfo/" + name)))
        return try #require(ZoneRules.tzif(bytes, name: name))
    }

    /// Oracle: Foundation's time zones over random instants, 1990-2035.
    @Test(arguments: ["America/Mexico_City", "America/Tijuana", "America/Cancun", "America/New_York", "Europe/Madrid"])
    func offsetsMatchFoundation(name: String) throws {
        let z = try Self.rules(name)
        let tz = try #require(TimeZone(identifier: name))
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<3_000 {
            let t = Int64.random(in: 631_152_000...2_082_758_400, using: &rng)
            let expected = tz.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t)))
            #expect(Int(z.offset(atUTC: t)) == expected, "\(name) at \(t)")
            // Local → UTC round trip away from transitions.
            let local = t + Int64(expected)
            let back = z.utc(fromLocal: local)
            if tz.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t - 7200))) == expected,
                tz.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t + 7200))) == expected
            {
                #expect(back == t)
            }
        }
    }

    @Test func mexicoCityHasNoDaylightSavingSince2022() throws {
        let z = try Self.rules("America/Mexico_City")
        let jan = try CivilTime.parseRFC3339("2026-01-20T12:00:00Z").get() / CivilTime.second
        let jul = try CivilTime.parseRFC3339("2026-07-20T12:00:00Z").get() / CivilTime.second
        #expect(z.offset(atUTC: jan) == -21_600)
        #expect(z.offset(atUTC: jul) == -21_600)
        // In 2021 it still had summer time.
        let jul21 = try CivilTime.parseRFC3339("2021-07-20T12:00:00Z").get() / CivilTime.second
        #expect(z.offset(atUTC: jul21) == -18_000)
    }

    @Test func tijuanaFollowsUSDaylightSaving() throws {
        let z = try Self.rules("America/Tijuana")
        // 2026-03-08 02:00 local the clocks go forward (second Sunday of March).
        let before = CivilTime.daysFromCivil(year: 2026, month: 3, day: 8)
        let localBefore = Int64(before) * 86_400 + 3_600  // 01:00 PST
        let localAfter = Int64(before) * 86_400 + 3 * 3_600  // 03:00 PDT
        #expect(z.utc(fromLocal: localBefore) == localBefore + 8 * 3_600)
        #expect(z.utc(fromLocal: localAfter) == localAfter + 7 * 3_600)
        // 01:30 on 2026-11-01 happens twice: the first (PDT) is chosen.
        let back = Int64(CivilTime.daysFromCivil(year: 2026, month: 11, day: 1)) * 86_400 + 5_400
        #expect(z.utc(fromLocal: back) == back + 7 * 3_600)
        // The POSIX footer carries the rule into years beyond the listed transitions.
        let far = try CivilTime.parseRFC3339("2090-07-01T12:00:00Z").get() / CivilTime.second
        #expect(z.offset(atUTC: far) == -25_200)
    }

    @Test(arguments: [
        ("UTC", Int32(0)), ("UTC-6", Int32(-21_600)), ("-06:00", Int32(-21_600)), ("+0530", Int32(19_800)),
        ("UTC+05:30", Int32(19_800)),
    ])
    func fixedOffsets(text: String, seconds: Int32) throws {
        let z = try #require(ZoneRules.fixedOffset(text))
        #expect(z.offset(atUTC: 1_700_000_000) == seconds)
        #expect(z.utc(fromLocal: 1_700_000_000) == 1_700_000_000 - Int64(seconds))
    }

    @Test(arguments: ["America/Nowhere", "UTC+99", "+25:00"])
    func badFixedOffsetsAreNil(text: String) {
        #expect(ZoneRules.fixedOffset(text) == nil)
    }
}

@Suite struct WrittenTimeTests {
    static func parse(_ s: String, _ order: DateOrder = .dayFirst) -> WrittenTime? {
        var t = s
        return t.withUTF8 { CivilTime.parseWritten(UnsafeRawBufferPointer($0), order: order) }
    }

    static func local(_ y: Int, _ m: Int, _ d: Int, _ hh: Int, _ mm: Int, _ ss: Int) -> Int64 {
        Int64(CivilTime.daysFromCivil(year: y, month: m, day: d)) * 86_400 + Int64(hh * 3600 + mm * 60 + ss)
    }

    @Test(arguments: [
        ("2026-01-20T09:04:05-06:00", local(2026, 1, 20, 9, 4, 5), Int32?(-21_600)),
        ("2026-01-20 09:04:05", local(2026, 1, 20, 9, 4, 5), nil),
        ("2020/2/10 22:41", local(2020, 2, 10, 22, 41, 0), nil),
        ("20/01/2026 09:04:05", local(2026, 1, 20, 9, 4, 5), nil),
        ("20-01-2026 9:04", local(2026, 1, 20, 9, 4, 0), nil),
        ("20/01/2026 09:04:05 p. m.", local(2026, 1, 20, 21, 4, 5), nil),
        ("20/01/2026 12:04:05 AM", local(2026, 1, 20, 0, 4, 5), nil),
        ("2026-01-20T15:04:05.5Z", local(2026, 1, 20, 15, 4, 5), Int32?(0)),
    ])
    func forms(text: String, seconds: Int64, offset: Int32?) throws {
        let w = try #require(Self.parse(text))
        #expect(w.seconds == seconds)
        #expect(w.offset == offset)
        #expect(!w.isEpoch)
    }

    @Test func monthFirstWhenAsked() throws {
        let w = try #require(Self.parse("01/20/2026 09:04:05", .monthFirst))
        #expect(w.seconds == Self.local(2026, 1, 20, 9, 4, 5))
        #expect(Self.parse("01/20/2026 09:04:05", .dayFirst) == nil)
    }

    @Test func epochSecondsAndMilliseconds() throws {
        let s = try #require(Self.parse("1768921445"))
        #expect(s.isEpoch && s.seconds == 1_768_921_445)
        let ms = try #require(Self.parse("1768921445123"))
        #expect(ms.isEpoch && ms.seconds == 1_768_921_445 && ms.micros == 123_000)
    }

    @Test func dateAlone() throws {
        let w = try #require(Self.parse("20/01/2026"))
        #expect(w.dateOnly && w.seconds == Self.local(2026, 1, 20, 0, 0, 0))
    }

    @Test(arguments: [
        "31/02/2026 10:00", "2026-13-01 10:00:00", "yesterday", "12345", "20/01/2026 25:00", "2026-01-20 10:00 CST",
    ])
    func rejects(text: String) {
        #expect(Self.parse(text) == nil)
    }
}
