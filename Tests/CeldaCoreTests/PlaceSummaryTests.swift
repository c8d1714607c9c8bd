import Testing

@testable import CeldaCore

/// `PlaceSummary` counts with scratch memory reused from window to window (a linear search over
/// few cells, an index past 16, an insertion sort up to 64). Oracle: the dictionary-and-sort
/// summary it replaced, on random windows over three prisons, towers that reach one, two or none
/// of them, cells no tower list knows and calls with no cell.
struct PlaceSummaryTests {
    /// What the summary gave before it used scratch memory.
    struct Reference: Equatable {
        var prison: Int?
        var prisonShare = 0.0
        var distanceM = 0.0
        var confidence = 0.0
        var towers: [CellID] = []
        var unlocated = 0

        init(_ calls: [(UInt32, CellID)], sites: SiteTable) {
            var perPrison: [Int: Int] = [:]
            var perCell: [CellID: Int] = [:]
            var linkedCalls = 0
            var total = 0
            for (site, cell) in calls {
                total += 1
                if !cell.isNone { perCell[cell, default: 0] += 1 }
                if site == CallRecord.unlocated {
                    unlocated += 1
                    continue
                }
                if let first = sites.links(ofSite: site).first {
                    linkedCalls += 1
                    perPrison[first.prison, default: 0] += 1
                }
            }
            let ordered = perCell.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map(\.key)
            towers = Array(ordered.prefix(Alert.maxTowers))
            guard total > 0 else { return }
            prisonShare = Double(linkedCalls) / Double(total)
            guard let best = perPrison.min(by: { ($1.value, $0.key) < ($0.value, $1.key) })?.key else { return }
            prison = best
            for cell in ordered {
                if let link = sites.links(ofSite: sites.site(of: cell)).first(where: { $0.prison == best }) {
                    distanceM = link.edgeDistanceM
                    confidence = link.confidence
                    break
                }
            }
        }
    }

    static let prisons = [
        Prison(id: "a", name: "A", location: GeoPoint(lat: 19.40, lon: -99.10), radiusM: 500),
        Prison(id: "b", name: "B", location: GeoPoint(lat: 19.41, lon: -99.10), radiusM: 500),
        Prison(id: "c", name: "C", location: GeoPoint(lat: 20.50, lon: -100.30), radiusM: 800),
    ]

    /// 120 towers around the prisons and far from them, in several ranges.
    static let towers: [Tower] = (0..<120).map { i in
        let around = i % 4 == 3 ? GeoPoint(lat: 21.9, lon: -102.0) : prisons[i % 3].location
        let step = Double(i / 4) * 0.0011
        return Tower(
            cell: CellID(mcc: 334, mnc: 20, lac: UInt32(100 + i % 7), ci: UInt64(1000 + i)),
            location: GeoPoint(lat: around.lat + step, lon: around.lon - step / 2), rangeM: Double(300 + (i % 5) * 700))
    }

    @Test(arguments: [1, 2, 3, 4])
    func scratchSummaryMatchesTheDictionarySummary(seed: UInt64) {
        let sites = SiteTable(towers: Self.towers, prisons: Self.prisons)
        var rng = OrderRandom(s: seed)
        var scratch = PlaceScratch()
        var linkedWindows = 0
        for round in 0..<400 {
            // Distinct cells per window: few (the usual), past the linear search, past the
            // insertion sort.
            let spread = [3, 12, 30, 90][round % 4]
            let n = Int(rng.next() % 160)
            var calls: [(UInt32, CellID)] = []
            for _ in 0..<n {
                let pick = Int(rng.next() % UInt64(spread))
                let cell: CellID
                switch pick % 10 {
                case 9: cell = .none
                case 8: cell = CellID(mcc: 334, mnc: 20, lac: 999, ci: UInt64(5000 + pick))  // not in the tower list
                default: cell = Self.towers[(pick * 7 + Int(seed)) % Self.towers.count].cell
                }
                calls.append((cell.isNone ? CallRecord.unlocated : sites.site(of: cell), cell))
            }
            let expected = Reference(calls, sites: sites)
            let got = PlaceSummary(calls, sites: sites, scratch: &scratch) { $0 }
            #expect(got.prison == expected.prison)
            #expect(got.prisonShare == expected.prisonShare)
            #expect(got.distanceM == expected.distanceM)
            #expect(got.confidence == expected.confidence)
            #expect(got.towers == expected.towers)
            #expect(got.unlocated == expected.unlocated)
            if expected.prison != nil { linkedWindows += 1 }
        }
        // The windows did tie to prisons (the comparison is not only of empty summaries).
        #expect(linkedWindows > 100)
    }
}
