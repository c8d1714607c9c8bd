/// Thresholds of the `sequential` detector.
public struct SequentialConfig: Sendable, Hashable {
    /// Sliding window length.
    public var window: EventTime = 60 * CivilTime.minute
    /// Callees in one run of near-consecutive numbers before the rule holds.
    public var minRun = 8
    /// Largest step between two numbers of a run (a list dialled down with gaps).
    public var maxGap: UInt64 = 10
    public var cooldown: EventTime = 6 * CivilTime.hour
    public var minPrisonShare = 0.5
    public var criticalScore = 0.85
    public init() {}
}

/// `sequential`: a line dialling down a list: many callees that are consecutive or
/// near-consecutive numbers within a window (sorted callees whose steps are at most `maxGap`).
public struct SequentialDetector: Detector {
    public let config: SequentialConfig
    public var name: String { Self.detectorName }
    static let detectorName = "sequential"

    struct LineState: BitwiseCopyable {
        var window = EntryList()
        var lastSeen: EventTime = .min
        var suppression = Suppression()
        /// Once the window has held `minRun` calls: its callees' digits, sorted (a handle into
        /// ``sorted``), kept up to date as calls come and go so a busy line is not re-sorted.
        var sortedCallees: Int32 = -1
    }

    private var lines = KeyTable<LineState>(empty: LineState(), capacity: 4096)
    private var pool = EntryPool()
    private var cells = CellIndex()
    private var places = PlaceScratch()
    private var sorted = SortedCallees()
    private var entries: [WindowEntry] = []
    private var sweep = SweepClock()

    public init(config: SequentialConfig = .init()) { self.config = config }
    public func makeShard() -> SequentialDetector { SequentialDetector(config: config) }
    public var keyCount: Int { lines.count }

    public func routingKey(of r: CallRecord, context: DetectorContext) -> UInt64? {
        r.caller.isNone || !r.callee.isE164 ? nil : r.caller.raw
    }

    @inline(__always)
    public func prefetch(_ r: CallRecord, role: KeyRole, context: DetectorContext) { lines.prefetch(r.caller.raw) }

    /// The window's oldest entry (expiry) and newest (append).
    @inline(__always)
    public func prefetchState(_ r: CallRecord, role: KeyRole, context: DetectorContext) {
        if let i = lines.find(r.caller.raw) { pool.prefetch(lines[i].window) }
    }

    public mutating func observe(
        _ r: CallRecord, role: KeyRole, context: DetectorContext, output: inout DetectorOutput
    ) {
        let i = lines.findOrInsert(r.caller.raw)
        // One uniqueness check for the changes below (nothing here inserts into or removes from `lines`).
        let line = lines.valuePointer(at: i)
        pool.insert(
            WindowEntry(
                start: r.start, other: r.callee, durationMs: r.durationMs, answered: r.answered, site: r.site,
                cellKey: cells.key(r.cell, site: r.site), ref: r.source),
            into: &line.pointee.window, newest: line.pointee.lastSeen)
        let h = line.pointee.sortedCallees
        if h >= 0 { sorted.insert(r.callee.raw, into: h) }
        let now = max(line.pointee.lastSeen, r.start)
        line.pointee.lastSeen = now
        let from = now - config.window
        while line.pointee.window.head >= 0, pool.first(line.pointee.window).start <= from {
            if h >= 0 { sorted.remove(pool.first(line.pointee.window).other.raw, from: h) }
            pool.removeFirst(&line.pointee.window)
        }
        if line.pointee.window.count >= config.minRun, !r.flags.contains(.late) {
            Self.check(
                config: config, key: r.caller, window: line.pointee.window, dialled: nil, now: now, pool: pool,
                cells: cells, sorted: &sorted, handle: &line.pointee.sortedCallees,
                suppression: &line.pointee.suppression, entries: &entries, places: &places, context: context,
                output: &output)
        }
    }

    /// The rule at a call, once the window holds `minRun` calls to E.164 numbers: the longest run
    /// of their sorted digits (sorted from the window the first time, into `handle`), and the
    /// alert when it is long enough. `dialled`, when the window also holds calls to other
    /// numbers (``BurstDetector``'s), is how many are to E.164 numbers.
    static func check(
        config: SequentialConfig, key: Party, window: EntryList, dialled: Int?, now: EventTime, pool: EntryPool,
        cells: CellIndex, sorted: inout SortedCallees, handle: inout Int32, suppression: inout Suppression,
        entries: inout [WindowEntry], places: inout PlaceScratch, context: DetectorContext,
        output: inout DetectorOutput
    ) {
        if handle < 0 {
            pool.collect(window, into: &entries)
            handle = sorted.make(entries, e164Only: dialled != nil)
        }
        let run = sorted.longestRun(handle, maxGap: config.maxGap)
        guard run.length >= config.minRun else { return }
        pool.collect(window, into: &entries)
        if let dialled, dialled != entries.count { entries.removeAll { !$0.other.isE164 } }
        evaluate(
            config: config, key: key, window: entries[...], run: run, suppression: &suppression, now: now,
            cells: cells, places: &places, context: context, output: &output)
    }

    /// ``longestRun(_:maxGap:)`` of values already sorted.
    static func longestRunSorted(_ values: [UInt64], maxGap: UInt64) -> (length: Int, first: UInt64, last: UInt64) {
        var best = (0, UInt64(0), UInt64(0))
        var runStart = 0
        var length = 0
        var prev: UInt64?
        for (i, v) in values.enumerated() {
            if let p = prev, v == p { continue }
            if let p = prev, v - p <= maxGap {
                length += 1
            } else {
                runStart = i
                length = 1
            }
            prev = v
            if length > best.0 { best = (length, values[runStart], v) }
        }
        return best
    }

    /// The longest run of distinct sorted numbers whose steps are at most `maxGap`.
    package static func longestRun(
        _ values: inout [UInt64], maxGap: UInt64
    ) -> (length: Int, first: UInt64, last: UInt64) {
        values.sort()
        return longestRunSorted(values, maxGap: maxGap)
    }

    /// The rule's alert for a window whose longest run reached `minRun` (``BurstDetector`` calls
    /// it too, over the calls of its own window to E.164 numbers, when it runs this rule).
    static func evaluate(
        config: SequentialConfig, key: Party, window: ArraySlice<WindowEntry>,
        run: (length: Int, first: UInt64, last: UInt64), suppression: inout Suppression, now: EventTime,
        cells: CellIndex, places: inout PlaceScratch, context: DetectorContext, output: inout DetectorOutput
    ) {
        let n = window.count
        let place = PlaceSummary(window, sites: context.sites, scratch: &places) {
            ($0.site, cells.cell(of: $0, sites: context.sites))
        }
        let linked = place.prisonShare >= config.minPrisonShare && place.prison != nil
        let strength =
            0.6 * min(1, Double(run.length) / Double(2 * config.minRun)) + 0.4 * Double(run.length) / Double(n)
        let (score, severity) =
            linked
            ? Scoring.linked(strength: strength, confidence: place.confidence, critical: config.criticalScore)
            : Scoring.unlinked(strength: strength)
        guard suppression.allow(severity, at: now, cooldown: config.cooldown) else { return }
        let minutes = config.window / CivilTime.minute
        var reasons = [
            "\(run.length) of \(n) numbers called within \(minutes) minutes are consecutive or nearly so "
                + "(+\(run.first) to +\(run.last), steps of at most \(config.maxGap))",
            "a list being dialled down in order",
        ]
        reasons += place.reasons(prisons: context.sites.prisons, linked: linked, calls: n)
        output.alerts.append(
            Alert(
                detector: detectorName, severity: severity, score: score, entity: .line(key),
                windowStart: now - config.window,
                windowEnd: now, detectedAt: now,
                prison: linked ? AlertPrison(index: place.prison!, distanceM: place.distanceM) : nil,
                towers: place.towers,
                metrics: [
                    ("calls", .int(n)), ("sequential_run", .int(run.length)), ("max_gap", .int(Int(config.maxGap))),
                    ("window_minutes", .int(Int(minutes))), ("prison_tower_share", .number(place.prisonShare)),
                    ("proximity_confidence", .number(linked ? place.confidence : 0)),
                ],
                reasons: reasons, evidence: window.prefix(Alert.maxEvidence).map(\.ref), evidenceTotal: n, related: []))
    }

    public mutating func advance(to watermark: EventTime, context: DetectorContext, output: inout DetectorOutput) {
        guard sweep.due(at: watermark, every: min(config.window, 15 * CivilTime.minute)) else { return }
        let idle = SweepClock.idle(watermark, after: config.window)
        let cooldown = config.cooldown
        var p = pool
        pool = EntryPool()
        var freed = sorted.takeFreed()
        lines.removeAll { s in
            let drop = !(s.lastSeen > idle || s.suppression.active(at: watermark, cooldown: cooldown))
            if drop {
                p.release(&s.window)
                if s.sortedCallees >= 0 { freed.append(s.sortedCallees) }
            }
            return drop
        }
        pool = p
        sorted.release(freed)
    }
}

/// The callees of busy lines as sorted digit arrays, kept up to date as calls enter and leave a
/// window so a line is not re-sorted at every call: ``SequentialDetector``'s state, and
/// ``BurstDetector``'s when it runs the sequential rule over its own windows. A line holds a
/// handle (`-1`: none yet); the arrays of dropped lines are reused.
struct SortedCallees: Sendable {
    private var arrays: [[UInt64]] = []
    private var free: [Int32] = []
    /// Scratch of a sweep: the handles of the lines it drops (``takeFreed()``, ``release(_:)``).
    private var freed: [Int32] = []

    /// A new array of the callees of `window` (those that are E.164 numbers only, when asked).
    mutating func make(_ window: [WindowEntry], e164Only: Bool) -> Int32 {
        let h: Int32
        if let f = free.popLast() {
            h = f
        } else {
            arrays.append([])
            h = Int32(arrays.count - 1)
        }
        var values = arrays[Int(h)]
        arrays[Int(h)] = []
        values.removeAll(keepingCapacity: true)
        for e in window where !e164Only || e.other.isE164 { values.append(e.other.raw) }
        values.sort()
        arrays[Int(h)] = values
        return h
    }

    @inline(__always) static func position(_ v: UInt64, in a: [UInt64]) -> Int {
        var lo = 0
        var hi = a.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if a[mid] < v { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    @inline(__always) mutating func insert(_ v: UInt64, into h: Int32) {
        Self.insert(v, into: &arrays[Int(h)])
    }

    @inline(__always) mutating func remove(_ v: UInt64, from h: Int32) {
        Self.remove(v, from: &arrays[Int(h)])
    }

    static func insert(_ v: UInt64, into a: inout [UInt64]) { a.insert(v, at: position(v, in: a)) }

    static func remove(_ v: UInt64, from a: inout [UInt64]) {
        let k = position(v, in: a)
        if k < a.count, a[k] == v { a.remove(at: k) }
    }

    func longestRun(_ h: Int32, maxGap: UInt64) -> (length: Int, first: UInt64, last: UInt64) {
        SequentialDetector.longestRunSorted(arrays[Int(h)], maxGap: maxGap)
    }

    /// An empty list to collect the handles a sweep drops into (its storage reused).
    mutating func takeFreed() -> [Int32] {
        var f = freed
        freed = []
        f.removeAll(keepingCapacity: true)
        return f
    }

    /// Frees the arrays of dropped lines (a list from ``takeFreed()``).
    mutating func release(_ handles: [Int32]) {
        for h in handles {
            arrays[Int(h)].removeAll(keepingCapacity: arrays[Int(h)].capacity <= 128)
            free.append(h)
        }
        freed = handles
    }
}
