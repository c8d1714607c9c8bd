import Testing

@testable import CeldaCore

/// Runs every detector over records (sorted), with the second stages.
func runAll(
    _ records: [CallRecord], settings: DetectorSettings = DetectorSettings(), allow: NumberList = NumberList(),
    watch: NumberList = NumberList()
) -> [Alert] {
    let st = settings
    let detectors: [any Detector] =
        BurstDetector.lineDetectors(burst: st.burst, sequential: st.sequential) + [
            VictimDetector(config: st.victim), TowerSurgeDetector(config: st.towerSurge),
            SimChurnDetector(mode: .device, config: st.simChurn), SimChurnDetector(mode: .line, config: st.simChurn),
            WatchlistDetector(config: st.watchlist),
        ]
    var engine = Engine(
        detectors: detectors, sites: Fixture.sites, config: EngineConfig(),
        stages: [VictimStage(), AllianceStage(config: st.alliance)], allowlist: allow, watchlist: watch)
    for r in records.sorted(by: { CallRecord.precedes($0, $1) }) { engine.ingest(r) }
    return engine.finish()
}

@Suite struct SequentialTests {
    @Test func longestRunAllowsSmallGapsAndDuplicates() {
        var xs: [UInt64] = [100, 101, 101, 103, 110, 200, 201, 202, 203, 204]
        let r = SequentialDetector.longestRun(&xs, maxGap: 3)
        #expect(r.length == 5)
        #expect(r.first == 200 && r.last == 204)
    }

    @Test func dialingDownAListIsFlagged() throws {
        let calls = (0..<12).map { i in
            Fixture.call(i, caller: 525_500_000_077, callee: 525_512_340_000 + UInt64(i * 2), at: i * 200, duration: 30)
        }
        let alerts = runAll(calls).filter { $0.detector == "sequential" }
        let a = try #require(alerts.first)
        #expect(a.entity == .line(.e164(525_500_000_077)))
        #expect(a.severity >= .high)
        #expect(a.reasons[0].contains("consecutive"))
    }

    @Test func randomCalleesAreNot() {
        let calls = (0..<30).map { i in
            Fixture.call(
                i, caller: 525_500_000_078, callee: 525_512_340_000 + UInt64(i * 7919), at: i * 100, duration: 30)
        }
        #expect(runAll(calls).filter { $0.detector == "sequential" }.isEmpty)
    }
}

/// `burst` running the `sequential` rule over its own windows against the two detectors apart.
@Suite struct LineRulesTogetherTests {
    /// Lines dialling lists down (some with calls to text and short numbers among them, some from
    /// the city), busy lines calling at random, calls back, out of order by up to `spread`.
    static func calls(seed: UInt64, spread: Int) -> [CallRecord] {
        var rng = OrderRandom(s: seed)
        var out: [CallRecord] = []
        var i = 0
        for line in 0..<12 {
            let caller: UInt64 = 525_500_100_000 + UInt64(line)
            var t = Int(rng.next() % 3_600)
            var next: UInt64 = 525_512_000_000 + UInt64(line) * 10_000
            for _ in 0..<(40 + Int(rng.next() % 80)) {
                t += 20 + Int(rng.next() % 400)
                let kind = rng.next() % 10
                var r = Fixture.call(
                    i, caller: caller, callee: 0, at: t, duration: Int(rng.next() % 5) == 0 ? 90 : 0,
                    cell: line % 3 == 2 || kind == 9 ? Fixture.cityCell : Fixture.prisonCell)
                switch kind {
                case 0: r.callee = .text(hash: rng.next())
                case 1: r.callee = .digitString(rng.next() % 1_000, length: 3)
                case 2: r.callee = .e164(525_599_000_000 + rng.next() % 40)
                default:
                    next += 1 + rng.next() % (line % 4 == 3 ? 30 : 4)
                    r.callee = .e164(next)
                }
                out.append(r)
                i += 1
                // Some callees call back.
                if rng.next() % 7 == 0, r.callee.isE164 {
                    out.append(Fixture.call(i, caller: r.callee.raw, callee: caller, at: t + 30, duration: 40))
                    i += 1
                }
            }
        }
        // Arrival order: each call moved by up to `spread` seconds.
        var keyed = out.map { ($0, $0.start + EventTime(rng.next() % UInt64(spread + 1)) * CivilTime.second) }
        keyed.sort { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0.source.line < $1.0.source.line }
        return keyed.map(\.0)
    }

    static func log(_ detectors: [any Detector], _ records: [CallRecord], maxDisorder: EventTime) -> [String] {
        var ec = EngineConfig()
        ec.maxDisorder = maxDisorder
        var engine = Engine(detectors: detectors, sites: Fixture.sites, config: ec)
        for r in records { engine.ingest(r) }
        let encoder = AlertEncoder(prisons: [Fixture.prison])
        return engine.finish().map { String(decoding: encoder.encode($0, resolver: TestResolver()), as: UTF8.self) }
    }

    @Test(arguments: [(1, 0), (2, 600), (3, 5_400), (4, 5_400)])
    func givesTheAlertsOfTheTwoDetectors(seed: UInt64, spread: Int) throws {
        var burst = BurstConfig()
        burst.minCalls = 12
        burst.minDistinctCallees = 8
        burst.cooldown = 90 * CivilTime.minute
        var sequential = SequentialConfig()
        sequential.minRun = 6
        sequential.cooldown = seed % 2 == 0 ? 20 * CivilTime.minute : 9 * CivilTime.hour
        let records = Self.calls(seed: seed, spread: spread)
        // Seeds 3 and 4 have records later than the allowed disorder.
        let disorder = seed >= 3 ? 30 * CivilTime.minute : 2 * CivilTime.hour
        let together = BurstDetector.lineDetectors(burst: burst, sequential: sequential)
        try #require(together.count == 1)
        let apart: [any Detector] = [BurstDetector(config: burst), SequentialDetector(config: sequential)]
        let a = Self.log(together, records, maxDisorder: disorder)
        let b = Self.log(apart, records, maxDisorder: disorder)
        #expect(a == b)
        #expect(a.filter { $0.contains(#""detector":"sequential""#) }.count >= 5)
        #expect(a.contains { $0.contains(#""detector":"burst""#) })
    }

    /// A line that dials a list, falls quiet for longer than the window and dials another within
    /// the sequential cooldown: kept for that cooldown though `burst` alone would drop it.
    @Test func aQuietLineKeepsTheSequentialCooldown() {
        let caller: UInt64 = 525_500_200_000
        var calls: [CallRecord] = []
        for (k, start) in [0, 3 * 3_600].enumerated() {
            for i in 0..<8 {
                calls.append(
                    Fixture.call(
                        k * 8 + i, caller: caller, callee: 525_513_000_000 + UInt64(k * 100 + i), at: start + i * 60,
                        cell: Fixture.cityCell))
            }
        }
        // Another line's calls every 20 minutes move the watermark (and the sweeps) along.
        for k in 0..<36 {
            calls.append(
                Fixture.call(100 + k, caller: 525_500_200_001, callee: 525_514_000_000 + UInt64(k * 977), at: k * 1_200)
            )
        }
        calls.sort { CallRecord.precedes($0, $1) }
        let together = Self.log(
            BurstDetector.lineDetectors(burst: BurstConfig(), sequential: SequentialConfig()), calls,
            maxDisorder: CivilTime.hour)
        let apart = Self.log([BurstDetector(), SequentialDetector()], calls, maxDisorder: CivilTime.hour)
        #expect(together == apart)
        #expect(apart.count == 1)
    }

    @Test func differentWindowsKeepTwoDetectors() {
        var sequential = SequentialConfig()
        sequential.window = 30 * CivilTime.minute
        let d = BurstDetector.lineDetectors(burst: BurstConfig(), sequential: sequential)
        #expect(d.count == 2)
        #expect(d.map(\.name) == ["burst", "sequential"])
    }
}

@Suite struct VictimTests {
    /// Three ring lines (each a burst) of which two then chase one number.
    static func chase(extraCallers: Int = 0) -> [CallRecord] {
        var out: [CallRecord] = []
        for k in 0..<3 { out += Fixture.ringCalls(caller: 525_500_001_000 + UInt64(k), n: 30, gap: 100) }
        let victim: UInt64 = 525_599_000_001
        for k in 0..<3 {
            out.append(Fixture.call(900 + k, caller: 525_500_001_000 + UInt64(k), callee: victim, at: 4000 + k * 600))
        }
        for k in 0..<extraCallers {
            out.append(
                Fixture.call(
                    2000 + k, caller: 525_533_000_000 + UInt64(k), callee: victim, at: 3000 + k, cell: Fixture.cityCell)
            )
        }
        return out
    }

    @Test func chasedNumberIsAVictimWithItsCallers() throws {
        let alerts = runAll(Self.chase()).filter { $0.detector == "victim" }
        let a = try #require(alerts.first)
        #expect(a.entity == .victim(.e164(525_599_000_001)))
        #expect(a.related.count == 3)
        #expect(a.severity >= .high)
        #expect(a.reasons.last!.contains("flagged as extortion lines"))
    }

    @Test func aPopularNumberIsNotAVictim() {
        // A radio call-in number: the same three prison lines, but hundreds of others too.
        #expect(runAll(Self.chase(extraCallers: 200)).filter { $0.detector == "victim" }.isEmpty)
    }

    /// A number's callers count within the 48-hour window only: lines that rang it two days
    /// before the chase do not make it look popular.
    @Test func callersOutsideTheWindowDoNotCount() throws {
        let victim: UInt64 = 525_599_000_002
        let hour = 3600
        var calls: [CallRecord] = []
        // A prison-linked line keeps calling it (answered: no repeat chase)...
        for (j, at) in [0, 20 * hour, 40 * hour].enumerated() {
            calls.append(Fixture.call(5000 + j, caller: 525_500_009_000, callee: victim, at: at, duration: 60))
        }
        // ...30 city lines call it in the first hour...
        for k in 0..<30 {
            calls.append(
                Fixture.call(
                    6000 + k, caller: 525_533_100_000 + UInt64(k), callee: victim, at: 60 + k, cell: Fixture.cityCell))
        }
        // ...and 55 hours later three ring lines chase it.
        let later = EventTime(55 * hour) * CivilTime.second
        for k in 0..<3 {
            let line = 525_500_001_000 + UInt64(k)
            calls += Fixture.ringCalls(caller: line, n: 30, gap: 100).map { r in
                var r = r
                r.start += later
                return r
            }
            calls.append(Fixture.call(900 + k, caller: line, callee: victim, at: 55 * hour + 4000 + k * 600))
        }
        let a = try #require(runAll(calls).first { $0.detector == "victim" && $0.entity == .victim(.e164(victim)) })
        // Every caller in the window is a prison-linked line (counting the 30 city lines, prison
        // lines would be under a quarter of the callers and the number popular).
        let lines = a.metrics.first { $0.0 == "prison_lines" }?.1
        #expect(a.metrics.first { $0.0 == "callers_total" }?.1 == lines)
    }

    /// A number is watched while prison-linked calls to it are in the window: ordinary calls alone
    /// do not keep its state (so state is bounded by time, however long the dump).
    @Test func aNumberIsWatchedOnlyWhilePrisonCallsReachIt() {
        let victim: UInt64 = 525_599_000_003
        var detector = VictimDetector()
        let context = DetectorContext(sites: Fixture.sites, allowlist: NumberList(), watchlist: NumberList())
        var out = DetectorOutput()
        func feed(_ call: CallRecord) -> Int {
            var r = call
            Fixture.sites.locate(&r)
            detector.advance(to: r.start, context: context, output: &out)
            detector.observe(r, role: .primary, context: context, output: &out)
            return detector.keyCount
        }
        #expect(feed(Fixture.call(1, caller: 525_500_009_001, callee: victim, at: 0)) == 1)
        // City calls to it every 6 hours for four days: watched for the first two only.
        var held: [Int] = []
        for k in 1...16 {
            held.append(
                feed(
                    Fixture.call(
                        10 + k, caller: 525_533_200_000 + UInt64(k), callee: victim, at: k * 6 * 3600,
                        cell: Fixture.cityCell)))
        }
        #expect(held.prefix(7).allSatisfy { $0 == 1 })
        #expect(held.suffix(7).allSatisfy { $0 == 0 })
    }

    /// The popularity slot's watched flag is set for exactly the numbers that have a state, as
    /// numbers start and stop being watched and popularity entries decay away, and the detector
    /// trusts it to skip the state lookup.
    @Test(arguments: [1, 2])
    func theWatchedFlagIsExactlyTheNumbersWithAState(seed: UInt64) {
        var rng = OrderRandom(s: seed)
        var detector = VictimDetector()
        let context = DetectorContext(sites: Fixture.sites, allowlist: NumberList(), watchlist: NumberList())
        var out = DetectorOutput()
        var t = 0
        var watchedAtSomePoint = 0
        for i in 0..<4_000 {
            // Minutes to hours apart, over several days (sweeps drop states and popularity).
            t += rng.next() % 20 == 0 ? 3_600 * Int(1 + rng.next() % 30) : Int(rng.next() % 300)
            var r = Fixture.call(
                i, caller: 525_500_300_000 + rng.next() % 40, callee: 525_599_100_000 + rng.next() % 60, at: t,
                cell: rng.next() % 4 == 0 ? Fixture.prisonCell : Fixture.cityCell)
            Fixture.sites.locate(&r)
            detector.advance(to: r.start, context: context, output: &out)
            detector.observe(r, role: .primary, context: context, output: &out)
            // Every 25 calls (the check reads the whole popularity table).
            if i % 25 == 0 { #expect(detector.watchedAreTheStates(), "after call \(i)") }
            watchedAtSomePoint = max(watchedAtSomePoint, detector.keyCount)
        }
        detector.finish(context: context, output: &out)
        #expect(detector.watchedAreTheStates())
        #expect(detector.keyCount == 0)
        #expect(watchedAtSomePoint > 10)
    }

    /// A number's popularity that has decayed to nothing counts from then on like a new one's,
    /// which is what lets a sweep drop it (once an epoch) without changing any count.
    @Test func aDecayedPopularityCountsLikeANewOne() {
        var rng = OrderRandom(s: 7)
        for _ in 0..<2_000 {
            var old = VictimDetector.Popularity()
            var e = Int32(truncatingIfNeeded: Int64(rng.next() % 2_000) - 1_000)
            for _ in 0..<(1 + rng.next() % 40) { old.add(at: e) }
            // Later: the count has halved away.
            e += Int32(1 + rng.next() % 40)
            guard old.decayed(to: e) == 0 else { continue }
            var new = VictimDetector.Popularity()
            for _ in 0..<(rng.next() % 20) {
                e += Int32(rng.next() % 3)
                old.add(at: e)
                new.add(at: e)
                #expect(old.decayed(to: e) == new.decayed(to: e))
                #expect(old.decayed(to: e + 1) == new.decayed(to: e + 1))
            }
        }
    }

    @Test func neighboursCallingFamilyAreNotVictimAlerts() {
        // Three ordinary lines on the prison tower calling the same relative, a few calls each.
        var calls: [CallRecord] = []
        for k in 0..<3 {
            for j in 0..<3 {
                calls.append(
                    Fixture.call(
                        k * 10 + j, caller: 525_544_000_000 + UInt64(k), callee: 525_566_000_000,
                        at: k * 900 + j * 3000, duration: 120))
            }
        }
        #expect(runAll(calls).isEmpty)
    }
}

@Suite struct SimChurnTests {
    @Test func oneHandsetManyLinesAndOneLineManyHandsets() throws {
        var calls: [CallRecord] = []
        for k in 0..<4 {
            var r = Fixture.call(
                k, caller: 525_500_002_000 + UInt64(k), callee: 525_511_000_000 + UInt64(k), at: k * 3600)
            r.imei = 356_000_000_000_001
            calls.append(r)
        }
        for k in 0..<3 {
            var r = Fixture.call(
                10 + k, caller: 525_500_003_000, callee: 525_512_000_000 + UInt64(k), at: 20_000 + k * 3600)
            r.imei = 357_000_000_000_001 + UInt64(k)
            calls.append(r)
        }
        let alerts = runAll(calls).filter { $0.detector == "sim-churn" }
        #expect(alerts.contains { $0.entity == .device(356_000_000_000_001) && $0.related.count == 3 })
        #expect(alerts.contains { $0.entity == .line(.e164(525_500_003_000)) })
    }

    @Test func dualSimPhoneIsNot() {
        var calls: [CallRecord] = []
        for k in 0..<10 {
            var r = Fixture.call(k, caller: 525_500_004_000 + UInt64(k % 2), callee: 525_511_000_000, at: k * 3600)
            r.imei = 358_000_000_000_001
            calls.append(r)
        }
        #expect(runAll(calls).filter { $0.detector == "sim-churn" }.isEmpty)
    }
}

@Suite struct TowerSurgeTests {
    @Test func jammerOffSurgeAgainstTheSameHourOfEarlierDays() throws {
        var calls: [CallRecord] = []
        var i = 0
        // Four days of 6 calls an hour from a handful of lines, then 80 calls in one hour from many.
        for hour in 0..<(4 * 24) {
            for k in 0..<6 {
                calls.append(
                    Fixture.call(
                        i, caller: 525_540_000_000 + UInt64(k), callee: 525_512_000_000 + UInt64(i % 50),
                        at: hour * 3600 + k * 500, duration: 60))
                i += 1
            }
        }
        let surgeHour = 3 * 24 + 11
        for k in 0..<80 {
            calls.append(
                Fixture.call(
                    i, caller: 525_560_000_000 + UInt64(k), callee: 525_513_000_000 + UInt64(k),
                    at: surgeHour * 3600 + k * 40, duration: 20))
            i += 1
        }
        let alerts = runAll(calls).filter { $0.detector == "tower-surge" }
        #expect(alerts.count == 1)
        let a = try #require(alerts.first)
        #expect(a.entity == .tower(Fixture.prisonCell))
        #expect(a.windowStart == Fixture.t0 / CivilTime.hour * CivilTime.hour + EventTime(surgeHour) * CivilTime.hour)
        #expect(a.windowEnd - a.windowStart == CivilTime.hour)
        #expect(a.severity >= .high)
    }

    @Test func aBusinessOpeningOnTheFirstDayIsNotASurge() {
        // One day only: no baseline of the same hour, so nothing is judged.
        let calls = (0..<200).map {
            Fixture.call($0, caller: 525_570_000_000 + UInt64($0 % 30), callee: 1, at: 9 * 3600 + $0 * 15)
        }
        #expect(runAll(calls).filter { $0.detector == "tower-surge" }.isEmpty)
    }
}

@Suite struct ListsTests {
    @Test func watchlistFlagsCallsFromAndToAKnownNumber() throws {
        var watch = NumberList()
        watch.add(.e164(525_588_888_888))
        let calls = [
            Fixture.call(0, caller: 525_588_888_888, callee: 525_511_111_111, at: 0, cell: Fixture.cityCell),
            Fixture.call(1, caller: 525_522_222_222, callee: 525_588_888_888, at: 60, cell: Fixture.cityCell),
        ]
        let alerts = runAll(calls, watch: watch).filter { $0.detector == "watchlist" }
        #expect(alerts.count == 1)  // one alert per number within the cooldown
        #expect(alerts.first?.entity == .line(.e164(525_588_888_888)))
    }

    @Test func allowlistedLinesAreNeverAlerted() {
        var allow = NumberList()
        allow.addPrefix(digits: 5255000, count: 7)
        #expect(allow.contains(.e164(525_500_000_001)))
        #expect(!allow.contains(.e164(525_510_000_001)))
        #expect(runAll(Fixture.ringCalls(n: 40), allow: allow).isEmpty)
        #expect(!runAll(Fixture.ringCalls(n: 40)).isEmpty)
    }
}

@Suite struct AllianceTests {
    @Test func ringsOfTwoPrisonsSharingVictims() throws {
        let second = Prison(id: "p2", name: "Penal Dos", location: GeoPoint(lat: 20.0, lon: -100.0), radiusM: 600)
        let cell2 = CellID(mcc: 334, mnc: 20, lac: 300, ci: 3)
        let sites = SiteTable(
            towers: [
                Tower(cell: Fixture.prisonCell, location: GeoPoint(lat: 19.421, lon: -99.75), rangeM: 1000),
                Tower(cell: cell2, location: GeoPoint(lat: 20.001, lon: -100.0), rangeM: 1000),
            ], prisons: [Fixture.prison, second])
        var calls: [CallRecord] = []
        calls += Fixture.ringCalls(caller: 525_500_005_001, n: 30, gap: 100)
        calls += Fixture.ringCalls(caller: 525_500_005_002, n: 30, gap: 100, cell: cell2)
        for (k, v) in [525_597_000_001, 525_597_000_002, 525_597_000_003].enumerated() {
            calls.append(Fixture.call(500 + k, caller: 525_500_005_001, callee: UInt64(v), at: 3500 + k * 60))
            calls.append(
                Fixture.call(600 + k, caller: 525_500_005_002, callee: UInt64(v), at: 3600 + k * 60, cell: cell2))
        }
        let st = DetectorSettings()
        var engine = Engine(
            detectors: [BurstDetector(config: st.burst), VictimDetector(config: st.victim)], sites: sites,
            config: EngineConfig(), stages: [VictimStage(), AllianceStage()])
        for r in calls.sorted(by: { CallRecord.precedes($0, $1) }) { engine.ingest(r) }
        let alliance = try #require(engine.finish().first { $0.detector == "alliance" })
        #expect(alliance.entity == .prisonPair("p1|p2"))
        #expect(alliance.metrics.first { $0.0 == "shared_victims" }?.1 == .int(3))
        #expect(alliance.related.filter { if case .victim = $0 { true } else { false } }.count == 3)
    }
}

@Suite struct SettingsTests {
    @Test func catalogueCoversEveryKeyOnce() {
        let keys = DetectorSettings.catalogue.map(\.key)
        #expect(Set(keys).count == keys.count)
        #expect(keys.contains("burst.window"))
        #expect(DetectorSettings().rendered().contains("min_calls = 20  # calls in the window"))
    }

    @Test func durationsParse() {
        #expect(DetectorSettings.parseDuration("90m") == 90 * CivilTime.minute)
        #expect(DetectorSettings.parseDuration("2h") == 2 * CivilTime.hour)
        #expect(DetectorSettings.parseDuration("45") == 45 * CivilTime.second)
        #expect(DetectorSettings.parseDuration("soon") == nil)
    }
}

@Suite struct VirtualKidnappingTests {
    @Test func familyCalledWhileTheVictimIsHeldOnTheLine() throws {
        let victim: UInt64 = 525_591_000_001
        let family: [UInt64] = [525_591_000_002, 525_591_000_003]
        var calls: [CallRecord] = []
        // The victim usually calls the family (from the city).
        for (k, f) in family.enumerated() {
            for j in 0..<3 {
                calls.append(
                    Fixture.call(
                        700 + k * 3 + j, caller: victim, callee: f, at: j * 600, duration: 90, cell: Fixture.cityCell))
            }
        }
        // Two ring lines (bursts), one of which holds the victim 50 minutes; the other calls the family.
        calls += Fixture.ringCalls(caller: 525_500_006_001, n: 30, gap: 100)
        calls += Fixture.ringCalls(caller: 525_500_006_002, n: 30, gap: 100)
        calls.append(Fixture.call(800, caller: 525_500_006_001, callee: victim, at: 4000, duration: 3000))
        calls.append(Fixture.call(801, caller: 525_500_006_002, callee: family[0], at: 4600, duration: 120))
        calls.append(Fixture.call(802, caller: 525_500_006_002, callee: family[1], at: 5200, duration: 120))
        let st = DetectorSettings()
        var engine = Engine(
            detectors: [BurstDetector(config: st.burst), VictimDetector(config: st.victim)], sites: Fixture.sites,
            config: EngineConfig(), stages: [VictimStage(), KidnapStage(config: st.victim)])
        for r in calls.sorted(by: { CallRecord.precedes($0, $1) }) { engine.ingest(r) }
        let alerts = engine.finish().filter { $0.reasons.contains { $0.contains("virtual kidnapping") } }
        let a = try #require(alerts.first)
        #expect(alerts.count == 1)
        #expect(a.entity == .victim(.e164(victim)))
        #expect(a.related.contains(.victim(.e164(family[0]))))
        #expect(a.related.contains(.line(.e164(525_500_006_002))))

        // The same calls to numbers the victim never called: nothing.
        let strangers = calls.filter { $0.caller != .e164(victim) }
        var again = Engine(
            detectors: [BurstDetector(config: st.burst), VictimDetector(config: st.victim)], sites: Fixture.sites,
            config: EngineConfig(), stages: [VictimStage(), KidnapStage(config: st.victim)])
        for r in strangers.sorted(by: { CallRecord.precedes($0, $1) }) { again.ingest(r) }
        #expect(!again.finish().contains { $0.reasons.contains { $0.contains("virtual kidnapping") } })
    }

    /// The stage's findings for one held victim: a flagged ring line holds `victim` from t0 for
    /// 50 minutes, another calls the two family numbers, and 200 other prison-linked calls go to
    /// strangers meanwhile; the victim called each family number twice.
    static func heldVictim(sketch: PairSketch) -> DetectorOutput {
        let victim = Party.e164(525_591_000_001)
        let family = [Party.e164(525_591_000_002), Party.e164(525_591_000_003)]
        let ring = [Party.e164(525_500_006_001), Party.e164(525_500_006_002)]
        let t0 = Fixture.t0
        func ref(_ i: Int) -> SourceRef { SourceRef(input: 0, offset: i * 100, line: i + 2) }
        var o = DetectorOutput()
        o.alerts.append(
            Alert(
                detector: "burst", severity: .high, score: 0.8, entity: .line(ring[1]), windowStart: t0,
                windowEnd: t0, detectedAt: t0, prison: AlertPrison(index: 0, distanceM: 0), towers: [], metrics: [],
                reasons: [], evidence: [], evidenceTotal: 0, related: []))
        o.longCalls.append(
            LongCall(
                victim: victim, caller: ring[0], prison: 0, start: t0, end: t0 + 50 * CivilTime.minute, ref: ref(1)))
        for (k, f) in family.enumerated() {
            for _ in 0..<2 { sketch.add(caller: victim, callee: f) }
            o.prisonCalls.append(
                VictimLink(
                    victim: f, caller: ring[1], prison: 0, time: t0 + EventTime(10 + k) * CivilTime.minute,
                    ref: ref(2 + k)))
        }
        for i in 0..<200 {
            o.prisonCalls.append(
                VictimLink(
                    victim: .e164(525_592_000_000 + UInt64(i)), caller: .e164(525_500_007_000 + UInt64(i % 9)),
                    prison: 0, time: t0 + EventTime(12 + i % 30) * CivilTime.minute, ref: ref(10 + i)))
        }
        o.prisonCalls.sort { ($0.time, $0.ref) < ($1.time, $1.ref) }
        o.pairSketches = [sketch]
        return o
    }

    /// The family matches are weighed against how often the sketch mistakes a stranger for a
    /// usual contact: with room to spare the alert says how unlikely they were; once the sketch
    /// is saturated (every pair reads as usual) the same findings raise nothing.
    @Test func aSaturatedSketchRaisesNoKidnapping() throws {
        let context = DetectorContext(sites: Fixture.sites)
        let stage = KidnapStage(config: VictimConfig())
        let roomy = PairSketch(counters: 1 << 20)
        let alerts = stage.run(Self.heldVictim(sketch: roomy), context: context)
        let a = try #require(alerts.first)
        #expect(alerts.count == 1)
        func metric(_ name: String) -> MetricValue? { a.metrics.first { $0.0 == name }?.1 }
        #expect(metric("numbers_checked") == .int(202))
        #expect(metric("family_numbers_called") == .int(2))
        #expect(a.reasons.contains { $0.contains("2 of the 202 numbers") && $0.contains("less than 1 in a trillion") })

        let full = PairSketch(counters: 256)
        for i in 0..<20_000 { full.add(caller: .e164(525_593_000_000 + UInt64(i)), callee: .e164(1)) }
        #expect(full.falseUsualRate == 1)
        #expect(stage.run(Self.heldVictim(sketch: full), context: context).isEmpty)
    }

    /// The binomial tail against sums of the terms in closed form, and its edges.
    @Test func binomialTailMatchesItsTerms() {
        func exact(_ n: Int, _ p: Double, _ k: Int) -> Double {
            var total = 0.0
            for j in k...n {
                var c = 1.0
                for i in 0..<j { c *= Double(n - i) / Double(i + 1) }
                var t = c
                for _ in 0..<j { t *= p }
                for _ in 0..<(n - j) { t *= 1 - p }
                total += t
            }
            return total
        }
        for (n, p, k) in [(10, 0.3, 1), (10, 0.3, 4), (60, 0.05, 2), (60, 0.05, 9), (200, 0.5, 120), (1, 0.5, 1)] {
            let got = KidnapStage.binomialTail(trials: n, rate: p, atLeast: k)
            #expect(abs(got - exact(n, p, k)) <= 1e-12 + 1e-9 * exact(n, p, k))
        }
        // Small rates: about C(n, k) p^k.
        let one = KidnapStage.binomialTail(trials: 12_000, rate: 1e-9, atLeast: 1)
        #expect(abs(one - 1.2e-5) < 1e-9)
        let two = KidnapStage.binomialTail(trials: 12_000, rate: 1e-6, atLeast: 2)
        #expect(abs(two / (12_000.0 * 11_999 / 2 * 1e-12) - 1) < 0.02)
        #expect(KidnapStage.binomialTail(trials: 5, rate: 0.1, atLeast: 0) == 1)
        #expect(KidnapStage.binomialTail(trials: 5, rate: 0.1, atLeast: 6) == 0)
        #expect(KidnapStage.binomialTail(trials: 5, rate: 0, atLeast: 1) == 0)
        #expect(KidnapStage.odds(1.0 / 12_054) == "about 1 in 12,000")
        #expect(KidnapStage.odds(1.0 / 4_230_000) == "about 1 in 4.2 million")
        #expect(KidnapStage.odds(1e-13) == "less than 1 in a trillion")
    }
}
