/// Thresholds of the `victim` detector.
public struct VictimConfig: Sendable, Hashable {
    /// Window over which a number's prison-linked callers are counted.
    public var window: EventTime = 48 * CivilTime.hour
    /// Distinct prison-linked lines calling one number.
    public var minLines = 3
    /// Or calls from one prison-linked line…
    public var minRepeat = 6
    /// …this share of them unanswered (a victim who stopped picking up).
    public var minRepeatUnansweredShare = 0.5
    public var shortCallSeconds = 60
    /// A number called by more distinct lines than this in the window is popular (a radio call-in
    /// line, a business) and not treated as a victim…
    public var maxCallers = 40
    /// …nor when prison-linked lines are less than this share of its callers.
    public var minPrisonCallerShare = 0.25
    public var cooldown: EventTime = 6 * CivilTime.hour
    public var criticalScore = 0.85
    /// Virtual kidnapping: an answered prison-linked call at least this long keeps the victim on
    /// the line…
    public var kidnapMinCall: EventTime = 10 * CivilTime.minute
    /// …and the numbers the victim usually calls are told from a pair sketch of this many MiB
    /// (one per run; see ``PairSketch`` for how its size bounds false matches).
    public var pairSketchMiB = 128
    /// A kidnapping needs its family matches to be this unlikely by chance (the sketch's false
    /// matches over the calls tested).
    public var kidnapMaxChance = 0.001
    public init() {}
}

/// `victim`: one called number reached by several distinct prison-linked lines (or again and again
/// by one) within a window, counting only calls from towers that reach a prison. `related` lists
/// the calling lines. A number that many other lines call too (a radio call-in number) is not a
/// victim, nor is a line the number itself calls (family and friends call each other).
///
/// Neighbours of a prison call their family too, so a candidate becomes an alert only when the
/// second stage (``VictimStage``) finds at least one of its calling lines flagged by a line
/// detector (`burst`, `sequential`, `sim-churn`). It also reports every prison-linked caller of a
/// number called from two or more prisons to the `alliance` second stage.
public struct VictimDetector: Detector {
    public let config: VictimConfig
    public var name: String { "victim" }

    struct State: BitwiseCopyable {
        var calls = EntryList()
        /// Callers within the window by last call time (bounded; popular numbers saturate it), in
        /// ``callerTimes``.
        var callers: Int32 = -1
        /// Lines this number called (never counted against it), in ``sets``.
        var contacts: Int32 = -1
        /// Lines already reported to the alliance stage, in ``sets``.
        var reported: Int32 = -1
        var lastSeen: EventTime = .min
        var suppression = Suppression()
    }

    /// Calls to one number, halved at every multiple of the half-life of event time (so the
    /// count depends only on the number's own calls, however keys are split across shards), and
    /// whether the number is watched (has a ``State``): most calls are to numbers that are not,
    /// and this slot, read for every call anyway, tells so without a lookup in ``states``.
    struct Popularity {
        /// The count (saturating at 2^31 - 1) in the low 31 bits, the watched flag in the top bit.
        var word: UInt32 = 0
        /// The epoch of `count` (a new number's is the earliest, so any call decays it to 0).
        var epoch: Int32 = .min

        static let watchedBit: UInt32 = 1 << 31

        var count: UInt32 { word & ~Self.watchedBit }

        var isWatched: Bool {
            get { word & Self.watchedBit != 0 }
            set { word = newValue ? word | Self.watchedBit : word & ~Self.watchedBit }
        }

        func decayed(to e: Int32) -> UInt32 {
            let gap = Int(e) - Int(epoch)
            return gap <= 0 ? count : gap >= 32 ? 0 : count >> UInt32(gap)
        }

        /// One more call at epoch `e` (the count first decayed to it).
        mutating func add(at e: Int32) {
            var c = count
            if e > epoch {
                c = decayed(to: e)
                epoch = e
            }
            if c < ~Self.watchedBit { c += 1 }
            word = word & Self.watchedBit | c
        }
    }

    private var states = KeyTable<State>(empty: State(), capacity: 1024)
    private var pool = EntryPool()
    private var cells = CellIndex()
    private var places = PlaceScratch()
    private var sets = PartySets()
    private var callerTimes = PartyTimes()
    private var entries: [WindowEntry] = []
    /// Scratch of ``evaluate``: prison-linked calls per calling line, and the prisons seen.
    private var tally: [Party: (calls: Int, short: Int, first: EventTime, prison: Int)] = [:]
    private var prisonScratch: [Int] = []
    private var sweep = SweepClock()
    /// Recent calls per number, for every number routed here (popularity).
    private var numbers = KeyTable<Popularity>(empty: Popularity(), capacity: 1 << 14)
    private let halfLife: EventTime
    /// Calls per (caller, number) pair (the numbers a line usually calls): the run's one sketch,
    /// shared by all its shards.
    private let pairs: PairSketch
    /// Calls not yet added to ``pairs``, by ``PairSketch/hash(caller:callee:)``: added
    /// ``pairQueue`` at a time, and at the end of the run (the sketch is read only after it).
    private var queuedPairs: [UInt64] = []
    static let pairQueue = 4096
    /// Scratch of a sweep: the numbers it stops watching.
    private var unwatched: [UInt64] = []
    /// The epoch of the last sweep of ``numbers``.
    private var numbersSwept: Int32 = .min

    public init(config: VictimConfig = .init()) {
        self.init(config: config, pairs: PairSketch(mebibytes: config.pairSketchMiB))
    }

    init(config: VictimConfig, pairs: PairSketch) {
        self.config = config
        self.halfLife = max(CivilTime.minute, config.window / 2)
        self.pairs = pairs
    }
    public func makeShard() -> VictimDetector { VictimDetector(config: config, pairs: pairs) }
    public func startingRun() -> VictimDetector { VictimDetector(config: config) }
    public var keyCount: Int { states.count }

    public func routingKey(of r: CallRecord, context: DetectorContext) -> UInt64? {
        r.callee.isNone ? nil : r.callee.raw
    }

    /// The caller's own outgoing calls tell which lines are its contacts.
    public func secondaryKey(of r: CallRecord, context: DetectorContext) -> UInt64? {
        r.caller.isNone ? nil : r.caller.raw
    }

    @inline(__always) func epoch(_ t: EventTime) -> Int32 {
        Int32(truncatingIfNeeded: t >= 0 ? t / halfLife : (t - halfLife + 1) / halfLife)
    }

    @inline(__always)
    public func prefetch(_ r: CallRecord, role: KeyRole, context: DetectorContext) {
        if role == .secondary {
            states.prefetch(r.caller.raw)
            return
        }
        numbers.prefetch(r.callee.raw)
        // Other calls need the number's state only if it is watched, which its popularity slot
        // tells (``prefetchState(_:role:context:)``).
        if r.isPrisonLinked { states.prefetch(r.callee.raw) }
    }

    /// A prison-linked call's number: its window of calls (the oldest entry, which expiry reads).
    /// Another call's: its state, if it is watched.
    @inline(__always)
    public func prefetchState(_ r: CallRecord, role: KeyRole, context: DetectorContext) {
        guard role == .primary else { return }
        if r.isPrisonLinked {
            if let i = states.find(r.callee.raw) { pool.prefetch(states[i].calls) }
        } else if let n = numbers.find(r.callee.raw), numbers[n].isWatched {
            states.prefetch(r.callee.raw)
        }
    }

    public mutating func observe(
        _ r: CallRecord, role: KeyRole, context: DetectorContext, output: inout DetectorOutput
    ) {
        if role == .secondary {
            // r.caller is a number we may be watching as a victim: it calls r.callee.
            if let i = states.find(r.caller.raw) { sets.insert(r.callee, into: &states[i].contacts) }
            return
        }
        let key = r.callee
        let n = numbers.findOrInsert(key.raw)
        // One uniqueness check per table for the changes below (neither table changes shape after
        // its lookup).
        let number = numbers.valuePointer(at: n)
        number.pointee.add(at: epoch(r.start))
        if !r.caller.isNone {
            if queuedPairs.count >= Self.pairQueue { addQueuedPairs() }
            queuedPairs.append(PairSketch.hash(caller: r.caller, callee: key))
        }
        let link = context.prisonLink(r)
        if let link, !r.caller.isNone {
            output.prisonCalls.append(
                VictimLink(victim: key, caller: r.caller, prison: link.prison, time: r.start, ref: r.source))
            let length = EventTime(r.durationMs) * 1000
            if r.answered, length >= config.kidnapMinCall {
                output.longCalls.append(
                    LongCall(
                        victim: key, caller: r.caller, prison: link.prison, start: r.start, end: r.start + length,
                        ref: r.source))
            }
        }
        // Only numbers prison lines call are watched.
        let watched = number.pointee.isWatched
        if link == nil && !watched { return }
        let i: Int
        if watched {
            guard let found = states.find(key.raw) else { preconditionFailure("a watched number has a state") }
            i = found
        } else {
            i = states.findOrInsert(key.raw)
            number.pointee.isWatched = true
        }
        let state = states.valuePointer(at: i)
        let now = max(state.pointee.lastSeen, r.start)
        state.pointee.lastSeen = now
        if callerTimes.count(state.pointee.callers) < config.maxCallers * 2
            || callerTimes.time(state.pointee.callers, of: r.caller) != nil
        {
            callerTimes.set(r.caller, r.start, in: &state.pointee.callers)
        }
        if link != nil {
            pool.insert(
                WindowEntry(
                    start: r.start, other: r.caller, durationMs: r.durationMs, answered: r.answered, site: r.site,
                    cellKey: cells.key(r.cell, site: r.site), ref: r.source),
                into: &state.pointee.calls)
        }
        pool.expire(&state.pointee.calls, before: now - config.window)
        if link != nil, !r.flags.contains(.late) {
            var s = state.pointee
            let recentCalls = Int(number.pointee.decayed(to: epoch(now)))
            evaluate(key, &s, now: now, recentCalls: recentCalls, context: context, output: &output)
            state.pointee.suppression = s.suppression
            state.pointee.reported = s.reported
        }
    }

    private mutating func evaluate(
        _ key: Party, _ s: inout State, now: EventTime, recentCalls: Int, context: DetectorContext,
        output: inout DetectorOutput
    ) {
        let from = now - config.window
        // Callers count within the window, as the rule reads ("more than 40 callers in 48 hours").
        callerTimes.keep(s.callers, after: from)
        // The window, tally and prison list live in scratch kept between calls: evaluating
        // allocates nothing until an alert is written.
        var window = entries
        entries = []
        var perLine = tally
        tally = [:]
        var prisons = prisonScratch
        prisonScratch = []
        defer {
            entries = window
            tally = perLine
            prisonScratch = prisons
        }
        perLine.removeAll(keepingCapacity: perLine.capacity <= 1024)
        prisons.removeAll(keepingCapacity: true)
        pool.collect(s.calls, into: &window)
        let contacts = s.contacts
        window.removeAll { sets.contains(contacts, $0.other) }
        guard !window.isEmpty else { return }
        for e in window {
            let prison = context.sites.links(ofSite: e.site).first?.prison ?? -1
            var v = perLine[e.other] ?? (0, 0, e.start, prison)
            v.calls += 1
            if !e.answered { v.short += 1 }
            perLine[e.other] = v
        }
        // Alliance findings: a number called from two or more prisons.
        for v in perLine.values where !prisons.contains(v.prison) { prisons.append(v.prison) }
        if prisons.count >= 2 {
            for (line, v) in perLine.sorted(by: { $0.key < $1.key }) where !sets.contains(s.reported, line) {
                sets.insert(line, into: &s.reported)
                let first = window.first { $0.other == line }!
                output.victimLinks.append(
                    VictimLink(victim: key, caller: line, prison: v.prison, time: v.first, ref: first.ref))
            }
        }
        let lines = perLine.count
        let top = perLine.max { ($0.value.calls, $1.key) < ($1.value.calls, $0.key) }!
        let repeatHolds =
            top.value.calls >= config.minRepeat
            && Double(top.value.short) / Double(top.value.calls) >= config.minRepeatUnansweredShare
        guard lines >= config.minLines || repeatHolds else { return }
        let totalCallers = callerTimes.count(s.callers)
        let prisonShare = Double(lines) / Double(max(totalCallers, lines))
        guard totalCallers <= config.maxCallers, prisonShare >= config.minPrisonCallerShare else { return }
        // Calls the number received recently, watched or not.
        guard
            recentCalls <= 4 * config.maxCallers
                || Double(window.count) / Double(recentCalls) >= config.minPrisonCallerShare
        else { return }

        let cells = self.cells
        let place = PlaceSummary(window, sites: context.sites, scratch: &places) {
            ($0.site, cells.cell(of: $0, sites: context.sites))
        }
        let strength =
            0.5 * min(1, Double(lines) / Double(2 * config.minLines)) + 0.3
            * min(1, Double(top.value.calls) / Double(2 * config.minRepeat)) + 0.2 * prisonShare
        let (score, severity) = Scoring.linked(
            strength: strength, confidence: place.confidence, critical: config.criticalScore)
        guard s.suppression.allow(severity, at: now, cooldown: config.cooldown) else { return }
        let hours = config.window / CivilTime.hour
        let prisonNames = prisons.filter { $0 >= 0 }.sorted().map { context.sites.prisons[$0].name }
        var reasons: [String] = []
        if lines >= config.minLines {
            reasons.append(
                "\(lines) different lines on towers reaching a prison called this number within \(hours) hours")
        }
        if repeatHolds {
            reasons.append(
                "one prison-linked line called it \(top.value.calls) times, \(Scoring.percent(Double(top.value.short) / Double(top.value.calls)))% unanswered"
            )
        }
        reasons.append(
            "prison-linked lines are \(lines) of the \(totalCallers) lines that called it (\(Scoring.percent(prisonShare))%)"
        )
        if prisonNames.count > 1 {
            reasons.append(
                "the calls come from towers of \(prisonNames.count) prisons: \(prisonNames.joined(separator: "; "))")
        } else if let p = place.prison {
            reasons.append(
                place.distanceM <= 0
                    ? "calls originate from a tower inside the perimeter of \(context.sites.prisons[p].name)"
                    : "calls originate \(Int(place.distanceM.rounded())) m from \(context.sites.prisons[p].name)")
        }
        let related = perLine.sorted { ($0.value.first, $0.key) < ($1.value.first, $1.key) }.map { Entity.line($0.key) }
        output.victimCandidates.append(
            Alert(
                detector: name, severity: severity, score: score, entity: .victim(key), windowStart: from,
                windowEnd: now,
                detectedAt: now, prison: place.prison.map { AlertPrison(index: $0, distanceM: place.distanceM) },
                towers: place.towers,
                metrics: [
                    ("prison_lines", .int(lines)), ("prison_calls", .int(window.count)),
                    ("max_calls_one_line", .int(top.value.calls)), ("callers_total", .int(totalCallers)),
                    ("prison_caller_share", .number(prisonShare)), ("prisons", .int(prisonNames.count)),
                    ("window_hours", .int(Int(hours))),
                ],
                reasons: reasons, evidence: window.prefix(Alert.maxEvidence).map(\.ref), evidenceTotal: window.count,
                related: related))
    }

    /// Whether the numbers flagged watched are exactly those with a state (for tests).
    func watchedAreTheStates() -> Bool {
        var watched = 0
        for n in 0..<numbers.capacity where numbers.key(at: n) != 0 && numbers[n].isWatched {
            watched += 1
            if states.find(numbers.key(at: n)) == nil { return false }
        }
        return watched == states.count
    }

    /// Adds the queued calls to the pair sketch.
    private mutating func addQueuedPairs() {
        if queuedPairs.isEmpty { queuedPairs.reserveCapacity(Self.pairQueue) }
        queuedPairs.withUnsafeBufferPointer { pairs.add(hashes: $0) }
        queuedPairs.removeAll(keepingCapacity: true)
    }

    public mutating func finish(context: DetectorContext, output: inout DetectorOutput) {
        advance(to: .max, context: context, output: &output)
        addQueuedPairs()
        // Every shard of the run lists the same sketch; merged findings keep it once.
        output.pairSketches.append(pairs)
    }

    public mutating func advance(to watermark: EventTime, context: DetectorContext, output: inout DetectorOutput) {
        guard sweep.due(at: watermark, every: CivilTime.hour) else { return }
        let idle = SweepClock.idle(watermark, after: config.window)
        let cooldown = config.cooldown
        var p = pool
        pool = EntryPool()
        var h = sets
        sets = PartySets()
        var t = callerTimes
        callerTimes = PartyTimes()
        var gone = unwatched
        unwatched = []
        gone.removeAll(keepingCapacity: true)
        states.removeAll(whereKey: { key, s in
            // A number is watched while prison-linked calls to it are in the window: its callers
            // and contacts are those of this run of prison calls, so the state is bounded by time.
            let drop =
                !(p.newest(s.calls).map { $0 > idle } ?? false
                || s.suppression.active(at: watermark, cooldown: cooldown))
            if drop {
                p.release(&s.calls)
                h.release(&s.contacts)
                h.release(&s.reported)
                t.release(&s.callers)
                gone.append(key)
            } else {
                // Callers older than the window no longer count (evaluation drops them too).
                t.keep(s.callers, after: idle)
            }
            return drop
        })
        pool = p
        sets = h
        callerTimes = t
        for key in gone {
            guard let n = numbers.find(key) else { preconditionFailure("a watched number has a popularity") }
            numbers[n].isWatched = false
        }
        unwatched = gone
        // Numbers whose recent calls have decayed away (a watched one stays: its flag is there).
        // What has decayed changes with the epoch: one pass over the table an epoch (half the
        // window), not one an hour.
        let now = watermark == .max ? Int32.max : epoch(watermark)
        if watermark != .max, now != numbersSwept {
            numbers.removeAll { !$0.isWatched && $0.decayed(to: now) == 0 }
            numbersSwept = now
        }
    }
}
