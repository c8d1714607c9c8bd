/// Numbers and prefixes (for `--allowlist` and `--watchlist`).
public struct NumberList: Sendable {
    var exact = Set<UInt64>()
    /// E.164 prefixes as (digits value, digit count).
    var prefixes: [(UInt64, Int)] = []

    public init() {}

    public var isEmpty: Bool { exact.isEmpty && prefixes.isEmpty }
    /// The exact entries (sorted), for saving the list with a shard's findings.
    public var exactValues: [UInt64] { exact.sorted() }
    /// The prefixes as (digits, digit count).
    public var prefixValues: [(UInt64, Int)] { prefixes }
    public var count: Int { exact.count + prefixes.count }

    /// Adds a party exactly.
    public mutating func add(_ p: Party) { exact.insert(p.raw) }

    /// Adds an E.164 prefix (`+52551` → digits 52551).
    public mutating func addPrefix(digits: UInt64, count: Int) { prefixes.append((digits, count)) }

    /// Whether a party is on the list.
    @inlinable public func contains(_ p: Party) -> Bool {
        if p.isNone || isEmpty { return false }
        return matches(p)
    }

    @usableFromInline func matches(_ p: Party) -> Bool {
        if exact.contains(p.raw) { return true }
        guard let d = p.e164Digits, !prefixes.isEmpty else { return false }
        var n = 0
        var x = d
        while x > 0 {
            n += 1
            x /= 10
        }
        for (v, c) in prefixes where c <= n {
            var scaled = d
            for _ in 0..<(n - c) { scaled /= 10 }
            if scaled == v { return true }
        }
        return false
    }
}

/// What every detector sees besides the records: the placed towers and prisons, and the lists.
public struct DetectorContext: Sendable {
    public let sites: SiteTable
    /// Numbers never alerted on (a business's known lines).
    public let allowlist: NumberList
    /// Known extortion numbers: any call from or to one is flagged.
    public let watchlist: NumberList

    public init(sites: SiteTable, allowlist: NumberList = NumberList(), watchlist: NumberList = NumberList()) {
        self.sites = sites
        self.allowlist = allowlist
        self.watchlist = watchlist
    }

    /// The nearest prison a record's tower reaches, if any.
    @inlinable public func prisonLink(_ r: CallRecord) -> PrisonLink? {
        r.isPrisonLinked ? sites.links(ofSite: r.site).first : nil
    }
}

/// A call from a prison-linked line to a number, reported by the `victim` detector for second
/// stages (the `alliance` of rings working the same victims).
public struct VictimLink: Sendable, Hashable, BitwiseCopyable {
    public var victim: Party
    public var caller: Party
    public var prison: Int
    public var time: EventTime
    public var ref: SourceRef

    public init(victim: Party, caller: Party, prison: Int, time: EventTime, ref: SourceRef) {
        self.victim = victim
        self.caller = caller
        self.prison = prison
        self.time = time
        self.ref = ref
    }
}

/// What detectors produce: alerts, and findings for second stages.
public struct DetectorOutput: Sendable {
    public var alerts: [Alert] = []
    public var victimLinks: [VictimLink] = []
    /// `victim` alerts waiting for the second stage to confirm them against the line detectors.
    public var victimCandidates: [Alert] = []
    /// Answered prison-linked calls long enough to keep a victim on the line.
    public var longCalls: [LongCall] = []
    /// Every prison-linked call (for the virtual-kidnapping stage).
    public var prisonCalls: [VictimLink] = []
    /// Sketches of how often each line called each number: one per run, which all of a run's
    /// shards share (merged by ``merged(_:)`` when findings of several runs are put together).
    public var pairSketches: [PairSketch] = []
    public init() {}
}

/// An answered call from a prison-linked line, long enough to keep the called person on the line.
public struct LongCall: Sendable, Hashable {
    public var victim: Party
    public var caller: Party
    public var prison: Int
    public var start: EventTime
    public var end: EventTime
    public var ref: SourceRef

    public init(victim: Party, caller: Party, prison: Int, start: EventTime, end: EventTime, ref: SourceRef) {
        self.victim = victim
        self.caller = caller
        self.prison = prison
        self.start = start
        self.end = end
        self.ref = ref
    }
}

/// Which of a record's keys a shard receives it under.
public enum KeyRole: Sendable {
    /// The entity the detector is about (the calling line for `burst`).
    case primary
    /// A second view of the record (the called line, for reciprocity).
    case secondary
}

/// A keyed, stateful, windowed operator: one detector family (`burst`, `victim`, …).
///
/// The engine knows no single detector. For every record it asks each family for the record's
/// routing keys, sends the record to the shard that owns `StableHash.mix(key) % shardCount`
/// (once per key), and calls ``advance(to:context:output:)`` as event time moves so the detector
/// can expire windows and evict idle keys. A shard sees every record of its keys in event-time
/// order, so N shards give exactly the alerts of one.
public protocol Detector: Sendable {
    /// The detector's name in alerts (`detector` field).
    var name: String { get }

    /// The routing key of a record (a stable integer identity of the entity this detector keys
    /// by), or `nil` when the detector has nothing to do with the record.
    func routingKey(of record: CallRecord, context: DetectorContext) -> UInt64?

    /// A second key under which the record is also delivered (default: none).
    func secondaryKey(of record: CallRecord, context: DetectorContext) -> UInt64?

    /// Feeds one record (in event-time order, or flagged late).
    mutating func observe(_ record: CallRecord, role: KeyRole, context: DetectorContext, output: inout DetectorOutput)

    /// Event time has reached `watermark`: no record earlier than it will arrive (except late
    /// ones). Expire windows, evict idle keys.
    mutating func advance(to watermark: EventTime, context: DetectorContext, output: inout DetectorOutput)

    /// End of input.
    mutating func finish(context: DetectorContext, output: inout DetectorOutput)

    /// Number of keys currently held (for memory accounting and tests).
    var keyCount: Int { get }

    /// A fresh, empty detector with the same configuration (one per shard). Shards made from one
    /// prototype share the state that a run keeps across all keys (the `victim` pair sketch).
    func makeShard() -> Self

    /// A prototype for one run: this configuration with new run-wide state, which the shards
    /// made from it share (default: the detector itself). Engines call it once per run, so two
    /// runs from the same detectors never see each other's calls.
    func startingRun() -> Self

    /// A hint that `record` will be observed soon under `role` (its key of that role falls in
    /// this lane): start loading the state it will touch (default: nothing). Never changes results.
    func prefetch(_ record: CallRecord, role: KeyRole, context: DetectorContext)

    /// A second hint, some records after ``prefetch(_:role:context:)`` for the same record and
    /// role, when the key's slot is likely in the cache: start loading what that state refers to
    /// (its window's entries, its sets) (default: nothing). Never changes results.
    func prefetchState(_ record: CallRecord, role: KeyRole, context: DetectorContext)

    /// Feeds a batch: for each record in order, the ticks due before it (``advance(to:context:output:)``),
    /// then the record under each of its keys that `route` owns. The default does exactly that
    /// with ``routingKey(of:context:)``, ``secondaryKey(of:context:)`` and ``observe(_:role:context:output:)``;
    /// the engine calls it once per batch so the per-record calls are direct, not dynamic.
    mutating func run(_ batch: Batch, route: LaneRoute, context: DetectorContext, output: inout DetectorOutput)
}

extension Detector {
    public func secondaryKey(of record: CallRecord, context: DetectorContext) -> UInt64? { nil }

    public func startingRun() -> Self { self }

    public func prefetch(_ record: CallRecord, role: KeyRole, context: DetectorContext) {}

    public func prefetchState(_ record: CallRecord, role: KeyRole, context: DetectorContext) {}

    public mutating func run(
        _ batch: Batch, route: LaneRoute, context: DetectorContext, output: inout DetectorOutput
    ) {
        var t = 0
        let ticks = batch.ticks
        // Which of a record's keys fall in this lane is decided `ahead` records early, so only the
        // state of this lane's records is prefetched (the other lanes' records would load slots
        // of keys this lane never holds), and the decision is reused when the record comes up.
        // The slot is prefetched `ahead` records early and what it refers to `near` records
        // early, when the slot has had time to arrive.
        let ahead = 16
        let near = 8
        var mine: UInt64 = 0  // bit 2k: record k (mod 32) under its primary key, 2k + 1: secondary
        // Not inside a closure: calling `self` from one copies the detector per call.
        let records = batch.records
        for j in -ahead..<records.count {
            let k = j + ahead
            if k < records.count {
                let r = records[k]
                var bits: UInt64 = 0
                if let key = routingKey(of: r, context: context), route.owns(key) {
                    bits |= 1
                    prefetch(r, role: .primary, context: context)
                }
                if let key = secondaryKey(of: r, context: context), route.owns(key) {
                    bits |= 2
                    prefetch(r, role: .secondary, context: context)
                }
                let shift = UInt64((k & 31) * 2)
                mine = mine & ~(3 << shift) | bits << shift
            }
            let m = j + (ahead - near)
            if m >= 0, m < records.count {
                let bits = mine >> UInt64((m & 31) * 2) & 3
                if bits & 1 != 0 { prefetchState(records[m], role: .primary, context: context) }
                if bits & 2 != 0 { prefetchState(records[m], role: .secondary, context: context) }
            }
            guard j >= 0 else { continue }
            while t < ticks.count, ticks[t].at == j {
                advance(to: ticks[t].time, context: context, output: &output)
                t += 1
            }
            let bits = mine >> UInt64((j & 31) * 2) & 3
            if bits & 1 != 0 { observe(records[j], role: .primary, context: context, output: &output) }
            if bits & 2 != 0 { observe(records[j], role: .secondary, context: context, output: &output) }
        }
        while t < ticks.count {
            advance(to: ticks[t].time, context: context, output: &output)
            t += 1
        }
    }

    public mutating func finish(context: DetectorContext, output: inout DetectorOutput) {
        advance(to: .max, context: context, output: &output)
    }
}

/// A second stage: runs once over what the keyed detectors found (not over the dump).
public protocol SecondStage: Sendable {
    func run(_ found: DetectorOutput, context: DetectorContext) -> [Alert]
}
