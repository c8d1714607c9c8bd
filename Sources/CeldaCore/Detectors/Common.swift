/// One alert per entity while a pattern lasts: a new one only when it escalates or after the
/// cooldown. Lives in the detector's per-key state, so a sharded run suppresses like one process.
struct Suppression: Sendable {
    var lastAlert: EventTime = .min
    var lastSeverity = Severity.low

    /// Whether an alert of `severity` at `now` goes out (and remembers it if so).
    mutating func allow(_ severity: Severity, at now: EventTime, cooldown: EventTime) -> Bool {
        if lastAlert != .min, now - lastAlert < cooldown, severity <= lastSeverity { return false }
        lastAlert = now
        lastSeverity = severity
        return true
    }

    /// Whether the key must be kept for suppression at `watermark`.
    func active(at watermark: EventTime, cooldown: EventTime) -> Bool {
        lastAlert != .min && watermark != .max && lastAlert > watermark - cooldown
    }
}

/// How scores and severities are built (documented in the README).
///
/// A detector computes a pattern *strength* in 0…1. Tied to a prison (its calls use towers whose
/// coverage reaches one), the score is `0.6 + 0.4 · strength · (0.5 + 0.5 · confidence)` and the
/// severity **critical** at `criticalScore` or above, else **high**. Not tied to a prison, the score
/// is `0.5 · strength` and the severity **medium** when the strength is at least 0.75, else **low**.
public enum Scoring {
    public static func linked(strength: Double, confidence: Double, critical: Double) -> (Double, Severity) {
        let s = min(1, 0.6 + 0.4 * clamp(strength) * (0.5 + 0.5 * clamp(confidence)))
        return (s, s >= critical ? .critical : .high)
    }

    public static func unlinked(strength: Double) -> (Double, Severity) {
        (0.5 * clamp(strength), strength >= 0.75 ? .medium : .low)
    }

    @inlinable public static func clamp(_ x: Double) -> Double { min(1, max(0, x)) }

    static func percent(_ x: Double) -> Int { Int((x * 100).rounded()) }
}

/// Shared by the per-line detectors: a window's calls.
struct WindowEntry: Sendable {
    var start: EventTime
    var other: Party
    var durationMs: UInt32
    var answered: Bool
    var site: UInt32
    var cell: CellID
    var ref: SourceRef
}

/// A time-ordered window of entries with cheap expiry from the front.
struct EntryWindow: Sendable {
    var entries: [WindowEntry] = []
    var head = 0

    var live: ArraySlice<WindowEntry> { entries[head...] }
    var count: Int { entries.count - head }

    /// Inserts in time order (late records go to their place).
    mutating func insert(_ e: WindowEntry) {
        if let last = entries.last, last.start > e.start {
            var i = entries.count
            while i > head, entries[i - 1].start > e.start { i -= 1 }
            entries.insert(e, at: i)
        } else {
            entries.append(e)
        }
    }

    /// Drops entries at or before `from`.
    mutating func expire(before from: EventTime) {
        while head < entries.count, entries[head].start <= from { head += 1 }
        if head > 64, head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }
}

/// A count-min sketch of calls per number with exponential forgetting: the cheap first filter
/// that tells a popular number (a radio call-in line, a business) from a victim without keeping
/// state for every number. Four hashed counters per update.
///
/// The counters are split by key group (``KeyPartition/group(of:)``): a number shares counters
/// only with numbers of its own group, and a group's counters halve at fixed multiples of the
/// half-life (from the epoch), so an estimate depends only on the calls to the numbers of that
/// group, never on which other keys a shard, thread or cluster partition happens to hold.
struct CallSketch: Sendable {
    /// Counters per row in each key group.
    static let width = 64
    static let rows = 4
    /// Each group's counters (`rows × width`), allocated when the group is first used.
    var counts: [[UInt32]] = Array(repeating: [], count: KeyPartition.groups)
    /// Each group's last halving time (a multiple of the half-life).
    var lastDecay: [EventTime] = Array(repeating: 0, count: KeyPartition.groups)
    let halfLife: EventTime

    init(halfLife: EventTime) { self.halfLife = max(1, halfLife) }

    @inline(__always) func slot(_ key: UInt64, _ row: Int) -> Int {
        let h = StableHash.mix(key &+ UInt64(row) &* 0x9E37_79B9_7F4A_7C15)
        return row * CallSketch.width + Int(h % UInt64(CallSketch.width))
    }

    /// The start of the half-life period holding `t`.
    @inline(__always) func period(_ t: EventTime) -> EventTime {
        let q = t / halfLife
        return (t % halfLife < 0 ? q - 1 : q) * halfLife
    }

    mutating func add(_ key: UInt64, at t: EventTime) {
        let g = KeyPartition.group(of: key)
        if counts[g].isEmpty {
            counts[g] = [UInt32](repeating: 0, count: CallSketch.rows * CallSketch.width)
            lastDecay[g] = period(t)
        } else if t - lastDecay[g] >= halfLife {
            // One halving per half-life passed (32 or more clear the counters).
            let steps = (t - lastDecay[g]) / halfLife
            let shift = UInt32(min(steps, 32))
            for i in counts[g].indices { counts[g][i] = shift >= 32 ? 0 : counts[g][i] >> shift }
            lastDecay[g] += steps * halfLife
        }
        for row in 0..<CallSketch.rows { counts[g][slot(key, row)] &+= 1 }
    }

    /// An upper estimate of recent calls to `key`.
    func estimate(_ key: UInt64) -> Int {
        let g = KeyPartition.group(of: key)
        guard !counts[g].isEmpty else { return 0 }
        var m = UInt32.max
        for row in 0..<CallSketch.rows { m = min(m, counts[g][slot(key, row)]) }
        return Int(m)
    }
}

/// When a detector sweeps its idle keys: at most once per `every` of event time, and at the end.
struct SweepClock: Sendable {
    var last: EventTime = .min

    /// Whether a sweep is due at `watermark` (the first call only starts the clock).
    mutating func due(at watermark: EventTime, every: EventTime) -> Bool {
        if last == .min {
            last = watermark
            return false
        }
        guard watermark == .max || watermark - last >= every else { return false }
        last = watermark
        return true
    }

    /// The time before which a key last seen is idle (`.max` at the end of input).
    static func idle(_ watermark: EventTime, after span: EventTime) -> EventTime {
        watermark == .max ? .max : watermark - span
    }
}

extension Dictionary {
    /// Removes the entries `drop` selects, in place: no copy of the survivors (sweeps of idle keys).
    mutating func evict(where drop: (Value) -> Bool) {
        var dead: [Key] = []
        for i in indices where drop(self[i].value) { dead.append(self[i].key) }
        for k in dead { removeValue(forKey: k) }
    }
}
