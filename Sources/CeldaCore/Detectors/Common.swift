/// One alert per entity while a pattern lasts: a new one only when it escalates or after the
/// cooldown. Lives in the detector's per-key state, so a sharded run suppresses like one process.
struct Suppression: Sendable, BitwiseCopyable {
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
///
/// 36 bytes (40 in an ``EntryPool`` node, not 64): the cell of a located call is its site's
/// tower, so only the cell of an unlocated call is kept, as a small key into the detector's
/// ``CellIndex``; a call has a site or a cell key, never both, so the two share one word with
/// whether the call was answered.
struct WindowEntry: Sendable, BitwiseCopyable {
    var start: EventTime
    var other: Party
    var ref: SourceRef
    var durationMs: UInt32
    /// Bit 31: answered. Bit 30: unlocated, and the low 30 bits are its cell key; else they are
    /// the site.
    private var place: UInt32

    private static let answeredBit: UInt32 = 1 << 31
    private static let unlocatedBit: UInt32 = 1 << 30
    private static let low: UInt32 = 1 << 30 - 1

    @inline(__always)
    init(
        start: EventTime, other: Party, durationMs: UInt32, answered: Bool, site: UInt32, cellKey: UInt32,
        ref: SourceRef
    ) {
        self.start = start
        self.other = other
        self.ref = ref
        self.durationMs = durationMs
        let located = site != CallRecord.unlocated
        precondition(located ? site <= Self.low : cellKey <= Self.low, "more than 2^30 sites or cells")
        place = (answered ? Self.answeredBit : 0) | (located ? site : Self.unlocatedBit | cellKey)
    }

    /// The call's site (``CallRecord/unlocated`` when it has none).
    @inline(__always) var site: UInt32 {
        place & Self.unlocatedBit != 0 ? CallRecord.unlocated : place & Self.low
    }

    /// ``CellIndex`` key of an unlocated call's cell (0 when located or without a cell).
    @inline(__always) var cellKey: UInt32 { place & Self.unlocatedBit != 0 ? place & Self.low : 0 }

    @inline(__always) var answered: Bool { place & Self.answeredBit != 0 }
}

/// The cells of unlocated calls by a small key, so window entries need not carry a 16-byte
/// ``CellID``; a located call's cell is read back from its site. Keys are local to one detector
/// shard and never reach the output.
struct CellIndex: Sendable {
    private var keys: [CellID: UInt32] = [:]
    private var cells: [CellID] = [.none]

    /// The key to store for a call's cell.
    @inline(__always)
    mutating func key(_ cell: CellID, site: UInt32) -> UInt32 {
        guard site == CallRecord.unlocated, !cell.isNone else { return 0 }
        if let k = keys[cell] { return k }
        let k = UInt32(cells.count)
        cells.append(cell)
        keys[cell] = k
        return k
    }

    /// The cell of an entry.
    @inline(__always)
    func cell(of e: WindowEntry, sites: SiteTable) -> CellID {
        e.site != CallRecord.unlocated ? sites.towers[Int(e.site)].cell : cells[Int(e.cellKey)]
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

extension UnsafeMutableBufferPointer {
    /// Sorts in place by inserting each element into the sorted run before it: for short or
    /// nearly sorted runs (a window's few cells, the tail pass of the reorder buffer's quicksort).
    @inline(__always)
    func insertionSort(by before: (Element, Element) -> Bool) {
        guard count > 1 else { return }
        for i in 1..<count {
            let x = self[i]
            var j = i
            while j > 0, before(x, self[j - 1]) {
                self[j] = self[j - 1]
                j -= 1
            }
            self[j] = x
        }
    }
}
