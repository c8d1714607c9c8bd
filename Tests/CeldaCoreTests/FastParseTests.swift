import Testing

@testable import CeldaCore

/// The fast paths of the field readers against the general ones, over generated text that is
/// mostly well formed and often just not: ``CellID/parseDashed(_:)`` against
/// ``CellID/parseDashedGeneral(_:)``, and the date-keeping timestamp reader against
/// ``CivilTime/parseFixedISO(_:from:end:)`` and ``CivilTime/parseRFC3339(_:)``.
@Suite struct FastParseTests {
    static func digits(_ n: Int, _ rng: inout OrderRandom) -> [UInt8] {
        // Runs of nines and zeros now and then, where carries and borrows would show.
        let edge = rng.below(5) == 0
        return (0..<n).map { _ in edge ? (rng.below(2) == 0 ? 0x39 : 0x30) : UInt8(0x30 + rng.below(10)) }
    }

    @Test func dashedCGIReadsAsTheGeneralLoop() {
        var rng = OrderRandom(s: 2026)
        let separators: [UInt8] = [0x2D, 0x2D, 0x2D, 0x2D, 0x5F, 0x3A, 0x20]
        let noise: [UInt8] = [0x2D, 0x20, 0x22, 0x61, 0x2F, 0x3A, 0x2E, 0x80, 0xAD, 0x00, 0x7F, 0x1D]
        var accepted = 0
        for _ in 0..<60_000 {
            let parts = rng.below(8) == 0 ? 3 + rng.below(3) : 4
            var text: [UInt8] = []
            for k in 0..<parts {
                if k > 0 { text.append(rng.below(10) == 0 ? separators[rng.below(separators.count)] : 0x2D) }
                // Mostly the lengths of real CGIs; now and then any length up to 14.
                let usual = [[3, 3, 3, 1, 2, 4], [2, 3, 3, 1], [1, 4, 5, 8, 9], [1, 5, 7, 9, 12, 13]][min(k, 3)]
                let length = rng.below(10) == 0 ? rng.below(15) : usual[rng.below(usual.count)]
                text += Self.digits(length, &rng)
            }
            if rng.below(6) == 0, !text.isEmpty { text[rng.below(text.count)] = noise[rng.below(noise.count)] }
            if rng.below(20) == 0 { text = [0x20] + text + [0x22] }
            let general = text.withUnsafeBytes { CellID.parseDashedGeneral($0) }
            let got = text.withUnsafeBytes { CellID.parseDashed($0) }
            #expect(got == general, "\(String(decoding: text, as: UTF8.self))")
            if general != nil { accepted += 1 }
        }
        // Most of the generated fields are the usual form, which the fast loop answers itself.
        #expect(accepted > 12_000)
        #expect(CellID.parse("334-020-23480-1005827") == CellID(mcc: 334, mnc: 20, lac: 23480, ci: 1_005_827))
        #expect(CellID.parse("334-020-16777216-1") == nil)
        #expect(CellID.parse("334-020-1-1099511627776") == nil)
        #expect(CellID.parse("999-999-16777215-999999999999") != nil)
        #expect(CellID.parse("999-999-16777215-1099511627775") == nil)  // thirteen digits
    }

    @Test func timestampReaderAnswersAsTheFixedParser() {
        var rng = OrderRandom(s: 77)
        var reader = FixedISOReader()
        let offsets = ["Z", "z", "-06:00", "+05:30", "-0600", "+00:00", "", "", "-6:00", "+05:3x", "Zx", " -06:00"]
        let fractions = ["", "", "", ".5", ".123456", ",25", ".", ".12345678"]
        var date = "2026-01-19"
        var checkedAgainstRFC = 0
        for _ in 0..<40_000 {
            // Runs of rows on one date, as in a dump; sometimes a new date, sometimes a bad one.
            switch rng.below(40) {
            case 0:
                date =
                    "20\(10 + rng.below(80))-\(String(format2: 1 + rng.below(12)))-\(String(format2: 1 + rng.below(28)))"
            case 1:
                date =
                    ["2026-02-30", "2026-13-01", "2026-00-10", "2024-02-29", "2025-02-29", "2026-1a-01"][rng.below(6)]
            default: break
            }
            let h = rng.below(30) == 0 ? 24 : rng.below(24)
            let m = rng.below(30) == 0 ? 60 : rng.below(60)
            let s = rng.below(30) == 0 ? 60 : rng.below(60)
            let sep = ["T", "T", "T", " ", "t", "_"][rng.below(6)]
            var text = "\(date)\(sep)\(String(format2: h)):\(String(format2: m)):\(String(format2: s))"
            text += fractions[rng.below(fractions.count)] + offsets[rng.below(offsets.count)]
            if rng.below(50) == 0 { text.removeLast() }
            let bytes = Array(text.utf8)
            let fixed = bytes.withUnsafeBytes { CivilTime.parseFixedISO($0, from: 0, end: $0.count) }
            let got = bytes.withUnsafeBytes { reader.parse($0, from: 0, end: $0.count) }
            #expect(got == fixed, "\(text)")
            if let fixed, let offset = fixed.offset, case .success(let utc) = CivilTime.parseRFC3339(text) {
                #expect((fixed.seconds - Int64(offset)) * 1_000_000 + fixed.micros == utc, "\(text)")
                checkedAgainstRFC += 1
            }
        }
        #expect(checkedAgainstRFC > 5_000)
    }
}

extension String {
    fileprivate init(format2 v: Int) { self = v < 10 ? "0\(v)" : "\(v)" }
}

extension OrderRandom {
    fileprivate mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
