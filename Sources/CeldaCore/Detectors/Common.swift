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
struct CallSketch: Sendable {
    static let width = 4096
    var counts = [UInt32](repeating: 0, count: 4 * CallSketch.width)
    var lastDecay: EventTime = .min
    let halfLife: EventTime

    init(halfLife: EventTime) { self.halfLife = halfLife }

    @inline(__always) func slot(_ key: UInt64, _ row: Int) -> Int {
        let h = StableHash.mix(key &+ UInt64(row) &* 0x9E37_79B9_7F4A_7C15)
        return row * CallSketch.width + Int(h % UInt64(CallSketch.width))
    }

    mutating func add(_ key: UInt64, at t: EventTime) {
        if lastDecay == .min { lastDecay = t }
        while t - lastDecay >= halfLife {
            for i in counts.indices { counts[i] >>= 1 }
            lastDecay += halfLife
        }
        for row in 0..<4 {
            let i = slot(key, row)
            counts[i] &+= 1
        }
    }

    /// An upper estimate of recent calls to `key`.
    func estimate(_ key: UInt64) -> Int {
        var m = UInt32.max
        for row in 0..<4 { m = min(m, counts[slot(key, row)]) }
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
