import CeldaCore
import Foundation
import Testing

@Suite struct TimeTests {
    @Test(arguments: [
        ("2026-01-20T15:04:05Z", Int64(1_768_921_445_000_000)),
        ("2026-01-20T09:04:05-06:00", Int64(1_768_921_445_000_000)),
        ("2026-01-20 15:04:05.25+00:00", Int64(1_768_921_445_250_000)),
        ("2026-01-20T15:04:05.123456789Z", Int64(1_768_921_445_123_456)),
        ("1970-01-01T00:00:00Z", Int64(0)),
        ("2092-03-01T00:00:00+0530", Int64(3_855_148_200_000_000)),
    ])
    func parsesRFC3339(text: String, micros: Int64) throws {
        #expect(try CivilTime.parseRFC3339(text).get() == micros)
    }

    @Test(arguments: [
        "2026-01-20T15:04:05", "2026-02-30T00:00:00Z", "2026-01-20T25:00:00Z", "20/01/2026 15:04", "",
        "2026-01-20T15:04:05Zjunk",
    ])
    func rejectsMalformed(text: String) {
        if case .success = CivilTime.parseRFC3339(text) { Issue.record("accepted \(text)") }
    }

    @Test func missingOffsetIsNamed() {
        #expect(CivilTime.parseRFC3339("2026-01-20T15:04:05") == .failure(.missingOffset))
    }

    /// Oracle: Foundation's ISO 8601 formatter over random instants from 1900 to 2100.
    @Test func formatMatchesFoundation() throws {
        var rng = SystemRandomNumberGenerator()
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        f.timeZone = TimeZone(identifier: "UTC")
        for _ in 0..<2_000 {
            let secs = Int64.random(in: -2_208_988_800...4_102_444_800, using: &rng)
            let expected = f.string(from: Date(timeIntervalSince1970: TimeInterval(secs)))
            #expect(CivilTime.format(secs * 1_000_000) == expected)
            #expect(try CivilTime.parseRFC3339(expected).get() == secs * 1_000_000)
        }
    }
}

@Suite struct PartyTests {
    static let cases: [(String, String?)] = [
        ("+525512345678", "+525512345678"),
        ("5512345678", "+525512345678"),
        ("525512345678", "+525512345678"),
        ("+52 1 55 1234 5678", "+525512345678"),
        ("5215512345678", "+525512345678"),
        ("0445512345678", "+525512345678"),
        ("0455512345678", "+525512345678"),
        ("015512345678", "+525512345678"),
        ("(55) 1234-5678", "+525512345678"),
        ("55.1234.5678", "+525512345678"),
        ("\"+52 55 1234 5678\"", "+525512345678"),
        ("tel:+525512345678", "+525512345678"),
        ("sip:+525512345678@ims.example.mx;user=phone", "+525512345678"),
        ("+353877586895", "+353877586895"),
        ("0034798400122", "+34798400122"),
        ("1002", "1002"),
        ("0007", "0007"),
    ]

    @Test(arguments: cases)
    func normalises(input: String, expected: String?) {
        var s = input
        let outcome = s.withUTF8 { NumberPlan.mexico.normalise(UnsafeRawBufferPointer($0)) }
        guard case .party(let p) = outcome else {
            Issue.record("\(input) gave \(outcome)")
            return
        }
        #expect(p.formatted == expected)
    }

    @Test(arguments: ["55123A4567", "+52 55 12x3 4567"])
    func lettersAmongDigitsAreInvalid(input: String) {
        var s = input
        #expect(s.withUTF8 { NumberPlan.mexico.normalise(UnsafeRawBufferPointer($0)) } == .invalid)
    }

    @Test(arguments: ["anonymous", "sip:alice@example.com"])
    func namesAreText(input: String) {
        var s = input
        #expect(s.withUTF8 { NumberPlan.mexico.normalise(UnsafeRawBufferPointer($0)) } == .text)
    }

    @Test func emptyIsEmpty() {
        var s = "  \"\" "
        #expect(s.withUTF8 { NumberPlan.mexico.normalise(UnsafeRawBufferPointer($0)) } == .empty)
    }

    /// The plain-digit fast path (digits read eight at a time) against the general path, which
    /// a leading blank forces: digit runs of every length to 21, with and without `+`, some with
    /// a byte that is not a digit, give the same outcome both ways.
    @Test func plainDigitsReadAsTheGeneralPathReadsThem() {
        var rng = OrderRandom(s: 9)
        let other: [UInt8] = [0x2F, 0x3A, 0x41, 0x2D, 0x20, 0xB5]
        for length in 1...21 {
            for _ in 0..<150 {
                var bytes = (0..<length).map { _ in UInt8(0x30 + rng.next() % 10) }
                if rng.next() % 3 == 0 { bytes[Int(rng.next() % UInt64(length))] = other[Int(rng.next() % 6)] }
                if rng.next() % 2 == 0 { bytes.insert(0x2B, at: 0) }
                let fast = bytes.withUnsafeBytes { NumberPlan.mexico.normalise($0) }
                let general = ([0x20] + bytes).withUnsafeBytes { NumberPlan.mexico.normalise($0) }
                #expect(fast == general, "\(String(decoding: bytes, as: UTF8.self))")
            }
        }
        var s = "+525512345678"
        #expect(
            s.withUTF8 { NumberPlan.mexico.normalise(UnsafeRawBufferPointer($0)) } == .party(.e164(525_512_345_678)))
    }

    @Test func identityTableKeepsText() {
        var table = IdentityTable()
        var s = "sip:alice@example.com"
        let p = s.withUTF8 { table.intern(UnsafeRawBufferPointer($0)) }
        #expect(p.isText)
        #expect(table.name(of: p) == "sip:alice@example.com")
    }
}

@Suite struct CellTests {
    @Test func parsesAndFormatsDashedCGI() throws {
        let c = try #require(CellID.parse("334-20-1234-56789"))
        #expect(c.mcc == 334 && c.mnc == 20 && c.lac == 1234 && c.ci == 56789)
        #expect(c.formatted == "334-020-1234-56789")
        #expect(CellID.parse("334-020-1234-56789") == c)
    }

    @Test(arguments: ["", "334-020-1234", "334-020-12a4-5", "1000-020-1-1", "334--1-1"])
    func rejectsBadCGI(text: String) {
        #expect(CellID.parse(text) == nil)
    }
}

@Suite struct GeoTests {
    @Test func haversineKnownDistance() {
        // Mexico City Zócalo to Toluca centre: about 57 km.
        let d = Geo.distance(GeoPoint(lat: 19.4326, lon: -99.1332), GeoPoint(lat: 19.2826, lon: -99.6557))
        #expect(abs(d - 57_500) < 2_500)
        #expect(Geo.distance(GeoPoint(lat: 10, lon: 10), GeoPoint(lat: 10, lon: 10)) == 0)
    }

    @Test func towerInsidePrisonHasFullConfidence() {
        let prison = Prison(id: "p", name: "P", location: GeoPoint(lat: 19.42, lon: -99.75), radiusM: 600)
        let inside = Tower(
            cell: CellID(mcc: 334, mnc: 20, lac: 1, ci: 1), location: GeoPoint(lat: 19.421, lon: -99.75), rangeM: 1000)
        let link = Coverage.link(inside, prison, index: 0)
        #expect(link?.edgeDistanceM == 0)
        #expect(link?.confidence == 1)
    }

    @Test func distantTowerDoesNotReach() {
        let prison = Prison(id: "p", name: "P", location: GeoPoint(lat: 19.42, lon: -99.75), radiusM: 600)
        let far = Tower(
            cell: CellID(mcc: 334, mnc: 20, lac: 1, ci: 2), location: GeoPoint(lat: 19.50, lon: -99.75), rangeM: 1000)
        #expect(Coverage.link(far, prison, index: 0) == nil)
    }

    @Test func nearTowerReachesWithPartialConfidence() throws {
        let prison = Prison(id: "p", name: "P", location: GeoPoint(lat: 19.42, lon: -99.75), radiusM: 600)
        // About 1,000 m north: 400 m from the edge, range 1,000 m.
        let near = Tower(
            cell: CellID(mcc: 334, mnc: 20, lac: 1, ci: 3), location: GeoPoint(lat: 19.429, lon: -99.75), rangeM: 1000)
        let link = try #require(Coverage.link(near, prison, index: 0))
        #expect(abs(link.edgeDistanceM - 400) < 10)
        #expect(abs(link.confidence - 0.6) < 0.02)
    }

    @Test func sectorPointingAwayDoesNotReach() {
        let prison = Prison(id: "p", name: "P", location: GeoPoint(lat: 19.42, lon: -99.75), radiusM: 100)
        let loc = GeoPoint(lat: 19.425, lon: -99.75)  // ~550 m north of the prison
        let facingSouth = Tower(cell: .none, location: loc, rangeM: 2000, azimuth: 180)
        let facingNorth = Tower(cell: .none, location: loc, rangeM: 2000, azimuth: 0)
        #expect(Coverage.link(facingSouth, prison, index: 0) != nil)
        #expect(Coverage.link(facingNorth, prison, index: 0) == nil)
    }

    @Test func siteTableLooksUpCellsOnce() {
        let prison = Prison(id: "p", name: "P", location: GeoPoint(lat: 19.42, lon: -99.75), radiusM: 600)
        let a = CellID(mcc: 334, mnc: 20, lac: 1, ci: 1)
        let b = CellID(mcc: 334, mnc: 20, lac: 1, ci: 2)
        let table = SiteTable(
            towers: [
                Tower(cell: a, location: GeoPoint(lat: 19.421, lon: -99.75), rangeM: 1000),
                Tower(cell: b, location: GeoPoint(lat: 20.5, lon: -99.75), rangeM: 1000),
            ], prisons: [prison])
        #expect(table.reachesPrison(table.site(of: a)))
        #expect(!table.reachesPrison(table.site(of: b)))
        #expect(table.site(of: CellID(mcc: 334, mnc: 20, lac: 9, ci: 9)) == CallRecord.unlocated)
        #expect(table.prisonSiteCount == 1)
    }
}
