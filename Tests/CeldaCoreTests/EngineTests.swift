import CeldaCore
import Testing

/// Builders shared by the engine tests.
enum Fixture {
    static let prison = Prison(id: "p1", name: "Penal Uno", location: GeoPoint(lat: 19.42, lon: -99.75), radiusM: 600)
    static let prisonCell = CellID(mcc: 334, mnc: 20, lac: 100, ci: 1)
    static let cityCell = CellID(mcc: 334, mnc: 20, lac: 200, ci: 2)
    static let sites = SiteTable(
        towers: [
            Tower(cell: prisonCell, location: GeoPoint(lat: 19.421, lon: -99.75), rangeM: 1000),
            Tower(cell: cityCell, location: GeoPoint(lat: 19.43, lon: -99.13), rangeM: 1000),
        ], prisons: [prison])
    static let t0: EventTime = 1_768_800_000 * CivilTime.second

    static func call(
        _ i: Int, caller: UInt64, callee: UInt64, at seconds: Int, duration: Int = 0, cell: CellID = prisonCell
    ) -> CallRecord {
        CallRecord(
            start: t0 + EventTime(seconds) * CivilTime.second, durationMs: UInt32(duration * 1000),
            flags: duration > 0 ? .answered : [], caller: .e164(caller), callee: .e164(callee), cell: cell,
            source: SourceRef(input: 0, offset: i * 100, line: i + 2))
    }

    /// A ring line: `n` short calls to distinct numbers, one every `gap` seconds.
    static func ringCalls(
        caller: UInt64 = 525_500_000_001, n: Int, gap: Int = 120, cell: CellID = prisonCell
    ) -> [CallRecord] {
        (0..<n).map { i in
            call(
                i, caller: caller, callee: 525_511_000_000 + (caller % 1000) * 1000 + UInt64(i), at: i * gap,
                duration: i % 4 == 0 ? 20 : 0,
                cell: cell)
        }
    }

    static func run(
        _ records: [CallRecord], config: BurstConfig = .init(), maxDisorder: EventTime = 2 * CivilTime.hour
    )
        -> [Alert]
    {
        var ec = EngineConfig()
        ec.maxDisorder = maxDisorder
        var engine = Engine(detectors: [BurstDetector(config: config)], sites: sites, config: ec)
        for r in records { engine.ingest(r) }
        return engine.finish()
    }
}

/// SplitMix64, for reproducible orders (and generated text, `FastParseTests`).
struct OrderRandom {
    var s: UInt64
    mutating func next() -> UInt64 {
        s &+= 0x9E37_79B9_7F4A_7C15
        var z = s
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct ReorderBufferTests {
    @Test func releasesInEventOrderWhateverTheArrivalOrder() {
        var rng = SystemRandomNumberGenerator()
        let sorted = (0..<500).map {
            Fixture.call($0, caller: 525_500_000_000 + UInt64($0 % 7), callee: 1, at: $0 * 10)
        }
        // Shuffle within a 30-minute disorder.
        var arrival = sorted.map { ($0, $0.start + EventTime.random(in: 0...(30 * CivilTime.minute), using: &rng)) }
        arrival.sort { $0.1 < $1.1 }
        var buffer = ReorderBuffer(maxDisorder: CivilTime.hour)
        var out: [CallRecord] = []
        for (r, _) in arrival { buffer.push(r, into: &out) }
        buffer.flush(into: &out)
        #expect(out.map(\.start) == sorted.map(\.start))
        #expect(buffer.lateCount == 0)
    }

    /// The heap-free calendar against a plain model of the contract: after each push, every held
    /// record not after the watermark goes out in `precedes` order; a record before the watermark
    /// goes out at once (flagged when something later went out already).
    @Test(arguments: [1, 2, 3, 4, 5])
    func matchesTheOrderModel(seed: UInt64) {
        var rng = OrderRandom(s: seed)
        let disorder = EventTime(rng.next() % 3 + 1) * 20 * CivilTime.minute
        var buffer = ReorderBuffer(maxDisorder: disorder)
        var held: [CallRecord] = []
        var maxSeen = EventTime.min
        var released = EventTime.min
        var expected: [CallRecord] = []
        var got: [CallRecord] = []
        var late = 0
        var t: EventTime = 1_000 * CivilTime.hour
        for i in 0..<3_000 {
            // Bursts at whole seconds (ties), sub-second stamps, jumps, and records far behind.
            switch rng.next() % 10 {
            case 0: t += EventTime(rng.next() % 4) * CivilTime.hour
            case 1: t += EventTime(rng.next() % 1_000_000)
            default: t += EventTime(rng.next() % 3) * CivilTime.second
            }
            let back = rng.next() % 7 == 0 ? EventTime(rng.next() % UInt64(2 * disorder)) : 0
            let r = Fixture.call(i, caller: 525_500_000_000 + rng.next() % 5, callee: 1 + rng.next() % 3, at: 0)
            var rec = r
            rec.start = t - back
            rec.durationMs = UInt32(rng.next() % 4)
            buffer.push(rec, into: &got)
            let w = maxSeen == .min ? EventTime.min : maxSeen - disorder
            if rec.start < w {
                late += 1
                var x = rec
                if rec.start < released { x.flags.insert(.late) } else { released = rec.start }
                expected.append(x)
                continue
            }
            maxSeen = max(maxSeen, rec.start)
            held.append(rec)
            held.sort(by: CallRecord.precedes)
            let w2 = maxSeen - disorder
            while let first = held.first, first.start <= w2 {
                expected.append(first)
                released = first.start
                held.removeFirst()
            }
        }
        buffer.flush(into: &got)
        expected += held
        #expect(got == expected)
        #expect(buffer.lateCount == late)
    }

    @Test func lateRecordsAreFlaggedAndKept() {
        var buffer = ReorderBuffer(maxDisorder: 60 * CivilTime.second)
        var out: [CallRecord] = []
        buffer.push(Fixture.call(0, caller: 1, callee: 2, at: 0), into: &out)
        buffer.push(Fixture.call(1, caller: 1, callee: 2, at: 3600), into: &out)
        buffer.push(Fixture.call(2, caller: 1, callee: 2, at: 100), into: &out)  // late, still in order
        buffer.push(Fixture.call(3, caller: 1, callee: 2, at: 50), into: &out)  // late and out of order
        buffer.flush(into: &out)
        #expect(out.count == 4)
        #expect(buffer.lateCount == 2)
        #expect(out.filter { $0.flags.contains(.late) }.map(\.source.line) == [5])
    }
}

@Suite struct BurstDetectorTests {
    /// Reciprocity: when the numbers a ring line called call it back, it is a business, not a
    /// ring, and there is no alert. Calls to the line from numbers it never called do not count.
    /// (A call back is found through the window's callee bits, then the window itself.)
    @Test func calleesCallingBackSuppressTheAlert() {
        let line: UInt64 = 525_500_000_001
        let ring = Fixture.ringCalls(caller: line, n: 40)
        let back = ring.enumerated().map { i, r in
            Fixture.call(100 + i, caller: r.callee.raw, callee: line, at: i * 120 + 60, duration: 30)
        }
        #expect(back.allSatisfy { b in ring.contains { $0.callee == b.caller } })
        #expect(Fixture.run(ring + back).isEmpty)
        let strangers = (0..<40).map { i in
            Fixture.call(200 + i, caller: 525_599_000_000 + UInt64(i), callee: line, at: i * 120 + 60, duration: 30)
        }
        let alerts = Fixture.run(ring + strangers)
        #expect(alerts.count == 1)
        #expect(alerts.first?.metrics.contains { $0.0 == "reciprocity" && $0.1 == .number(0) } == true)
    }

    @Test func ringLineOnPrisonTowerIsHighOrCritical() throws {
        let alerts = Fixture.run(Fixture.ringCalls(n: 40))
        #expect(alerts.count == 1)
        let a = try #require(alerts.first)
        #expect(a.detector == "burst")
        #expect(a.severity >= .high)
        #expect(a.entity == .line(.e164(525_500_000_001)))
        #expect(a.prison?.index == 0)
        #expect(a.prison?.distanceM == 0)
        #expect(a.detectedAt == a.windowEnd)
        #expect(a.windowEnd - a.windowStart == 60 * CivilTime.minute)
        #expect(a.evidenceTotal == 20)
        #expect(a.evidence.count == 20)
        #expect(a.towers == [Fixture.prisonCell])
        #expect(a.score >= 0 && a.score <= 1)
        #expect(a.reasons.contains { $0.contains("Penal Uno") })
    }

    /// Window entries keep only a key for the cell of an unlocated call; the alert still names
    /// those cells, next to the located ones, busiest first.
    @Test func unlocatedCellsAreNamedInTheTowers() throws {
        let unknownA = CellID(mcc: 334, mnc: 20, lac: 9, ci: 9)
        let unknownB = CellID(mcc: 334, mnc: 20, lac: 9, ci: 10)
        var calls = Fixture.ringCalls(n: 40)
        for i in calls.indices where i % 4 == 1 { calls[i].cell = unknownA }
        for i in calls.indices where i % 4 == 3 { calls[i].cell = unknownB }
        let alerts = Fixture.run(calls)
        let a = try #require(alerts.first { $0.detector == "burst" })
        #expect(Set(a.towers) == [Fixture.prisonCell, unknownA, unknownB])
        #expect(a.towers.first == Fixture.prisonCell)
    }

    @Test func unlinkedBurstIsAtMostMedium() throws {
        let alerts = Fixture.run(Fixture.ringCalls(n: 40, cell: Fixture.cityCell))
        let a = try #require(alerts.first)
        #expect(a.severity <= .medium)
        #expect(a.prison == nil)
    }

    @Test func dispatcherCallingFewDriversIsNotFlagged() {
        let calls = (0..<60).map { i in
            Fixture.call(i, caller: 525_500_000_009, callee: 525_522_000_000 + UInt64(i % 8), at: i * 60, duration: 25)
        }
        #expect(Fixture.run(calls).isEmpty)
    }

    @Test func answeredLongCallsAreNotFlagged() {
        // A call centre: many distinct customers, mostly answered conversations of minutes.
        let calls = (0..<80).map { i in
            Fixture.call(
                i, caller: 525_500_000_010, callee: 525_533_000_000 + UInt64(i), at: i * 45,
                duration: i % 4 == 0 ? 0 : 240)
        }
        #expect(Fixture.run(calls).isEmpty)
    }

    @Test func slowLineIsCaughtByTheLongWindowOnly() throws {
        // 9 calls an hour: under the hourly rule, caught by the 8-hour low-and-slow rule.
        let alerts = Fixture.run(Fixture.ringCalls(n: 40, gap: 400))
        let a = try #require(alerts.first)
        #expect(alerts.count == 1)
        #expect(a.windowEnd - a.windowStart == 8 * CivilTime.hour)
        #expect(a.severity >= .high)
        #expect(a.reasons[0].contains("steady low rate"))
        // Away from a prison the long rule does not apply.
        #expect(Fixture.run(Fixture.ringCalls(n: 40, gap: 400, cell: Fixture.cityCell)).isEmpty)
    }

    @Test func cooldownSuppressesRepeatsAndExpires() {
        // 10 hours at 30 calls an hour: one alert, then one more after the 6-hour cooldown.
        let alerts = Fixture.run(Fixture.ringCalls(n: 300, gap: 120))
        #expect(alerts.count == 2)
        if alerts.count == 2 { #expect(alerts[1].detectedAt - alerts[0].detectedAt >= 6 * CivilTime.hour) }
    }

    @Test func thresholdsAreConfigurable() {
        var c = BurstConfig()
        c.minCalls = 50
        c.minDistinctCallees = 45
        c.slowMinCalls = 100
        #expect(Fixture.run(Fixture.ringCalls(n: 30), config: c).isEmpty)
    }

    /// Oracle: the detector's first firing equals a brute-force scan of every window.
    @Test func firstFiringMatchesBruteForce() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            var t = 0
            var calls: [CallRecord] = []
            for i in 0..<120 {
                t += Int.random(in: 30...400, using: &rng)
                let callee = Bool.random(using: &rng) ? UInt64(i) : UInt64.random(in: 0...5, using: &rng)
                let duration = Int.random(in: 0...10, using: &rng) < 7 ? 0 : Int.random(in: 5...300, using: &rng)
                calls.append(
                    Fixture.call(
                        i, caller: 525_500_000_001, callee: 525_540_000_000 + callee, at: t, duration: duration))
            }
            var c = BurstConfig()
            c.slowMinCalls = .max
            var expected: EventTime?
            for (k, r) in calls.enumerated() {
                let window = calls[0...k].filter { $0.start > r.start - c.window }
                let n = window.count
                let distinct = Set(window.map(\.callee)).count
                let short = window.filter { $0.durationMs < UInt32(c.shortCallSeconds * 1000) }.count
                let answered = window.filter(\.answered).count
                if n >= c.minCalls, distinct >= c.minDistinctCallees,
                    Double(distinct) / Double(n) >= c.minDistinctShare,
                    Double(short) / Double(n) >= c.minShortShare, Double(answered) / Double(n) <= c.maxAnswerRatio
                {
                    expected = r.start
                    break
                }
            }
            let alerts = Fixture.run(calls, config: c)
            #expect(alerts.first?.detectedAt == expected)
        }
    }

    @Test func callEndOrderGivesTheSameAlertsAsStartOrder() {
        let ring = Fixture.ringCalls(n: 80, gap: 90)
        let other = Fixture.ringCalls(caller: 525_500_000_002, n: 50, gap: 100)
        let sorted = (ring + other).sorted { CallRecord.precedes($0, $1) }
        let byEnd = sorted.sorted {
            ($0.start + EventTime($0.durationMs) * 1000, $0.source) < (
                $1.start + EventTime($1.durationMs) * 1000, $1.source
            )
        }
        let a = Fixture.run(sorted).map { "\($0.id) \($0.detectedAt) \($0.evidence.map(\.line))" }
        let b = Fixture.run(byEnd).map { "\($0.id) \($0.detectedAt) \($0.evidence.map(\.line))" }
        #expect(a == b)
        #expect(a.count == 2)
    }

    @Test func shardedEngineGivesTheSameAlerts() {
        let records = (0..<10).flatMap { k in
            Fixture.ringCalls(caller: 525_500_000_100 + UInt64(k), n: 30 + k, gap: 100)
        }
        .sorted { CallRecord.precedes($0, $1) }
        func run(shards: Int) -> [String] {
            var ec = EngineConfig()
            ec.shards = shards
            var engine = Engine(detectors: [BurstDetector()], sites: Fixture.sites, config: ec)
            for r in records { engine.ingest(r) }
            return engine.finish().map(\.id).sorted()
        }
        let one = run(shards: 1)
        #expect(one.count == 10)
        #expect(run(shards: 3) == one)
        #expect(run(shards: 7) == one)
    }

    /// The lanes' ownership table says what the partition rule says, for every key, lane and
    /// shard tried, and the lanes of one process split its keys without overlap.
    @Test func laneRouteMatchesThePartitionRule() {
        var x: UInt64 = 0x1234_5678
        let keys = (0..<20_000).map { _ -> UInt64 in
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return x >> 1 | 1
        }
        for partition in [KeyPartition.whole, KeyPartition(part: 1, parts: 3), KeyPartition(part: 6, parts: 7)] {
            for lanes in [1, 2, 3, 5] {
                let routes = (0..<lanes).map { LaneRoute(lane: $0, lanes: lanes, partition: partition) }
                var mismatches = 0
                for k in keys {
                    let owners = routes.indices.filter { routes[$0].owns(k) }
                    let rule = partition.lane(of: k, lanes: lanes)
                    if owners != (rule.map { [$0] } ?? []) { mismatches += 1 }
                }
                #expect(mismatches == 0, "partition \(partition.part)/\(partition.parts), \(lanes) lanes")
            }
        }
        // Every key is the one lane's when there is one lane and one process.
        #expect(LaneRoute(lane: 0, lanes: 1, partition: .whole).everything)
        #expect(!LaneRoute(lane: 0, lanes: 2, partition: .whole).everything)
    }

    @Test func idleLinesAreEvicted() {
        var records: [CallRecord] = []
        for k in 0..<200 {
            records.append(Fixture.call(k, caller: 525_560_000_000 + UInt64(k), callee: 1, at: k * 30))
        }
        // A day later, one more call advances event time past every window and cooldown.
        records.append(Fixture.call(999, caller: 525_569_999_999, callee: 1, at: 86_400))
        records.append(Fixture.call(1000, caller: 525_569_999_999, callee: 1, at: 2 * 86_400))
        var engine = Engine(detectors: [BurstDetector()], sites: Fixture.sites, config: EngineConfig())
        for r in records { engine.ingest(r) }
        #expect(engine.keyCount < 10)
    }
}

/// A resolver for tests: parties by their formatted number, call ids `c<line>`.
struct TestResolver: AlertResolver {
    func name(of party: Party) -> String { party.formatted ?? "?" }
    func callID(of ref: SourceRef) -> String { "c\(ref.line)" }
}

@Suite struct AlertEncoderTests {
    @Test func goldenLine() {
        let a = Alert(
            detector: "burst", severity: .high, score: 0.934, entity: .line(.e164(525_512_345_678)),
            windowStart: 1_768_921_200 * CivilTime.second, windowEnd: 1_768_924_872 * CivilTime.second,
            detectedAt: 1_768_924_872 * CivilTime.second, prison: AlertPrison(index: 0, distanceM: 411.6),
            towers: [CellID(mcc: 334, mnc: 20, lac: 1234, ci: 56789)],
            metrics: [("calls", .int(47)), ("short_call_share", .number(0.8936)), ("answer_ratio", .number(0.31))],
            reasons: ["47 calls \"quoted\"\nnext"], evidence: [SourceRef(input: 0, offset: 0, line: 123)],
            evidenceTotal: 47,
            related: [.victim(.e164(525_599_999_999))])
        let line = String(
            decoding: AlertEncoder(prisons: [Fixture.prison]).encode(a, resolver: TestResolver()), as: UTF8.self)
        let golden = """
            {"schema":"celda.alert.v1","id":"\(a.id)","detector":"burst","severity":"high","score":0.93,\
            "entity":{"kind":"line","id":"+525512345678"},\
            "window":{"start":"2026-01-20T15:00:00Z","end":"2026-01-20T16:01:12Z"},"detected_at":"2026-01-20T16:01:12Z",\
            "prison":{"id":"p1","name":"Penal Uno","distance_m":412},"towers":["334-020-1234-56789"],\
            "metrics":{"calls":47,"short_call_share":0.894,"answer_ratio":0.31},\
            "reasons":["47 calls \\"quoted\\"\\nnext"],"evidence":{"call_ids":["c123"],"total":47},\
            "related":[{"kind":"victim","id":"+525599999999"}]}

            """
        #expect(line == golden)
    }

    @Test func idIsStableAndDependsOnEntityAndWindow() {
        func alert(_ caller: UInt64, _ start: EventTime) -> Alert {
            Alert(
                detector: "burst", severity: .low, score: 0, entity: .line(.e164(caller)), windowStart: start,
                windowEnd: start,
                detectedAt: start, prison: nil, towers: [], metrics: [], reasons: [], evidence: [], evidenceTotal: 0,
                related: [])
        }
        #expect(alert(1, 0).id == alert(1, 0).id)
        #expect(alert(1, 0).id != alert(2, 0).id)
        #expect(alert(1, 0).id != alert(1, 1).id)
        #expect(alert(1, 0).id.count == 16)
    }
}
