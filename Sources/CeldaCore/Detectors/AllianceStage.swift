/// Thresholds of the `alliance` second stage.
public struct AllianceConfig: Sendable, Hashable {
    /// Victims called by lines of both prisons.
    public var minSharedVictims = 2
    public var criticalScore = 0.85
    public init() {}
}

/// `alliance`: lines tied to different prisons working the same victims: rings cooperating.
///
/// A second stage over what the keyed detectors found, not a scan of the dump: the `victim`
/// detector's findings (every prison-linked caller of a number called from two or more prisons)
/// restricted to the lines that `burst`, `sequential` or `sim-churn` flagged. Entity `prison-pair` (the two prison
/// ids joined by `|`, sorted); `related` lists the lines, then the victims; the window runs from
/// the first to the last shared call.
public struct AllianceStage: SecondStage {
    public let config: AllianceConfig
    public init(config: AllianceConfig = .init()) { self.config = config }

    public func run(_ found: DetectorOutput, context: DetectorContext) -> [Alert] {
        // Lines the keyed detectors flagged, tied to a prison.
        var flagged = Set<Party>()
        for a in found.alerts where a.severity >= .high && a.prison != nil {
            if case .line(let p) = a.entity { flagged.insert(p) }
        }
        // victim → prison → calls from flagged lines.
        var byVictim: [Party: [Int: [VictimLink]]] = [:]
        for l in found.victimLinks where l.prison >= 0 && flagged.contains(l.caller) {
            byVictim[l.victim, default: [:]][l.prison, default: []].append(l)
        }
        struct Pair: Hashable {
            var a: Int
            var b: Int
        }
        var shared: [Pair: [(victim: Party, both: EventTime, links: [VictimLink])]] = [:]
        let prisons = context.sites.prisons
        for (victim, per) in byVictim where per.count >= 2 {
            let ids = per.keys.sorted { prisons[$0].id < prisons[$1].id }
            for i in 0..<ids.count {
                for j in (i + 1)..<ids.count {
                    let la = per[ids[i]]!
                    let lb = per[ids[j]]!
                    let both = max(la.map(\.time).min()!, lb.map(\.time).min()!)
                    shared[Pair(a: ids[i], b: ids[j]), default: []].append((victim, both, la + lb))
                }
            }
        }
        var out: [Alert] = []
        for (pair, list) in shared where list.count >= config.minSharedVictims {
            let victims = list.sorted { ($0.both, $0.victim) < ($1.both, $1.victim) }
            let detectedAt = victims[config.minSharedVictims - 1].both
            let links = victims.flatMap(\.links).sorted { ($0.time, $0.ref) < ($1.time, $1.ref) }
            let lines = Array(Set(links.map(\.caller))).sorted()
            let strength =
                min(1, Double(victims.count) / Double(2 * config.minSharedVictims)) * 0.7
                + min(1, Double(lines.count) / 8) * 0.3
            let (score, severity) = Scoring.linked(strength: strength, confidence: 1, critical: config.criticalScore)
            let pa = prisons[pair.a]
            let pb = prisons[pair.b]
            out.append(
                Alert(
                    detector: "alliance", severity: severity, score: score, entity: .prisonPair(pa.id + "|" + pb.id),
                    windowStart: links.first!.time, windowEnd: links.last!.time, detectedAt: detectedAt,
                    prison: AlertPrison(index: pair.a, distanceM: 0), towers: [],
                    metrics: [
                        ("shared_victims", .int(victims.count)), ("lines", .int(lines.count)),
                        ("calls", .int(links.count)),
                    ],
                    reasons: [
                        "\(victims.count) numbers were called both by lines tied to \(pa.name) and by lines tied to \(pb.name)",
                        "\(lines.count) lines from the two prisons worked the same victims: rings cooperating",
                    ],
                    evidence: links.prefix(Alert.maxEvidence).map(\.ref), evidenceTotal: links.count,
                    related: lines.map { .line($0) } + victims.map { .victim($0.victim) }))
        }
        return out
    }
}

/// Confirms `victim` candidates: at least one of the calling lines must be flagged (high or
/// critical, tied to a prison) by a line detector. The confirmed alert says which.
public struct VictimStage: SecondStage {
    public init() {}

    public func run(_ found: DetectorOutput, context: DetectorContext) -> [Alert] {
        var flagged = Set<Party>()
        for a in found.alerts where a.severity >= .high && a.prison != nil {
            if case .line(let p) = a.entity { flagged.insert(p) }
        }
        var out: [Alert] = []
        for var c in found.victimCandidates {
            let lines = c.related.compactMap { e -> Party? in if case .line(let p) = e { p } else { nil } }
            let ring = lines.filter { flagged.contains($0) }
            guard !ring.isEmpty else { continue }
            c.reasons.append(
                "\(ring.count) of the \(lines.count) calling lines were themselves flagged as extortion lines (burst, sequential or SIM churn)"
            )
            c.metrics.append(("flagged_lines", .int(ring.count)))
            out.append(c)
        }
        return out
    }
}

/// Virtual kidnapping: while a victim is kept on a long call with a prison-linked line, other
/// prison-linked lines call the numbers that victim usually calls (the family asked for ransom).
///
/// A second stage over the `victim` detector's findings: the long calls, the prison-linked calls,
/// and the merged sketches of who calls whom. Entity `victim` (the person kept on the line);
/// `related` lists the lines, then the family numbers called.
public struct KidnapStage: SecondStage {
    public let config: VictimConfig
    public init(config: VictimConfig = .init()) { self.config = config }

    public func run(_ found: DetectorOutput, context: DetectorContext) -> [Alert] {
        guard !found.longCalls.isEmpty else { return [] }
        var flagged = Set<Party>()
        for a in found.alerts where a.severity >= .high && a.prison != nil {
            if case .line(let p) = a.entity { flagged.insert(p) }
        }
        guard let pairs = PairSketch.merged(found.pairSketches) else { return [] }
        // How often the sketch takes a number never called for a usual one: every match is
        // weighed against it. Read once, at the first match (it counts the whole sketch).
        var falseRateRead: Double?
        // Merged findings come in canonical order (by time, then source): sorted only otherwise, so
        // the biggest finding list is not copied at the end of a run.
        let byTime: (VictimLink, VictimLink) -> Bool = { ($0.time, $0.ref) < ($1.time, $1.ref) }
        let calls =
            zip(found.prisonCalls, found.prisonCalls.dropFirst()).allSatisfy { !byTime($1, $0) }
            ? found.prisonCalls : found.prisonCalls.sorted(by: byTime)
        var out: [Alert] = []
        var seen = Set<Party>()
        for long in found.longCalls.sorted(by: { ($0.start, $0.ref) < ($1.start, $1.ref) })
        where !seen.contains(long.victim) {
            // Prison-linked calls during the long call, by other lines, to numbers the victim usually calls.
            var lo = 0
            var hi = calls.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if calls[mid].time < long.start { lo = mid + 1 } else { hi = mid }
            }
            var family: [VictimLink] = []
            var checked = Set<Party>()
            var i = lo
            // Each test reads a random block of the sketch: the block of the call eight ahead is
            // loaded meanwhile.
            let ahead = 8
            for k in lo..<min(calls.count, lo + ahead) { pairs.prefetch(caller: long.victim, callee: calls[k].victim) }
            while i < calls.count, calls[i].time <= long.end {
                if i + ahead < calls.count { pairs.prefetch(caller: long.victim, callee: calls[i + ahead].victim) }
                let c = calls[i]
                if c.caller != long.caller, c.victim != long.victim {
                    checked.insert(c.victim)
                    if pairs.usual(caller: long.victim, callee: c.victim) { family.append(c) }
                }
                i += 1
            }
            // At least one of the lines must itself be flagged (neighbours talk to their families too).
            guard !family.isEmpty,
                flagged.contains(long.caller) || family.contains(where: { flagged.contains($0.caller) })
            else { continue }
            let numbers = Array(Set(family.map(\.victim))).sorted()
            let falseRate: Double
            if let r = falseRateRead {
                falseRate = r
            } else {
                falseRate = pairs.falseUsualRate
                falseRateRead = falseRate
            }
            // As many false matches among the numbers checked must be unlikely.
            let chance = Self.binomialTail(trials: checked.count, rate: falseRate, atLeast: numbers.count)
            guard chance <= config.kidnapMaxChance else { continue }
            seen.insert(long.victim)
            let lines = [long.caller] + Array(Set(family.map(\.caller))).sorted()
            let minutes = (long.end - long.start) / CivilTime.minute
            let prison = context.sites.prisons[long.prison]
            let strength = 0.6 + 0.2 * min(1, Double(numbers.count) / 2) + 0.2 * min(1, Double(minutes) / 60)
            let (score, severity) = Scoring.linked(strength: strength, confidence: 1, critical: config.criticalScore)
            out.append(
                Alert(
                    detector: "victim", severity: severity, score: score, entity: .victim(long.victim),
                    windowStart: long.start, windowEnd: long.end, detectedAt: family[0].time,
                    prison: AlertPrison(index: long.prison, distanceM: 0), towers: [],
                    metrics: [
                        ("call_minutes", .int(Int(minutes))), ("family_numbers_called", .int(numbers.count)),
                        ("family_calls", .int(family.count)), ("lines", .int(lines.count)),
                        ("numbers_checked", .int(checked.count)), ("chance_one_in", .int(Self.oneIn(chance))),
                    ],
                    reasons: [
                        "this number was kept \(minutes) minutes on a call with a line on towers reaching \(prison.name)",
                        "meanwhile \(lines.count - 1) other prison-linked line(s) called \(numbers.count) number(s) this person usually calls",
                        "\(numbers.count) of the \(Self.grouped(checked.count)) numbers prison-linked lines called meanwhile are this person's usual contacts: \(Self.odds(chance)) by chance (the record of who calls whom takes a stranger for a usual contact \(Self.odds(falseRate)))",
                        "the shape of a virtual kidnapping: the victim held on the line while the family is called for ransom",
                    ],
                    evidence: ([long.ref] + family.map(\.ref)).prefix(Alert.maxEvidence).map { $0 },
                    evidenceTotal: family.count + 1,
                    related: lines.map { .line($0) } + numbers.map { .victim($0) }))
        }
        return out
    }

    /// The chance of at least `k` successes in `n` trials of probability `p`.
    static func binomialTail(trials n: Int, rate p: Double, atLeast k: Int) -> Double {
        guard k > 0 else { return 1 }
        guard k <= n, p > 0 else { return 0 }
        guard p < 1 else { return 1 }
        // The k-th term C(n,k) p^k (1-p)^(n-k), then the terms after it.
        var term = 1.0
        for j in 0..<k { term *= Double(n - j) / Double(j + 1) * p }
        var q = 1.0
        var base = 1 - p
        var e = n - k
        while e > 0 {
            if e & 1 == 1 { q *= base }
            base *= base
            e >>= 1
        }
        term *= q
        var sum = 0.0
        var j = k
        while j <= n, term > 0 {
            sum += term
            if Double(j) > Double(n) * p, term < sum * 1e-17 { break }
            term *= Double(n - j) / Double(j + 1) * p / (1 - p)
            j += 1
        }
        return min(1, sum)
    }

    /// `1 / p` as a whole number (a trillion and up for the never-seen).
    static func oneIn(_ p: Double) -> Int {
        p <= 1e-12 ? 1_000_000_000_000 : max(1, Int((1 / p).rounded()))
    }

    /// Odds as words: `about 1 in 4.2 million`, `less than 1 in a trillion`.
    static func odds(_ p: Double) -> String {
        let n = oneIn(p)
        if n >= 1_000_000_000_000 { return "less than 1 in a trillion" }
        for (u, word) in [(1_000_000_000, "billion"), (1_000_000, "million")] where n >= u {
            let tenths = (n * 10 + u / 2) / u
            return "about 1 in \(tenths / 10)\(tenths % 10 == 0 || tenths >= 1000 ? "" : ".\(tenths % 10)") \(word)"
        }
        // Two significant figures below a million.
        var scale = 1
        while n / scale >= 100 { scale *= 10 }
        return "about 1 in \(grouped((n + scale / 2) / scale * scale))"
    }

    /// A whole number with thousands separators: `12,054`.
    static func grouped(_ n: Int) -> String {
        var digits = String(n)
        var out = ""
        while digits.count > 3 {
            out = "," + digits.suffix(3) + out
            digits = String(digits.dropLast(3))
        }
        return digits + out
    }
}
