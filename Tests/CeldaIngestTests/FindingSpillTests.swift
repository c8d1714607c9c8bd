import CeldaCore
import Testing

@testable import CeldaIngest

/// One tower reaching a prison and one in the city.
private enum World {
    static let prisonCell = CellID(mcc: 334, mnc: 20, lac: 100, ci: 1)
    static let cityCell = CellID(mcc: 334, mnc: 20, lac: 200, ci: 2)
    static let sites = SiteTable(
        towers: [
            Tower(cell: prisonCell, location: GeoPoint(lat: 19.421, lon: -99.75), rangeM: 1000),
            Tower(cell: cityCell, location: GeoPoint(lat: 19.43, lon: -99.13), rangeM: 1000),
        ],
        prisons: [
            Prison(id: "p1", name: "Penal Uno", location: GeoPoint(lat: 19.42, lon: -99.75), radiusM: 600)
        ])
    static let t0: EventTime = 1_768_800_000 * CivilTime.second

    struct Resolver: AlertResolver {
        func name(of party: Party) -> String { party.formatted ?? "?" }
        func callID(of ref: SourceRef) -> String { "c\(ref.line)" }
    }
}

@Suite struct FindingSpillTests {
    static func link(_ i: Int) -> VictimLink {
        VictimLink(
            victim: .e164(525_599_000_000 + UInt64(i % 97)), caller: .e164(525_500_000_000 + UInt64(i)),
            prison: i % 3, time: World.t0 + EventTime(i) * CivilTime.second,
            ref: SourceRef(input: i % 2, offset: i * 131, line: i + 2))
    }

    @Test func blocksComeBackInOrderBeforeWhatStayedInMemory() {
        let spill = FindingSpill()
        let all = (0..<1000).map(Self.link)
        #expect(spill.write(Array(all[0..<300])))
        #expect(spill.write(Array(all[300..<301])))
        #expect(spill.write(Array(all[301..<900])))
        #expect(spill.count == 900)
        #expect(spill.readAll(then: Array(all[900...])) == all)
        // Read back once: the file is closed, and an empty spill hands back just the rest.
        #expect(spill.count == 0)
        #expect(FindingSpill().readAll(then: Array(all[0..<5])) == Array(all[0..<5]))
    }

    @Test func anUnwritableDirectoryKeepsTheCallsInMemory() {
        let spill = FindingSpill(directory: "/nonexistent-celda-dir/x")
        #expect(!spill.write([Self.link(1)]))
        #expect(!spill.write([Self.link(2)]))
        #expect(spill.readAll(then: [Self.link(3)]) == [Self.link(3)])
    }

    /// Prison calls to many numbers over a day, with ring lines among them: spilled after every
    /// batch or never, on 1, 2 and 3 threads, the findings and the alerts are the same.
    @Test func spillingChangesNoFindingAndNoAlert() {
        var records: [CallRecord] = []
        var rng = SplitMix(7)
        for i in 0..<20_000 {
            let caller = 525_500_000_000 + rng.next() % 400
            let callee = 525_520_000_000 + rng.next() % 3_000
            let prison = rng.next() % 3 != 0
            let duration = Int(rng.next() % 4 == 0 ? rng.next() % 1_500 : 0)
            let at = i * 4 + Int(rng.next() % 600)
            records.append(
                CallRecord(
                    start: World.t0 + EventTime(at) * CivilTime.second, durationMs: UInt32(duration * 1000),
                    flags: duration > 0 ? .answered : [], caller: .e164(caller), callee: .e164(callee),
                    cell: prison ? World.prisonCell : World.cityCell,
                    source: SourceRef(input: 0, offset: i * 100, line: i + 2)))
        }
        // Three ring lines, each dialling 40 numbers in 20 minutes, then all calling one victim.
        for k in 0..<3 {
            let line = 525_500_100_000 + UInt64(k)
            for j in 0..<41 {
                let at = 30_000 + k * 2_000 + j * 30
                let callee = j == 40 ? 525_599_000_001 : 525_530_000_000 + UInt64(k * 1000 + j)
                records.append(
                    CallRecord(
                        start: World.t0 + EventTime(at) * CivilTime.second, durationMs: 0, flags: [],
                        caller: .e164(line), callee: .e164(callee), cell: World.prisonCell,
                        source: SourceRef(input: 1, offset: (k * 100 + j) * 100, line: k * 100 + j + 2)))
            }
        }
        records.sort { $0.start < $1.start }
        let st = DetectorSettings()
        func run(threads: Int, spillBlock: Int) -> (DetectorOutput, [Alert]) {
            let keyed: [any Detector] = [
                BurstDetector(config: st.burst), SequentialDetector(config: st.sequential),
                VictimDetector(config: st.victim),
            ]
            let stages: [any SecondStage] = [VictimStage(), KidnapStage(config: st.victim)]
            func engine() -> ParallelEngine {
                let e = ParallelEngine(
                    detectors: keyed, sites: World.sites, config: EngineConfig(), stages: stages,
                    allowlist: NumberList(), watchlist: NumberList(), threads: threads, spillBlock: spillBlock)
                for r in records { e.ingest(r) }
                return e
            }
            return (engine().finishFindings(), engine().finish())
        }
        let encoder = AlertEncoder(prisons: World.sites.prisons)
        func text(_ a: Alert) -> [UInt8] { encoder.encode(a, resolver: World.Resolver()) }
        let (reference, alerts) = run(threads: 1, spillBlock: .max)
        #expect(!alerts.isEmpty)
        #expect(reference.prisonCalls.count > 5_000)
        #expect(!reference.longCalls.isEmpty)
        for threads in [1, 2, 3] {
            let (found, spilledAlerts) = run(threads: threads, spillBlock: 1)
            #expect(found.prisonCalls == reference.prisonCalls)
            #expect(found.longCalls == reference.longCalls)
            #expect(spilledAlerts.map(text) == alerts.map(text))
        }
    }
}
