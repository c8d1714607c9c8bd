public import CeldaCore
import RealModule

/// Parameters of a synthetic dump.
public struct SynthConfig: Sendable {
    public var seed: UInt64 = 1
    /// Approximate number of CDR rows.
    public var rows = 50_000
    public var days = 1
    /// First day, local midnight (UTC offset below).
    public var startDay = (year: 2026, month: 1, day: 19)
    /// UTC offset of the written timestamps, in minutes (Mexico City: −360).
    public var utcOffsetMinutes = -360
    public init() {}
}

/// What `celda synth` plants, for scoring (`truth.json`).
public struct SynthTruth: Sendable {
    public struct RingLine: Sendable {
        public var line: String
        public var device: String
        public var prison: String
    }
    public struct Lookalike: Sendable {
        public var line: String
        public var kind: String
        public var prison: String?
    }
    public struct Surge: Sendable {
        public var tower: String
        public var start: EventTime
        public var end: EventTime
    }
    public var ringLines: [RingLine] = []
    public var slowLines: [RingLine] = []
    public var lookalikes: [Lookalike] = []
    /// Numbers the rings chased (hooked victims) or shared.
    public var victims = Set<UInt64>()
    public var lookalikeNumbers: [(number: UInt64, kind: String)] = []
    public var surges: [Surge] = []
    public var alliances = Set<String>()
    /// Ring handsets that cycled through three or more lines in a day.
    public var churningDevices = Set<String>()

    /// The truth as JSON text.
    public func json(seed: UInt64, rows: Int) -> String {
        var w = JSONWriter()
        w.raw("{\n  \"seed\": ")
        w.rawText(String(seed))
        w.raw(",\n  \"rows\": ")
        w.int(rows)
        w.raw(",\n  \"ring_lines\": [")
        for (i, r) in ringLines.enumerated() {
            w.raw(i == 0 ? "\n    {\"line\": " : ",\n    {\"line\": ")
            w.string(r.line)
            w.raw(", \"device\": ")
            w.string(r.device)
            w.raw(", \"prison\": ")
            w.string(r.prison)
            w.raw("}")
        }
        w.raw("\n  ],\n  \"slow_lines\": [")
        for (i, r) in slowLines.enumerated() {
            w.raw(i == 0 ? "\n    {\"line\": " : ",\n    {\"line\": ")
            w.string(r.line)
            w.raw(", \"prison\": ")
            w.string(r.prison)
            w.raw("}")
        }
        w.raw("\n  ],\n  \"victims\": [")
        for (i, v) in victims.sorted().enumerated() {
            if i > 0 { w.raw(", ") }
            w.string("+" + String(v))
        }
        w.raw("],\n  \"surges\": [")
        for (i, x) in surges.enumerated() {
            if i > 0 { w.raw(", ") }
            w.raw("{\"tower\": ")
            w.string(x.tower)
            w.raw(", \"start\": ")
            w.string(CivilTime.format(x.start))
            w.raw(", \"end\": ")
            w.string(CivilTime.format(x.end))
            w.raw("}")
        }
        w.raw("],\n  \"alliances\": [")
        for (i, a) in alliances.sorted().enumerated() {
            if i > 0 { w.raw(", ") }
            w.string(a)
        }
        w.raw("],\n  \"lookalike_numbers\": [")
        for (i, x) in lookalikeNumbers.enumerated() {
            if i > 0 { w.raw(", ") }
            w.raw("{\"number\": ")
            w.string("+" + String(x.number))
            w.raw(", \"kind\": ")
            w.string(x.kind)
            w.raw("}")
        }
        w.raw("],\n  \"ring_devices\": [")
        let devices = churningDevices.sorted()
        for (i, d) in devices.enumerated() {
            if i > 0 { w.raw(", ") }
            w.string(d)
        }
        w.raw("],\n  \"lookalike_lines\": [")
        for (i, l) in lookalikes.enumerated() {
            w.raw(i == 0 ? "\n    {\"line\": " : ",\n    {\"line\": ")
            w.string(l.line)
            w.raw(", \"kind\": ")
            w.string(l.kind)
            w.raw(", \"prison\": ")
            if let p = l.prison { w.string(p) } else { w.raw("null") }
            w.raw("}")
        }
        w.raw("\n  ]\n}\n")
        return String(decoding: w.bytes, as: UTF8.self)
    }
}

/// A synthetic world: towers around the built-in prisons and in cities, ordinary subscribers,
/// legitimate look-alikes beside prisons (a call centre, a dispatcher, heavy users, neighbours)
/// and extortion rings inside prisons (handsets rotating SIMs, short calls to many numbers).
///
/// Deterministic per seed. Rows are written in call-end order, as switches write them.
public struct SyntheticWorld {
    public let config: SynthConfig
    public private(set) var towers: [Tower] = []
    public private(set) var truth = SynthTruth()
    var rng: SplitMix64
    let prisons: [Prison]
    var prisonTowers: [Int: [Int]] = [:]
    var cityTowers: [Int] = []
    var calls: [Call] = []
    var usedNumbers = Set<UInt64>()

    struct Call {
        var start: EventTime
        var duration: Int
        var caller: UInt64
        var callee: UInt64
        var tower: Int
        var imei: UInt64
        var imsi: UInt64
        var answered: Bool
    }

    static let cities: [(String, Double, Double)] = [
        ("Ciudad de México", 19.4326, -99.1332), ("Guadalajara", 20.6597, -103.3496), ("Monterrey", 25.6866, -100.3161),
        ("Toluca", 19.2826, -99.6557), ("Puebla", 19.0414, -98.2063), ("Tepic", 21.5042, -104.8946),
    ]

    public init(config: SynthConfig, prisons: [Prison]) {
        self.config = config
        self.prisons = prisons
        self.rng = SplitMix64(seed: config.seed &* 0x2545_F491_4F6C_DD1D &+ 1)
        buildTowers()
        generate()
    }

    // MARK: towers

    mutating func offset(_ p: GeoPoint, metres: Double) -> GeoPoint {
        let angle = rng.unit() * 2 * Double.pi
        let dLat = metres * Double.cos(angle) / 111_320
        let dLon = metres * Double.sin(angle) / (111_320 * Double.cos(p.lat * Double.pi / 180))
        return GeoPoint(lat: p.lat + dLat, lon: p.lon + dLon)
    }

    var nextCI: UInt64 = 1000

    mutating func addTower(near p: GeoPoint, within metres: Double, range: Double) -> Int {
        let loc = offset(p, metres: rng.unit() * metres)
        nextCI += UInt64(rng.int(1...40))
        let enb = nextCI
        let cell = CellID(
            mcc: 334, mnc: 20, lac: UInt32(rng.int(1000...39_999)), ci: enb * 256 + UInt64(rng.int(1...3)))
        towers.append(Tower(cell: cell, location: loc, rangeM: (range * 10).rounded() / 10))
        return towers.count - 1
    }

    mutating func buildTowers() {
        for (i, p) in prisons.enumerated() {
            var list: [Int] = []
            for _ in 0..<3 {
                list.append(
                    addTower(near: p.location, within: min(p.radiusM * 0.6, 500), range: Double(rng.int(900...1600))))
            }
            prisonTowers[i] = list
        }
        for (_, lat, lon) in Self.cities {
            for _ in 0..<30 {
                let t = addTower(near: GeoPoint(lat: lat, lon: lon), within: 9_000, range: Double(rng.int(500...1500)))
                // Keep city towers clear of every prison so that "neighbours" are planted deliberately.
                // (With the default 1,000 m range too, for dumps that carry coordinates inline.)
                let reaches = prisons.contains {
                    Geo.distance(towers[t].location, $0.location) < max(towers[t].rangeM, 1_000) + $0.radiusM + 500
                }
                if reaches { towers.removeLast() } else { cityTowers.append(t) }
            }
        }
    }

    // MARK: numbers

    mutating func newNumber(area: Int? = nil) -> UInt64 {
        let areas = [55, 33, 81, 722, 222, 311, 442, 998]
        while true {
            let a = area ?? areas[rng.int(0...(areas.count - 1))]
            let digits = a < 100 ? 8 : 7
            var local: UInt64 = 0
            for _ in 0..<digits { local = local * 10 + UInt64(rng.int(0...9)) }
            var p: UInt64 = 1
            for _ in 0..<digits { p *= 10 }
            let national = UInt64(a) * p + local
            guard national >= 1_000_000_000 else { continue }
            let e164 = 52 * 10_000_000_000 + national
            if usedNumbers.insert(e164).inserted { return e164 }
        }
    }

    mutating func newIMEI() -> UInt64 {
        // 14 digits + Luhn check digit.
        var body: [Int] = [3, 5]
        for _ in 0..<12 { body.append(rng.int(0...9)) }
        var sum = 0
        for (i, d) in body.reversed().enumerated() {
            var x = d
            if i % 2 == 0 {
                x *= 2
                if x > 9 { x -= 9 }
            }
            sum += x
        }
        body.append((10 - sum % 10) % 10)
        return body.reduce(0) { $0 * 10 + UInt64($1) }
    }

    mutating func newIMSI() -> UInt64 {
        var v: UInt64 = 334_020
        for _ in 0..<9 { v = v * 10 + UInt64(rng.int(0...9)) }
        return v
    }

    // MARK: time

    var dayStart: EventTime {
        let d = CivilTime.daysFromCivil(
            year: config.startDay.year, month: config.startDay.month, day: config.startDay.day)
        return (Int64(d) * 86_400 - Int64(config.utcOffsetMinutes) * 60) * CivilTime.second
    }

    /// A time of day (seconds after local midnight) following a diurnal profile.
    mutating func diurnalSecond() -> Int {
        while true {
            let s = rng.int(0...86_399)
            let h = Double(s) / 3600
            let weight = h < 6 ? 0.08 : h < 8 ? 0.4 : h < 21 ? 1.0 : 0.5
            if rng.unit() < weight { return s }
        }
    }

    // MARK: generation

    mutating func generate() {
        let day0 = dayStart
        let daySpan = EventTime(86_400) * CivilTime.second
        // Ordinary subscribers.
        let population = max(200, config.rows / (6 * config.days))
        struct Sub {
            var number: UInt64
            var imei: UInt64
            var imsi: UInt64
            var home: Int
            var weight: Double
            var contacts: [UInt64]
        }
        var subs: [Sub] = []
        subs.reserveCapacity(population)
        let linkedPrisons = Array(prisons.indices)
        for i in 0..<population {
            // About 3% live or work beside a prison (neighbours, staff): ordinary calling on prison towers.
            let home: Int
            if i % 33 == 0, let p = linkedPrisons.isEmpty ? nil : linkedPrisons[i / 33 % linkedPrisons.count],
                let list = prisonTowers[p]
            {
                home = list[rng.int(0...(list.count - 1))]
            } else {
                home = cityTowers[rng.int(0...(cityTowers.count - 1))]
            }
            let weight = min(30, 1 + 1 / max(0.02, Double.pow(rng.unit(), 1 / 1.6)) - 1)
            subs.append(
                Sub(number: newNumber(), imei: newIMEI(), imsi: newIMSI(), home: home, weight: weight, contacts: []))
        }
        for i in subs.indices {
            var c: [UInt64] = []
            for _ in 0..<rng.int(8...25) { c.append(subs[rng.int(0...(subs.count - 1))].number) }
            subs[i].contacts = c
        }
        // Planted look-alikes beside prisons and rings inside them.
        var special = 0
        for (pi, p) in prisons.enumerated() {
            guard let list = prisonTowers[pi] else { continue }
            if p.radiusM > 3_000 { continue }  // archipelago-scale entries: no planted activity
            let operating = !p.name.lowercased().contains("(closed")
            for day in 0..<config.days {
                let base = day0 + EventTime(day) * daySpan
                if pi == 0 || pi % 2 == 1 {
                    special += callCentre(base: base, tower: list[0], prison: p.id, day: day)
                }
                special += dispatcher(base: base, tower: list[1], prison: p.id, day: day)
                special += heavyUsers(base: base, towers: list, prison: p.id, day: day, subs: subs.map(\.number))
                if operating {
                    special += ring(base: base, towers: list, prison: p, prisonIndex: pi, day: day)
                    special += slowLines(base: base, towers: list, prison: p, day: day)
                }
            }
        }
        special += sharedVictims(base: day0)
        special += virtualKidnapping(base: day0, subs: subs.map { ($0.number, $0.contacts, $0.home) })
        special += jammerSurge(day0: day0, daySpan: daySpan)
        special += radioCallIn(day0: day0, daySpan: daySpan, callers: subs.map(\.number))
        // A call centre in a city, far from any prison.
        for day in 0..<config.days {
            special += callCentre(base: day0 + EventTime(day) * daySpan, tower: cityTowers[0], prison: nil, day: day)
        }
        // Ordinary traffic fills the rest.
        let totalWeight = subs.reduce(0) { $0 + $1.weight }
        var cumulative: [Double] = []
        cumulative.reserveCapacity(subs.count)
        var acc = 0.0
        for s in subs {
            acc += s.weight
            cumulative.append(acc)
        }
        let ordinary = max(0, config.rows - special)
        for _ in 0..<ordinary {
            let x = rng.unit() * totalWeight
            var lo = 0
            var hi = cumulative.count - 1
            while lo < hi {
                let mid = (lo + hi) / 2
                if cumulative[mid] < x { lo = mid + 1 } else { hi = mid }
            }
            let s = subs[lo]
            let day = rng.int(0...(config.days - 1))
            let start = day0 + EventTime(day) * daySpan + EventTime(diurnalSecond()) * CivilTime.second
            let callee: UInt64
            if rng.chance(0.85), !s.contacts.isEmpty {
                // Zipf-like preference for the first contacts.
                let k = min(s.contacts.count - 1, Int(Double(s.contacts.count) * rng.unit() * rng.unit()))
                callee = s.contacts[k]
            } else {
                callee = newNumberCached()
            }
            let answered = rng.chance(0.88)
            let duration = answered ? min(3600, max(3, Int(rng.logNormal(median: 75, sigma: 0.9)))) : 0
            let tower = rng.chance(0.8) ? s.home : cityTowers[rng.int(0...(cityTowers.count - 1))]
            calls.append(
                Call(
                    start: start, duration: duration, caller: s.number, callee: callee, tower: tower, imei: s.imei,
                    imsi: s.imsi,
                    answered: answered))
        }
    }

    var externalPool: [UInt64] = []
    mutating func newNumberCached() -> UInt64 {
        if externalPool.count < 5_000 || rng.chance(0.2) {
            let n = newNumber()
            externalPool.append(n)
            return n
        }
        return externalPool[rng.int(0...(externalPool.count - 1))]
    }

    /// A customer-service line beside a prison: up to ~150 calls an hour to distinct customers
    /// during office hours, mostly answered, conversations of minutes.
    var persistent: [String: (UInt64, UInt64)] = [:]

    /// A look-alike's line and handset, the same every day.
    mutating func lookalike(_ key: String) -> (UInt64, UInt64) {
        if let v = persistent[key] { return v }
        let v = (newNumber(), newIMEI())
        persistent[key] = v
        return v
    }

    mutating func callCentre(base: EventTime, tower: Int, prison: String?, day: Int) -> Int {
        let (line, imei) = lookalike("centre-\(tower)")
        if day == 0 { truth.lookalikes.append(.init(line: "+" + String(line), kind: "call-centre", prison: prison)) }
        var t = base + 9 * CivilTime.hour + EventTime(rng.int(0...600)) * CivilTime.second
        let end = base + 18 * CivilTime.hour
        var n = 0
        let rate = Double(rng.int(60...150))
        while t < end {
            let answered = rng.chance(0.8)
            let duration = answered ? max(45, Int(rng.logNormal(median: 200, sigma: 0.5))) : 0
            let customer = newNumber()
            calls.append(
                Call(
                    start: t, duration: duration, caller: line, callee: customer, tower: tower, imei: imei,
                    imsi: newIMSI(),
                    answered: answered))
            n += 1
            if rng.chance(0.12) {
                // Customers call back.
                placeCall(
                    t + EventTime(rng.int(300...20_000)) * CivilTime.second, customer, line,
                    tower: cityTowers[rng.int(0...(cityTowers.count - 1))], imei: 0, answered: true,
                    duration: rng.int(30...300))
                n += 1
            }
            t += EventTime(rng.exponential(mean: 3600 / rate) * 1_000_000)
        }
        return n
    }

    /// A taxi or delivery dispatcher beside a prison: 30-60 short calls an hour to a handful of drivers.
    var driverLists: [Int: [UInt64]] = [:]

    mutating func dispatcher(base: EventTime, tower: Int, prison: String, day: Int) -> Int {
        let (line, imei) = lookalike("dispatch-\(tower)")
        if driverLists[tower] == nil { driverLists[tower] = (0..<rng.int(6...12)).map { _ in newNumber() } }
        let drivers = driverLists[tower]!
        if day == 0 { truth.lookalikes.append(.init(line: "+" + String(line), kind: "dispatcher", prison: prison)) }
        var t = base + 7 * CivilTime.hour
        let end = base + 20 * CivilTime.hour
        var n = 0
        let rate = Double(rng.int(30...60))
        while t < end {
            let answered = rng.chance(0.9)
            calls.append(
                Call(
                    start: t, duration: answered ? rng.int(10...50) : 0, caller: line,
                    callee: drivers[rng.int(0...(drivers.count - 1))], tower: tower, imei: imei, imsi: 0,
                    answered: answered))
            n += 1
            t += EventTime(rng.exponential(mean: 3600 / rate) * 1_000_000)
        }
        return n
    }

    /// Heavy ordinary users on prison towers: many calls a day, always to the same few people.
    mutating func heavyUsers(base: EventTime, towers list: [Int], prison: String, day: Int, subs: [UInt64]) -> Int {
        var n = 0
        for k in 0..<2 {
            var r2 = SplitMix64(seed: config.seed ^ UInt64(k + 1) &* 0x51_7CC1_B727_220A ^ StableHash.string(prison))
            let line = 52 * 10_000_000_000 + 5_500_000_000 + r2.next() % 100_000_000
            usedNumbers.insert(line)
            if day == 0 { truth.lookalikes.append(.init(line: "+" + String(line), kind: "heavy-user", prison: prison)) }
            let contacts = (0..<rng.int(4...9)).map { _ in subs[rng.int(0...(subs.count - 1))] }
            for _ in 0..<rng.int(50...90) {
                let start = base + EventTime(diurnalSecond()) * CivilTime.second
                let answered = rng.chance(0.85)
                calls.append(
                    Call(
                        start: start, duration: answered ? max(5, Int(rng.logNormal(median: 60, sigma: 0.8))) : 0,
                        caller: line, callee: contacts[rng.int(0...(contacts.count - 1))], tower: list[k % list.count],
                        imei: 0,
                        imsi: 0, answered: answered))
                n += 1
            }
        }
        return n
    }

    /// A ring's handsets and habits (drawn once per prison, so no threshold fits one world).
    struct RingPlan {
        var handsets: [UInt64]
        var answerRate: Double
        var gapMin: Int
        var gapMax: Int
        /// SIMs at work per day (for chasers and shared victims).
        var simsByDay: [Int: [UInt64]] = [:]
    }

    var rings: [Int: RingPlan] = [:]

    mutating func placeCall(
        _ t: EventTime, _ caller: UInt64, _ callee: UInt64, tower: Int, imei: UInt64, answered: Bool, duration: Int
    ) {
        calls.append(
            Call(
                start: t, duration: duration, caller: caller, callee: callee, tower: tower, imei: imei, imsi: newIMSI(),
                answered: answered))
    }

    /// An extortion ring inside a prison: 3-4 handsets that persist across days, each cycling
    /// through fresh SIMs (sessions of 1.5-3 hours at about 25-40 calls an hour to numbers taken
    /// down a list or from a leak, mostly unanswered or cut short); a few hooked victims kept on
    /// the line for minutes and then chased by the ring's other lines; and one SIM passed between
    /// the handsets.
    mutating func ring(base: EventTime, towers list: [Int], prison: Prison, prisonIndex: Int, day: Int) -> Int {
        if rings[prisonIndex] == nil {
            rings[prisonIndex] = RingPlan(
                handsets: (0..<rng.int(3...4)).map { _ in newIMEI() }, answerRate: 0.2 + 0.2 * rng.unit(),
                gapMin: rng.int(20...35), gapMax: rng.int(110...150))
        }
        var plan = rings[prisonIndex]!
        var n = 0
        var hooked: [(victim: UInt64, time: EventTime, by: UInt64)] = []
        var sims: [UInt64] = []
        for imei in plan.handsets {
            var t = base + EventTime(rng.int(8 * 3600...10 * 3600)) * CivilTime.second
            let end = t + EventTime(rng.int(8 * 3600...9 * 3600)) * CivilTime.second
            var used = 0
            while end - t >= 90 * CivilTime.minute {
                let sim = newNumber()
                sims.append(sim)
                used += 1
                truth.ringLines.append(.init(line: "+" + String(sim), device: String(imei), prison: prison.id))
                let sessionEnd = min(end, t + EventTime(rng.int(90 * 60...3 * 3600)) * CivilTime.second)
                let tower = list[rng.int(0...(list.count - 1))]
                let sequential = rng.chance(0.5)
                var listNumber = newNumber()
                while t < sessionEnd {
                    let callee: UInt64
                    if sequential {
                        listNumber += UInt64(rng.int(1...3))
                        callee = listNumber
                    } else {
                        callee = newNumber()
                    }
                    let answered = rng.chance(plan.answerRate)
                    let long = answered && rng.chance(0.4)
                    let duration = !answered ? 0 : long ? rng.int(180...240) : rng.int(5...50)
                    placeCall(t, sim, callee, tower: tower, imei: imei, answered: answered, duration: duration)
                    if long, hooked.count < 3, rng.chance(0.3) { hooked.append((callee, t, sim)) }
                    n += 1
                    t +=
                        EventTime(duration + rng.int(plan.gapMin...plan.gapMax) + (answered ? 0 : 20))
                        * CivilTime.second
                }
                t += EventTime(rng.int(120...900)) * CivilTime.second
            }
            if used >= 3 { truth.churningDevices.insert(String(imei)) }
        }
        // One SIM passed between three handsets in short sessions.
        let shared = newNumber()
        sims.append(shared)
        truth.ringLines.append(.init(line: "+" + String(shared), device: String(plan.handsets[0]), prison: prison.id))
        var t = base + EventTime(rng.int(11 * 3600...13 * 3600)) * CivilTime.second
        for imei in plan.handsets.prefix(3) {
            for _ in 0..<rng.int(12...15) {
                let answered = rng.chance(plan.answerRate)
                let duration = answered ? rng.int(5...50) : 0
                placeCall(t, shared, newNumber(), tower: list[0], imei: imei, answered: answered, duration: duration)
                n += 1
                t += EventTime(duration + rng.int(40...110)) * CivilTime.second
            }
            t += EventTime(rng.int(60...300)) * CivilTime.second
        }
        // Hooked victims chased by the ring's other lines (the chain on a hooked victim).
        for h in hooked {
            let others = sims.filter { $0 != h.by }
            guard others.count >= 2 else { continue }
            truth.victims.insert(h.victim)
            var chasers = Set<UInt64>()
            while chasers.count < min(others.count, rng.int(2...3)) {
                chasers.insert(others[rng.int(0...(others.count - 1))])
            }
            for c in chasers.sorted() {
                var ct = h.time + EventTime(rng.int(600...3 * 3600)) * CivilTime.second
                for _ in 0..<rng.int(2...4) {
                    let answered = rng.chance(0.3)
                    let duration = answered ? rng.int(30...200) : 0
                    placeCall(
                        ct, c, h.victim, tower: list[rng.int(0...(list.count - 1))], imei: plan.handsets[0],
                        answered: answered, duration: duration)
                    n += 1
                    ct += EventTime(rng.int(600...3600)) * CivilTime.second
                }
            }
        }
        plan.simsByDay[day] = sims
        rings[prisonIndex] = plan
        return n
    }

    /// Low-and-slow lines: 4-8 short calls an hour to different numbers over a long day, under
    /// any hourly threshold.
    mutating func slowLines(base: EventTime, towers list: [Int], prison: Prison, day: Int) -> Int {
        var n = 0
        for _ in 0..<rng.int(1...2) {
            let line = newNumber()
            let imei = newIMEI()
            truth.slowLines.append(.init(line: "+" + String(line), device: String(imei), prison: prison.id))
            let rate = Double(rng.int(4...8))
            var t = base + EventTime(rng.int(7 * 3600...9 * 3600)) * CivilTime.second
            let end = t + 12 * CivilTime.hour
            let tower = list[rng.int(0...(list.count - 1))]
            while t < end {
                let answered = rng.chance(0.25)
                placeCall(
                    t, line, newNumber(), tower: tower, imei: imei, answered: answered,
                    duration: answered ? rng.int(5...40) : 0)
                n += 1
                t += EventTime(rng.exponential(mean: 3600 / rate) * 1_000_000)
            }
        }
        return n
    }

    /// Two rings in different prisons working the same victims: each shared number is called by
    /// two lines of each ring.
    mutating func sharedVictims(base: EventTime) -> Int {
        let keys = rings.keys.sorted()
        guard keys.count >= 2 else { return 0 }
        let a = keys[0]
        let b = keys[1]
        guard let sa = rings[a]?.simsByDay[0], let sb = rings[b]?.simsByDay[0], sa.count >= 2, sb.count >= 2 else {
            return 0
        }
        let ids = [prisons[a].id, prisons[b].id].sorted()
        truth.alliances.insert(ids[0] + "|" + ids[1])
        var n = 0
        for _ in 0..<rng.int(3...5) {
            let victim = newNumber()
            truth.victims.insert(victim)
            for (p, sims) in [(a, sa), (b, sb)] {
                let list = prisonTowers[p]!
                var picked = Set<UInt64>()
                while picked.count < 2 { picked.insert(sims[rng.int(0...(sims.count - 1))]) }
                for sim in picked.sorted() {
                    let t = base + EventTime(rng.int(12 * 3600...20 * 3600)) * CivilTime.second
                    let answered = rng.chance(0.3)
                    placeCall(
                        t, sim, victim, tower: list[0], imei: rings[p]!.handsets[0], answered: answered,
                        duration: answered ? rng.int(10...120) : 0)
                    n += 1
                }
            }
        }
        return n
    }

    /// A virtual kidnapping: a ring line keeps a person on the line for most of an hour while two
    /// other lines of the ring call the people that person usually calls.
    mutating func virtualKidnapping(base: EventTime, subs: [(UInt64, [UInt64], Int)]) -> Int {
        guard let p = rings.keys.sorted().last, let sims = rings[p]?.simsByDay[0], sims.count >= 3,
            let list = prisonTowers[p]
        else { return 0 }
        var n = 0
        var candidates = subs.filter { Set($0.1).count >= 3 }
        guard !candidates.isEmpty else { return 0 }
        let (victim, contacts, home) = candidates.remove(at: rng.int(0...(candidates.count - 1)))
        let family = Array(Set(contacts)).sorted().prefix(2)
        // The victim's usual calls to the family, earlier that day.
        for f in family {
            for _ in 0..<3 {
                placeCall(
                    base + EventTime(rng.int(7 * 3600...10 * 3600)) * CivilTime.second, victim, f, tower: home, imei: 0,
                    answered: true, duration: rng.int(30...300))
                n += 1
            }
        }
        let start = base + EventTime(rng.int(12 * 3600...15 * 3600)) * CivilTime.second
        let length = rng.int(40 * 60...90 * 60)
        placeCall(start, sims[0], victim, tower: list[0], imei: rings[p]!.handsets[0], answered: true, duration: length)
        n += 1
        truth.victims.insert(victim)
        for (k, f) in family.enumerated() {
            let caller = sims[1 + k % (sims.count - 1)]
            for j in 0..<rng.int(1...2) {
                let t = start + EventTime(300 + j * 600 + rng.int(0...600)) * CivilTime.second
                placeCall(
                    t, caller, f, tower: list[1], imei: rings[p]!.handsets[1], answered: true,
                    duration: rng.int(60...300))
                n += 1
            }
        }
        return n
    }

    /// A jammer switched off: for five hours on the last day, dozens of phones (hundreds in big
    /// dumps) inside one prison each place a few calls (only when the dump spans three days or more, so a baseline exists).
    mutating func jammerSurge(day0: EventTime, daySpan: EventTime) -> Int {
        guard config.days >= 3, let p = rings.keys.sorted().first, let list = prisonTowers[p] else { return 0 }
        let tower = list[2]
        let start = day0 + EventTime(config.days - 1) * daySpan + 10 * CivilTime.hour
        let end = start + 5 * CivilTime.hour
        truth.surges.append(.init(tower: towers[tower].cell.formatted, start: start, end: end))
        var n = 0
        // 40-80 phones on a world of up to 200,000 calls a day, and as many more per 200,000 as
        // the tower's own traffic grows with the dump: 4 to 7 times the tower's usual hour at 10
        // million calls a day, past the rule's 3 times.
        let scale = max(1, config.rows / config.days / 200_000)
        for _ in 0..<rng.int(40...80) * scale {
            let line = newNumber()
            let imei = newIMEI()
            var t = start + EventTime(rng.int(0...3600)) * CivilTime.second
            let rate = Double(rng.int(1...3))
            var placed = 0
            // A few calls each: at most 20, under the low-and-slow rule's 30 (thousands of phones
            // in a big dump would otherwise give a few that reach it by chance).
            while t < end, placed < 20 {
                placed += 1
                let answered = rng.chance(0.5)
                placeCall(
                    t, line, newNumber(), tower: tower, imei: imei, answered: answered,
                    duration: answered ? rng.int(20...200) : 0)
                n += 1
                t += EventTime(rng.exponential(mean: 3600 / rate) * 1_000_000)
            }
        }
        return n
    }

    /// A radio call-in number that hundreds ring during a contest each day, neighbours of the
    /// prisons among them (a look-alike victim).
    mutating func radioCallIn(day0: EventTime, daySpan: EventTime, callers: [UInt64]) -> Int {
        let radio = newNumber(area: 55)
        truth.lookalikeNumbers.append((radio, "radio-call-in"))
        var n = 0
        var prisonNeighbours: [(UInt64, Int)] = []
        for (pi, list) in prisonTowers.sorted(by: { $0.key < $1.key }) where prisons[pi].radiusM <= 3_000 {
            for _ in 0..<4 { prisonNeighbours.append((newNumber(), list[1])) }
        }
        for day in 0..<config.days {
            let start = day0 + EventTime(day) * daySpan + EventTime(rng.int(16 * 3600...18 * 3600)) * CivilTime.second
            for _ in 0..<rng.int(300...600) {
                let caller = callers[rng.int(0...(callers.count - 1))]
                let t = start + EventTime(rng.int(0...5400)) * CivilTime.second
                let answered = rng.chance(0.1)
                placeCall(
                    t, caller, radio, tower: cityTowers[rng.int(0...(cityTowers.count - 1))], imei: 0,
                    answered: answered,
                    duration: answered ? rng.int(20...90) : 0)
                n += 1
            }
            for (caller, tower) in prisonNeighbours {
                for _ in 0..<rng.int(2...4) {
                    let t = start + EventTime(rng.int(0...5400)) * CivilTime.second
                    placeCall(t, caller, radio, tower: tower, imei: 0, answered: false, duration: 0)
                    n += 1
                }
            }
        }
        return n
    }

    // MARK: output

    /// Layouts `celda synth` writes.
    public enum Layout: String, Sendable, CaseIterable {
        /// `call_id,start_time,caller,callee,duration_s,cell_id,imei,imsi,answered`, RFC 3339 with offset.
        case foundation
        /// A Mexican carrier's "sábana": Windows-1252, title lines, Spanish headers, `DD/MM/YYYY`
        /// and `HH:MM:SS` local time, `52`-prefixed numbers, `SALIENTE`/`ENTRANTE` (mirrors of some
        /// calls), SMS rows, and tower coordinates inline.
        case sabana
    }

    /// The dump in call-end order; `write` receives chunks of bytes.
    public func writeDump(layout: Layout, _ write: ([UInt8]) -> Void) {
        switch layout {
        case .foundation: writeDump { write(Array($0.utf8)) }
        case .sabana: writeSabana(write)
        }
    }

    var callEndOrder: [Int] {
        calls.indices.sorted {
            let a = calls[$0]
            let b = calls[$1]
            let ea = a.start + EventTime(a.duration) * CivilTime.second
            let eb = b.start + EventTime(b.duration) * CivilTime.second
            return (ea, $0) < (eb, $1)
        }
    }

    func writeSabana(_ write: ([UInt8]) -> Void) {
        var out: [UInt8] = []
        func text(_ s: String) {
            // Windows-1252 for the Latin-1 range.
            for u in s.unicodeScalars { out.append(u.value < 256 ? UInt8(u.value) : 0x3F) }
        }
        let first = CivilTime.format(dayStart).prefix(10)
        text("RADIOMOVIL DIPSA S.A. DE C.V. - REGISTRO DE COMUNICACIONES\r\n")
        text("PERIODO SOLICITADO: \(first) (\(config.days) DIA(S)),,,,,,,,,,,,\r\n")
        text("FOLIO,FECHA,HORA,NÚMERO A,NÚMERO B,TIPO,DURACIÓN (SEG),IMEI,IMSI,CELDA,LATITUD,LONGITUD,AZIMUTH\r\n")
        var r = SplitMix64(seed: config.seed ^ 0x5AB)
        func row(_ id: String, _ c: Call, type: String, a: UInt64, b: UInt64) {
            let local = CivilTime.format(c.start + EventTime(config.utcOffsetMinutes) * CivilTime.minute)
            let date = Array(local.utf8)
            let dd = String(decoding: date[8..<10], as: UTF8.self)
            let mm = String(decoding: date[5..<7], as: UTF8.self)
            let yyyy = String(decoding: date[0..<4], as: UTF8.self)
            let time = String(decoding: date[11..<19], as: UTF8.self)
            let t = towers[c.tower]
            text("\(id),\(dd)/\(mm)/\(yyyy),\(time),\(a),\(b),\(type),\(c.duration),")
            text((c.imei == 0 ? "" : String(c.imei)) + "," + (c.imsi == 0 ? "" : String(c.imsi)) + ",")
            text(
                t.cell.formatted + "," + Self.decimal(t.location.lat, 6) + "," + Self.decimal(t.location.lon, 6)
                    + ",\r\n")
        }
        for (k, i) in callEndOrder.enumerated() {
            let c = calls[i]
            row("c\(String(100_000_000 + k).dropFirst())", c, type: "SALIENTE", a: c.caller, b: c.callee)
            let x = r.unit()
            if x < 0.25 {
                // The mirror: the called line's record of the same call.
                row("m\(String(100_000_000 + k).dropFirst())", c, type: "ENTRANTE", a: c.callee, b: c.caller)
            } else if x < 0.28 {
                var sms = c
                sms.duration = 0
                row("s\(String(100_000_000 + k).dropFirst())", sms, type: "SMS SALIENTE", a: c.caller, b: c.callee)
            }
            if out.count > 60_000 {
                write(out)
                out.removeAll(keepingCapacity: true)
            }
        }
        if !out.isEmpty { write(out) }
    }

    /// The dump as CSV text in call-end order, header first; `write` receives chunks.
    public func writeDump(_ write: (String) -> Void) {
        let order = calls.indices.sorted {
            let a = calls[$0]
            let b = calls[$1]
            let ea = a.start + EventTime(a.duration) * CivilTime.second
            let eb = b.start + EventTime(b.duration) * CivilTime.second
            return (ea, $0) < (eb, $1)
        }
        write("call_id,start_time,caller,callee,duration_s,cell_id,imei,imsi,answered\n")
        var chunk = ""
        chunk.reserveCapacity(1 << 16)
        var fmt = SplitMix64(seed: config.seed ^ 0xF00D)
        for (k, i) in order.enumerated() {
            let c = calls[i]
            chunk += "c\(String(100_000_000 + k).dropFirst()),"
            chunk += localTime(c.start) + ","
            chunk += number(c.caller, &fmt) + "," + number(c.callee, &fmt) + ","
            chunk += String(c.duration) + "," + towers[c.tower].cell.formatted + ","
            chunk += (c.imei == 0 ? "" : String(c.imei)) + "," + (c.imsi == 0 ? "" : String(c.imsi)) + ","
            chunk += c.answered ? "1\n" : "0\n"
            if chunk.utf8.count > 60_000 {
                write(chunk)
                chunk.removeAll(keepingCapacity: true)
            }
        }
        if !chunk.isEmpty { write(chunk) }
    }

    /// Numbers as exports write them: mostly `+52…`, some national ten digits, some `52…`.
    func number(_ e164: UInt64, _ r: inout SplitMix64) -> String {
        let x = r.unit()
        if x < 0.7 { return "+" + String(e164) }
        if x < 0.9 { return String(e164 - 52 * 10_000_000_000) }
        return String(e164)
    }

    /// RFC 3339 with the configured offset, e.g. `2026-01-19T08:15:02-06:00`.
    public func localTime(_ t: EventTime) -> String {
        let local = t + EventTime(config.utcOffsetMinutes) * CivilTime.minute
        let utc = CivilTime.format(local)  // "YYYY-MM-DDTHH:MM:SSZ"
        let off = abs(config.utcOffsetMinutes)
        let sign = config.utcOffsetMinutes < 0 ? "-" : "+"
        let hh = String(off / 60)
        let mm = String(off % 60)
        return String(utc.dropLast()) + sign + (hh.count < 2 ? "0" + hh : hh) + ":" + (mm.count < 2 ? "0" + mm : mm)
    }

    /// The towers as an OpenCellID CSV.
    public func towersCSV() -> String {
        var s = "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal\n"
        for t in towers {
            s += "LTE,\(t.cell.mcc),\(t.cell.mnc),\(t.cell.lac),\(t.cell.ci),0,"
            s += Self.decimal(t.location.lon, 6) + "," + Self.decimal(t.location.lat, 6) + ","
            s += String(Int(t.rangeM)) + ",50,1,1700000000,1760000000,0\n"
        }
        return s
    }

    static func decimal(_ x: Double, _ places: Int) -> String {
        var scale: Double = 1
        for _ in 0..<places { scale *= 10 }
        let v = Int((abs(x) * scale).rounded())
        let whole = v / Int(scale)
        var frac = String(v % Int(scale))
        while frac.count < places { frac = "0" + frac }
        return (x < 0 ? "-" : "") + String(whole) + "." + frac
    }

    /// Number of calls generated.
    public var callCount: Int { calls.count }
}
