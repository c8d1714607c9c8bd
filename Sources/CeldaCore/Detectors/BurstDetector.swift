/// Thresholds of the `burst` detector. Defaults follow the domain facts in DESIGN.md: an inmate
/// operator places about 30 calls an hour to different numbers, mostly short or unanswered.
public struct BurstConfig: Sendable, Hashable {
    /// Sliding window length.
    public var window: EventTime = 60 * CivilTime.minute
    /// Calls within the window before the rule can hold.
    public var minCalls = 20
    /// Distinct callees within the window.
    public var minDistinctCallees = 15
    /// Distinct callees as a share of calls (a dispatcher calls the same few drivers).
    public var minDistinctShare = 0.6
    /// A call shorter than this (in seconds) is short; unanswered calls are short.
    public var shortCallSeconds = 60
    /// Share of short calls.
    public var minShortShare = 0.5
    /// Highest answer ratio (a call centre's calls are mostly answered).
    public var maxAnswerRatio = 0.8
    /// Share of the window's calls that must use prison-reaching towers for the burst to be tied
    /// to a prison.
    public var minPrisonShare = 0.5
    /// No repeat alert for the same line within this time unless the severity rises.
    public var cooldown: EventTime = 6 * CivilTime.hour
    /// Score at or above which a prison-linked burst is critical.
    public var criticalScore = 0.85

    public init() {}
}

/// `burst`: per calling line, many calls to many distinct numbers within a sliding window,
/// mostly short or unanswered. From towers that reach a prison it is high or critical and names
/// the prison; an unlinked burst is at most medium.
///
/// State per line is the window's calls (a small ring); idle lines are evicted once their window
/// and cooldown have passed.
public struct BurstDetector: Detector {
    public let config: BurstConfig
    public var name: String { "burst" }

    struct Entry {
        var start: EventTime
        var callee: Party
        var durationMs: UInt32
        var answered: Bool
        var site: UInt32
        var cell: CellID
        var ref: SourceRef
    }

    struct LineState {
        var entries: [Entry] = []
        var head = 0
        var lastSeen: EventTime = .min
        var lastAlert: EventTime = .min
        var lastSeverity = Severity.low
        var live: Int { entries.count - head }
    }

    private var lines: [Party: LineState] = [:]
    private var scratch = Set<UInt64>()
    private var lastSweep: EventTime = .min

    public init(config: BurstConfig = .init()) { self.config = config }

    public func makeShard() -> BurstDetector { BurstDetector(config: config) }

    public var keyCount: Int { lines.count }

    public func routingKey(of record: CallRecord, context: DetectorContext) -> UInt64? {
        record.caller.isNone ? nil : record.caller.raw
    }

    public mutating func observe(_ r: CallRecord, context: DetectorContext, emit: inout [Alert]) {
        let key = r.caller
        var state = lines.removeValue(forKey: key) ?? LineState()
        let entry = Entry(
            start: r.start, callee: r.callee, durationMs: r.durationMs, answered: r.answered, site: r.site,
            cell: r.cell, ref: r.source)
        if let last = state.entries.last, last.start > r.start {
            // A late record: keep the window sorted.
            var i = state.entries.count
            while i > state.head, state.entries[i - 1].start > r.start { i -= 1 }
            state.entries.insert(entry, at: i)
        } else {
            state.entries.append(entry)
        }
        let now = max(state.lastSeen, r.start)
        state.lastSeen = now
        let from = now - config.window
        while state.head < state.entries.count, state.entries[state.head].start <= from { state.head += 1 }
        if state.head > 64, state.head * 2 > state.entries.count {
            state.entries.removeFirst(state.head)
            state.head = 0
        }
        if state.live >= config.minCalls, !r.flags.contains(.late) {
            evaluate(key: key, state: &state, now: now, context: context, emit: &emit)
        }
        lines[key] = state
    }

    private mutating func evaluate(
        key: Party, state: inout LineState, now: EventTime, context: DetectorContext, emit: inout [Alert]
    ) {
        let window = state.entries[state.head...]
        let n = window.count
        scratch.removeAll(keepingCapacity: true)
        var short = 0
        var answered = 0
        let shortMs = UInt32(config.shortCallSeconds * 1000)
        for e in window {
            scratch.insert(e.callee.raw)
            if e.durationMs < shortMs { short += 1 }
            if e.answered { answered += 1 }
        }
        let distinct = scratch.count
        let shortShare = Double(short) / Double(n)
        let answerRatio = Double(answered) / Double(n)
        let distinctShare = Double(distinct) / Double(n)
        guard distinct >= config.minDistinctCallees, distinctShare >= config.minDistinctShare,
            shortShare >= config.minShortShare, answerRatio <= config.maxAnswerRatio
        else { return }

        let place = PlaceSummary(window.lazy.map { ($0.site, $0.cell) }, sites: context.sites)
        let linked = place.prisonShare >= config.minPrisonShare && place.prison != nil
        // Pattern strength in 0...1.
        let volume = min(1, Double(n) / Double(2 * config.minCalls))
        let strength = 0.3 * volume + 0.3 * distinctShare + 0.2 * shortShare + 0.2 * (1 - answerRatio)
        let score: Double
        let severity: Severity
        if linked {
            score = min(1, 0.6 + 0.4 * strength * (0.5 + 0.5 * place.confidence))
            severity = score >= config.criticalScore ? .critical : .high
        } else {
            score = 0.5 * strength
            severity = strength >= 0.75 ? .medium : .low
        }
        if state.lastAlert != .min, now - state.lastAlert < config.cooldown, severity <= state.lastSeverity {
            return
        }
        state.lastAlert = now
        state.lastSeverity = severity

        let minutes = config.window / CivilTime.minute
        var reasons = [
            "\(n) calls to \(distinct) different numbers within \(minutes) minutes",
            "\(Self.percent(shortShare))% of calls shorter than \(config.shortCallSeconds) s",
            "\(Self.percent(answerRatio))% of calls answered",
        ]
        reasons.append(contentsOf: place.reasons(prisons: context.sites.prisons, linked: linked, calls: n))
        let metrics: [(String, MetricValue)] = [
            ("calls", .int(n)),
            ("distinct_callees", .int(distinct)),
            ("short_call_share", .number(shortShare)),
            ("answer_ratio", .number(answerRatio)),
            ("window_minutes", .int(Int(minutes))),
            ("prison_tower_share", .number(place.prisonShare)),
            ("proximity_confidence", .number(linked ? place.confidence : 0)),
        ]
        emit.append(
            Alert(
                detector: name, severity: severity, score: score, entity: .line(key),
                windowStart: now - config.window, windowEnd: now, detectedAt: now,
                prison: linked ? AlertPrison(index: place.prison!, distanceM: place.distanceM) : nil,
                towers: place.towers, metrics: metrics, reasons: reasons,
                evidence: window.prefix(Alert.maxEvidence).map(\.ref), evidenceTotal: n, related: []))
    }

    public mutating func advance(to watermark: EventTime, context: DetectorContext, emit: inout [Alert]) {
        if lastSweep == .min {
            lastSweep = watermark
            return
        }
        guard watermark == .max || watermark - lastSweep >= config.window else { return }
        lastSweep = watermark
        let idle = watermark == .max ? EventTime.max : watermark - config.window
        let quiet = watermark == .max ? EventTime.max : watermark - config.cooldown
        lines = lines.filter { _, s in s.lastSeen > idle || (s.lastAlert != .min && s.lastAlert > quiet) }
    }

    static func percent(_ x: Double) -> Int { Int((x * 100).rounded()) }
}

/// Where a window's calls came from: the prison they tie to (the most frequent nearest prison
/// of their towers), the share of calls on prison-reaching towers, and the towers most used first.
struct PlaceSummary {
    var prison: Int?
    var prisonShare = 0.0
    var distanceM = 0.0
    var confidence = 0.0
    var towers: [CellID] = []
    var unlocated = 0

    init(_ calls: some Sequence<(UInt32, CellID)>, sites: SiteTable) {
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
        towers = perCell.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.prefix(Alert.maxTowers).map(\.key)
        guard total > 0 else { return }
        prisonShare = Double(linkedCalls) / Double(total)
        guard let best = perPrison.min(by: { ($1.value, $0.key) < ($0.value, $1.key) })?.key else { return }
        prison = best
        // The most used tower that reaches that prison gives the distance and the confidence.
        for cell in perCell.sorted(by: { ($1.value, $0.key) < ($0.value, $1.key) }).map(\.key) {
            let site = sites.site(of: cell)
            if let link = sites.links(ofSite: site).first(where: { $0.prison == best }) {
                distanceM = link.edgeDistanceM
                confidence = link.confidence
                break
            }
        }
    }

    func reasons(prisons: [Prison], linked: Bool, calls: Int) -> [String] {
        var out: [String] = []
        if linked, let p = prison {
            let name = prisons[p].name
            if distanceM <= 0 {
                out.append("calls originate from a tower inside the perimeter of \(name)")
            } else {
                out.append("calls originate \(Int(distanceM.rounded())) m from \(name)")
            }
            out.append("\(BurstDetector.percent(prisonShare))% of the calls used towers whose coverage reaches \(name)")
        } else if unlocated == calls {
            out.append("no call's cell could be placed (pass --towers to locate them)")
        } else if prisonShare > 0, let p = prison {
            out.append(
                "only \(BurstDetector.percent(prisonShare))% of the calls used towers reaching \(prisons[p].name)")
        } else {
            out.append("no tower used reaches a known prison")
        }
        return out
    }
}
