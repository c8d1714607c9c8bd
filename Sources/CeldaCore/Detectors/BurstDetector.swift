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
    /// Share of short calls (ring lines run at 0.8-0.9; a call centre's conversations at 0.2-0.3).
    public var minShortShare = 0.6
    /// Highest answer ratio (a call centre's calls are mostly answered).
    public var maxAnswerRatio = 0.8
    /// Highest share of callees who call the line back (a business's customers do).
    public var maxReciprocity = 0.3
    /// Share of the window's calls that must use prison-reaching towers for the burst to be tied
    /// to a prison.
    public var minPrisonShare = 0.5
    /// Low-and-slow: a long window over the line's prison-linked calls only…
    public var slowWindow: EventTime = 8 * CivilTime.hour
    /// …with at least this many calls…
    public var slowMinCalls = 30
    /// …to at least this many distinct numbers.
    public var slowMinDistinct = 25
    /// A line first seen in the dump less than this before it bursts is new (a fresh SIM).
    public var newLineAge: EventTime = 2 * CivilTime.hour
    /// No repeat alert for the same line within this time unless the severity rises.
    public var cooldown: EventTime = 6 * CivilTime.hour
    /// Score at or above which a prison-linked burst is critical.
    public var criticalScore = 0.85

    public init() {}
}

/// `burst`: per calling line, many calls to many distinct numbers within a sliding window,
/// mostly short or unanswered. From towers that reach a prison it is high or critical and names
/// the prison; an unlinked burst is at most medium. A second, long window over the line's
/// prison-linked calls catches low-and-slow lines that stay under the hourly rate.
///
/// Beyond volume it weighs callee novelty (numbers the line never called before), reciprocity
/// (callees who call the line back, as a business's customers do: above `maxReciprocity` there is
/// no alert) and line age (a new SIM that starts calling at once). State per line is the
/// window's calls; idle lines are evicted once their window and cooldown have passed.
///
/// Given a ``SequentialConfig`` with the same window, it also runs the `sequential` rule over the
/// same windows (their calls to E.164 numbers), with the alerts ``SequentialDetector`` gives:
/// both rules key by the calling line, so one table lookup, one window entry and one expiry serve
/// both (``lineDetectors(burst:sequential:)``).
public struct BurstDetector: Detector {
    public let config: BurstConfig
    /// The `sequential` rule, when this detector runs it too.
    public let sequential: SequentialConfig?
    public var name: String { "burst" }

    struct LineState: BitwiseCopyable {
        var window = EntryList()
        /// Prison-linked calls over the long window.
        var slow = EntryList()
        /// Numbers called before the current window (bounded), in ``sets``.
        var history: Int32 = -1
        /// Numbers that called this line after it called them, in ``sets``.
        var reciprocated: Int32 = -1
        var firstSeen: EventTime = .max
        var lastSeen: EventTime = .min
        var suppression = Suppression()
        /// The `sequential` rule's last alert severity (in the padding after `suppression`).
        var sequentialSeverity = Severity.low
        /// Short and answered calls in `window` and in `slow` (the rule's cheap tests, kept as
        /// calls come and go, so a busy line is not re-read at every call).
        var short: Int32 = 0
        var answered: Int32 = 0
        var slowShort: Int32 = 0
        var slowAnswered: Int32 = 0
        /// A bit for each callee in `window` (``calleeBit(_:)``), and perhaps for some that have
        /// left it: bits are cleared only when the window empties. A call to the line from a
        /// number whose bit is clear cannot be a callee calling back, so the window is not
        /// walked. (Four bytes that fit the slot's padding.)
        var calleeBits: UInt32 = 0
        /// The `sequential` rule's state, when it runs here: calls in `window` to E.164 numbers,
        /// their sorted digits once there are `minRun` of them (a handle into ``sorted``), and
        /// the rule's own cooldown (its last alert's time here, its severity above).
        var dialled: Int32 = 0
        var sortedCallees: Int32 = -1
        var sequentialAlert: EventTime = .min

        var sequentialSuppression: Suppression {
            get { Suppression(lastAlert: sequentialAlert, lastSeverity: sequentialSeverity) }
            set {
                sequentialAlert = newValue.lastAlert
                sequentialSeverity = newValue.lastSeverity
            }
        }
    }

    /// One of 32 bits for a party, from the high bits of a multiplicative hash.
    @inline(__always) static func calleeBit(_ p: Party) -> UInt32 {
        1 << UInt32(truncatingIfNeeded: (p.raw &* 0x9E37_79B9_7F4A_7C15) >> 59)
    }

    private var lines = KeyTable<LineState>(empty: LineState(), capacity: 4096)
    private var pool = EntryPool()
    private var cells = CellIndex()
    private var places = PlaceScratch()
    private var sets = PartySets()
    private var sorted = SortedCallees()
    private var scratch = Set<Party>()
    private var entries: [WindowEntry] = []
    private var sweep = SweepClock()
    static let historyCap = 512

    /// `sequential`, when given, must have the same window as `config`.
    public init(config: BurstConfig = .init(), sequential: SequentialConfig? = nil) {
        precondition(sequential == nil || sequential!.window == config.window, "sequential runs in burst's window")
        self.config = config
        self.sequential = sequential
    }

    /// `burst` and `sequential`: one detector that runs both rules when their windows are equal
    /// (the default) and `together` holds, two otherwise. The alerts are the same either way.
    public static func lineDetectors(
        burst: BurstConfig, sequential: SequentialConfig, together: Bool = true
    ) -> [any Detector] {
        together && sequential.window == burst.window
            ? [BurstDetector(config: burst, sequential: sequential)]
            : [BurstDetector(config: burst), SequentialDetector(config: sequential)]
    }

    public func makeShard() -> BurstDetector { BurstDetector(config: config, sequential: sequential) }

    public var keyCount: Int { lines.count }

    public func routingKey(of record: CallRecord, context: DetectorContext) -> UInt64? {
        record.caller.isNone ? nil : record.caller.raw
    }

    /// Calls to a line tell whether its callees call it back.
    public func secondaryKey(of record: CallRecord, context: DetectorContext) -> UInt64? {
        record.callee.isNone ? nil : record.callee.raw
    }

    @inline(__always)
    public func prefetch(_ r: CallRecord, role: KeyRole, context: DetectorContext) {
        lines.prefetch(role == .primary ? r.caller.raw : r.callee.raw)
    }

    /// The entries an observation reads first: the window's oldest (expiry) and newest (append)
    /// and the history, or for a call to the line, what the reciprocity test reads first.
    @inline(__always)
    public func prefetchState(_ r: CallRecord, role: KeyRole, context: DetectorContext) {
        if role == .secondary {
            guard let i = lines.find(r.callee.raw) else { return }
            sets.prefetch(lines[i].history)
            if lines[i].calleeBits & Self.calleeBit(r.caller) != 0 { pool.prefetch(lines[i].window) }
        } else {
            guard let i = lines.find(r.caller.raw) else { return }
            pool.prefetch(lines[i].window)
            sets.prefetch(lines[i].history)
            if r.isPrisonLinked { pool.prefetch(lines[i].slow) }
        }
    }

    public mutating func observe(
        _ r: CallRecord, role: KeyRole, context: DetectorContext, output: inout DetectorOutput
    ) {
        if role == .secondary {
            // r.caller calls r.callee back?
            guard let i = lines.find(r.callee.raw) else { return }
            if sets.contains(lines[i].history, r.caller)
                || (lines[i].calleeBits & Self.calleeBit(r.caller) != 0
                    && pool.contains(lines[i].window, other: r.caller))
            {
                sets.insert(r.caller, into: &lines[i].reciprocated)
            }
            return
        }
        let key = r.caller
        let i = lines.findOrInsert(key.raw)
        // One uniqueness check for the changes below (nothing here inserts into or removes from `lines`).
        let line = lines.valuePointer(at: i)
        let entry = WindowEntry(
            start: r.start, other: r.callee, durationMs: r.durationMs, answered: r.answered, site: r.site,
            cellKey: cells.key(r.cell, site: r.site),
            ref: r.source)
        let shortMs = UInt32(config.shortCallSeconds * 1000)
        let isShort: Int32 = entry.durationMs < shortMs ? 1 : 0
        let isAnswered: Int32 = entry.answered ? 1 : 0
        pool.insert(entry, into: &line.pointee.window, newest: line.pointee.lastSeen)
        // The sequential rule takes the calls to E.164 numbers.
        let dialled = sequential != nil && r.callee.isE164
        if dialled {
            line.pointee.dialled += 1
            let h = line.pointee.sortedCallees
            if h >= 0 { sorted.insert(r.callee.raw, into: h) }
        }
        line.pointee.calleeBits |= Self.calleeBit(r.callee)
        line.pointee.short += isShort
        line.pointee.answered += isAnswered
        if r.start < line.pointee.firstSeen { line.pointee.firstSeen = r.start }
        let linked = r.isPrisonLinked
        if linked {
            pool.insert(entry, into: &line.pointee.slow)
            line.pointee.slowShort += isShort
            line.pointee.slowAnswered += isAnswered
        }
        let now = max(line.pointee.lastSeen, r.start)
        line.pointee.lastSeen = now
        // Expire, moving callees into the history.
        let from = now - config.window
        while line.pointee.window.head >= 0, pool.first(line.pointee.window).start <= from {
            let old = pool.first(line.pointee.window)
            if sets.count(line.pointee.history) < Self.historyCap {
                sets.insert(old.other, into: &line.pointee.history)
            }
            if old.durationMs < shortMs { line.pointee.short -= 1 }
            if old.answered { line.pointee.answered -= 1 }
            if sequential != nil, old.other.isE164 {
                line.pointee.dialled -= 1
                let h = line.pointee.sortedCallees
                if h >= 0 { sorted.remove(old.other.raw, from: h) }
            }
            pool.removeFirst(&line.pointee.window)
        }
        if line.pointee.window.head < 0 { line.pointee.calleeBits = 0 }
        let slowFrom = now - config.slowWindow
        while line.pointee.slow.head >= 0, pool.first(line.pointee.slow).start <= slowFrom {
            let old = pool.first(line.pointee.slow)
            if old.durationMs < shortMs { line.pointee.slowShort -= 1 }
            if old.answered { line.pointee.slowAnswered -= 1 }
            pool.removeFirst(&line.pointee.slow)
        }
        if !r.flags.contains(.late) {
            if line.pointee.window.count >= config.minCalls,
                cheapTestsHold(n: line.pointee.window.count, short: line.pointee.short, answered: line.pointee.answered)
            {
                var w = entries
                entries = []
                pool.collect(line.pointee.window, into: &w)
                var st = line.pointee
                evaluate(
                    key: key, window: w[...], minutes: config.window, state: &st, now: now, context: context,
                    emit: &output.alerts, slow: false)
                line.pointee.suppression = st.suppression
                entries = w
            }
            if linked, line.pointee.slow.count >= config.slowMinCalls,
                cheapTestsHold(
                    n: line.pointee.slow.count, short: line.pointee.slowShort, answered: line.pointee.slowAnswered)
            {
                var w = entries
                entries = []
                pool.collect(line.pointee.slow, into: &w)
                var st = line.pointee
                evaluate(
                    key: key, window: w[...], minutes: config.slowWindow, state: &st, now: now, context: context,
                    emit: &output.alerts, slow: true)
                line.pointee.suppression = st.suppression
                entries = w
            }
            // The sequential rule over the window's calls to E.164 numbers.
            if dialled, let sequential, line.pointee.dialled >= sequential.minRun {
                SequentialDetector.check(
                    config: sequential, key: key, window: line.pointee.window, dialled: Int(line.pointee.dialled),
                    now: now, pool: pool, cells: cells, sorted: &sorted, handle: &line.pointee.sortedCallees,
                    suppression: &line.pointee.sequentialSuppression, entries: &entries, places: &places,
                    context: context, output: &output)
            }
        }
    }

    /// The rule's first tests (short share, answer ratio) from the kept counts: what
    /// ``evaluate`` checks first, so a window that fails them is not read at all.
    @inline(__always)
    func cheapTestsHold(n: Int32, short: Int32, answered: Int32) -> Bool {
        Double(short) / Double(n) >= config.minShortShare && Double(answered) / Double(n) <= config.maxAnswerRatio
    }

    private mutating func evaluate(
        key: Party, window: ArraySlice<WindowEntry>, minutes span: EventTime, state: inout LineState, now: EventTime,
        context: DetectorContext, emit: inout [Alert], slow: Bool
    ) {
        let n = window.count
        var short = 0
        var answered = 0
        let shortMs = UInt32(config.shortCallSeconds * 1000)
        for e in window {
            if e.durationMs < shortMs { short += 1 }
            if e.answered { answered += 1 }
        }
        // The cheap tests first: a call centre's window fails here without hashing its callees.
        guard Double(short) / Double(n) >= config.minShortShare, Double(answered) / Double(n) <= config.maxAnswerRatio
        else { return }
        scratch.removeAll(keepingCapacity: true)
        var novel = 0
        var reciprocal = 0
        for e in window where scratch.insert(e.other).inserted {
            if !sets.contains(state.history, e.other) { novel += 1 }
            if sets.contains(state.reciprocated, e.other) { reciprocal += 1 }
        }
        let distinct = scratch.count
        let shortShare = Double(short) / Double(n)
        let answerRatio = Double(answered) / Double(n)
        let distinctShare = Double(distinct) / Double(n)
        let novelty = Double(novel) / Double(distinct)
        let reciprocity = Double(reciprocal) / Double(distinct)
        let minDistinct = slow ? config.slowMinDistinct : config.minDistinctCallees
        guard distinct >= minDistinct, distinctShare >= config.minDistinctShare,
            shortShare >= config.minShortShare, answerRatio <= config.maxAnswerRatio,
            reciprocity <= config.maxReciprocity
        else { return }

        let cells = self.cells
        let place = PlaceSummary(window, sites: context.sites, scratch: &places) {
            ($0.site, cells.cell(of: $0, sites: context.sites))
        }
        let linked = place.prisonShare >= config.minPrisonShare && place.prison != nil
        if slow && !linked { return }
        let age = now - state.firstSeen
        let isNew = age < config.newLineAge
        // Pattern strength in 0...1.
        let minCalls = slow ? config.slowMinCalls : config.minCalls
        let volume = min(1, Double(n) / Double(2 * minCalls))
        let strength = Scoring.clamp(
            0.25 * volume + 0.25 * distinctShare + 0.2 * shortShare + 0.15 * (1 - answerRatio) + 0.1 * novelty
                + (isNew ? 0.05 : 0) - reciprocity)
        let (score, severity) =
            linked
            ? Scoring.linked(strength: strength, confidence: place.confidence, critical: config.criticalScore)
            : Scoring.unlinked(strength: strength)
        guard state.suppression.allow(severity, at: now, cooldown: config.cooldown) else { return }

        let minutes = span / CivilTime.minute
        let within = minutes % 60 == 0 && minutes > 60 ? "\(minutes / 60) hours" : "\(minutes) minutes"
        var reasons = [
            "\(n) calls to \(distinct) different numbers within \(within)"
                + (slow ? " from towers reaching a prison, a steady low rate that stays under hourly thresholds" : ""),
            "\(Self.percent(shortShare))% of calls shorter than \(config.shortCallSeconds) s",
            "\(Self.percent(answerRatio))% of calls answered",
            "\(Self.percent(novelty))% of the numbers were never called by this line before in the dump"
                + (reciprocal == 0 ? ", and none of them called it back" : ""),
        ]
        if isNew { reasons.append("the line first appeared in the dump \(age / CivilTime.minute) minutes earlier") }
        reasons.append(contentsOf: place.reasons(prisons: context.sites.prisons, linked: linked, calls: n))
        let metrics: [(String, MetricValue)] = [
            ("calls", .int(n)),
            ("distinct_callees", .int(distinct)),
            ("short_call_share", .number(shortShare)),
            ("answer_ratio", .number(answerRatio)),
            ("callee_novelty", .number(novelty)),
            ("reciprocity", .number(reciprocity)),
            ("line_age_minutes", .int(Int(age / CivilTime.minute))),
            ("window_minutes", .int(Int(minutes))),
            ("prison_tower_share", .number(place.prisonShare)),
            ("proximity_confidence", .number(linked ? place.confidence : 0)),
        ]
        emit.append(
            Alert(
                detector: name, severity: severity, score: score, entity: .line(key),
                windowStart: now - span, windowEnd: now, detectedAt: now,
                prison: linked ? AlertPrison(index: place.prison!, distanceM: place.distanceM) : nil,
                towers: place.towers, metrics: metrics, reasons: reasons,
                evidence: window.prefix(Alert.maxEvidence).map(\.ref), evidenceTotal: n, related: []))
    }

    public mutating func advance(to watermark: EventTime, context: DetectorContext, output: inout DetectorOutput) {
        guard sweep.due(at: watermark, every: min(config.window, 15 * CivilTime.minute)) else { return }
        let idle = SweepClock.idle(watermark, after: config.window)
        let slowIdle = SweepClock.idle(watermark, after: config.slowWindow)
        let cooldown = config.cooldown
        let sequentialCooldown = sequential?.cooldown
        var p = pool
        pool = EntryPool()
        var h = sets
        sets = PartySets()
        var freed = sorted.takeFreed()
        lines.removeAll { s in
            var keep =
                s.lastSeen > idle || (s.slow.count > 0 && s.lastSeen > slowIdle)
                || s.suppression.active(at: watermark, cooldown: cooldown)
            if !keep, let sequentialCooldown {
                keep = s.sequentialSuppression.active(at: watermark, cooldown: sequentialCooldown)
            }
            if !keep {
                p.release(&s.window)
                p.release(&s.slow)
                h.release(&s.history)
                h.release(&s.reciprocated)
                if s.sortedCallees >= 0 { freed.append(s.sortedCallees) }
            }
            return !keep
        }
        pool = p
        sets = h
        sorted.release(freed)
    }

    static func percent(_ x: Double) -> Int { Int((x * 100).rounded()) }
}

/// Memory a detector keeps for ``PlaceSummary`` between windows, so summarising a window
/// allocates nothing once it has grown to the largest window seen.
struct PlaceScratch {
    /// Calls per distinct cell, in first-seen order, then sorted most used first.
    var cells: [(cell: CellID, calls: Int)] = []
    /// Position in `cells` by cell, used once a window has more distinct cells than a linear
    /// search handles well.
    var index: [CellID: Int] = [:]
    /// Calls per prison (by index), and the prisons touched.
    var perPrison: [Int] = []
    var prisons: [Int] = []

    init() {}

    /// Distinct cells looked up by a linear search below this count.
    static let linear = 16
}

/// Where a window's calls came from: the prison they tie to (the most frequent nearest prison
/// of their towers), the share of calls on prison-reaching towers, and the towers most used first.
struct PlaceSummary {
    var prison: Int?
    var prisonShare = 0.0
    var distanceM = 0.0
    var confidence = 0.0
    var unlocated = 0
    /// The most used towers (at most ``Alert/maxTowers``), kept inline: a summary that leads to
    /// no alert allocates nothing.
    private var top = InlineArray<16, CellID>(repeating: .none)
    private var topCount = 0

    /// The most used towers, most used first (ties by cell).
    var towers: [CellID] { (0..<topCount).map { top[$0] } }

    init(_ calls: some Sequence<(UInt32, CellID)>, sites: SiteTable) {
        var scratch = PlaceScratch()
        self.init(calls, sites: sites, scratch: &scratch) { $0 }
    }

    /// From calls of any kind, `place` giving each one's site and cell (a closure argument, not a
    /// lazy map: a map's closure that captures is allocated once per summary).
    init<S: Sequence>(
        _ calls: S, sites: SiteTable, scratch: inout PlaceScratch, place: (S.Element) -> (UInt32, CellID)
    ) {
        scratch.cells.removeAll(keepingCapacity: true)
        scratch.index.removeAll(keepingCapacity: scratch.index.capacity <= 1024)
        if scratch.perPrison.count < sites.prisons.count {
            scratch.perPrison.append(
                contentsOf: repeatElement(0, count: sites.prisons.count - scratch.perPrison.count))
        }
        var linkedCalls = 0
        var total = 0
        for call in calls {
            let (site, cell) = place(call)
            total += 1
            if !cell.isNone { Self.count(cell, in: &scratch) }
            if site == CallRecord.unlocated {
                unlocated += 1
                continue
            }
            if let first = sites.links(ofSite: site).first {
                linkedCalls += 1
                if scratch.perPrison[first.prison] == 0 { scratch.prisons.append(first.prison) }
                scratch.perPrison[first.prison] += 1
            }
        }
        // Most used first, ties by cell.
        Self.sortByUse(&scratch.cells)
        topCount = min(scratch.cells.count, Alert.maxTowers)
        for i in 0..<topCount { top[i] = scratch.cells[i].cell }
        var best: Int?
        var bestCalls = 0
        for p in scratch.prisons {
            let n = scratch.perPrison[p]
            if n > bestCalls || (n == bestCalls && p < best!) {
                best = p
                bestCalls = n
            }
            scratch.perPrison[p] = 0
        }
        scratch.prisons.removeAll(keepingCapacity: true)
        guard total > 0 else { return }
        prisonShare = Double(linkedCalls) / Double(total)
        guard let best else { return }
        prison = best
        // The most used tower that reaches that prison gives the distance and the confidence.
        for (cell, _) in scratch.cells {
            let site = sites.site(of: cell)
            if let link = sites.links(ofSite: site).first(where: { $0.prison == best }) {
                distanceM = link.edgeDistanceM
                confidence = link.confidence
                break
            }
        }
    }

    @inline(__always) private static func count(_ cell: CellID, in scratch: inout PlaceScratch) {
        if scratch.cells.count < PlaceScratch.linear {
            for i in scratch.cells.indices where scratch.cells[i].cell == cell {
                scratch.cells[i].calls += 1
                return
            }
            scratch.cells.append((cell, 1))
            if scratch.cells.count == PlaceScratch.linear {
                for i in scratch.cells.indices { scratch.index[scratch.cells[i].cell] = i }
            }
            return
        }
        if let i = scratch.index[cell] {
            scratch.cells[i].calls += 1
        } else {
            scratch.index[cell] = scratch.cells.count
            scratch.cells.append((cell, 1))
        }
    }

    /// Most used first, ties by cell: an insertion sort (a window uses few cells), in place.
    private static func sortByUse(_ cells: inout [(cell: CellID, calls: Int)]) {
        @inline(__always) func before(_ a: (cell: CellID, calls: Int), _ b: (cell: CellID, calls: Int)) -> Bool {
            a.calls != b.calls ? a.calls > b.calls : a.cell < b.cell
        }
        if cells.count > 64 {
            cells.sort(by: before)
            return
        }
        cells.withUnsafeMutableBufferPointer { $0.insertionSort(by: before) }
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
