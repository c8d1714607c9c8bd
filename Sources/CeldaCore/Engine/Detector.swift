internal import CCeldaSupport

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
    /// Per-shard sketches of how often each line called each number (merged by the stages).
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

/// Which (caller, callee) pairs occurred at least twice ("the numbers a line usually calls"),
/// without per-line state: a counting Bloom filter of 2^27 two-bit saturating counters (0, 1,
/// 2 = "twice or more", 32 MiB), six counters in one cache-line block per pair; a pair is usual
/// when its six counters are all 2. Counters only add, so shards merge by saturating addition and
/// the merged filter is the same however the pairs were split across shards, threads or
/// processes. At ten million calls a pair never seen reads as usual about once in five million,
/// a pair seen once about once in 500.
public struct PairSketch: Sendable {
    static let counters = 1 << 27
    /// Words of a sketch in use (32 counters per word).
    public static let wordCount = counters / 32
    /// 32 counters per word; empty until the first pair is added (shards and prototypes that
    /// never see a call hold no memory).
    public internal(set) var words: [UInt64]

    public init() { words = [] }

    /// A sketch from words written by ``words`` (all of them, or none for an empty sketch).
    public init?(words: [UInt64]) {
        guard words.count == PairSketch.wordCount || words.isEmpty else { return nil }
        self.words = words
    }

    /// The six counters of a pair, all in one 64-byte block (one cache line per update).
    @inline(__always) static func positions(_ a: Party, _ b: Party) -> (Int, Int, Int, Int, Int, Int) {
        let h1 = StableHash.combine(StableHash.mix(a.raw), b.raw)
        let h2 = StableHash.mix(h1 ^ 0x5851_F42D_4C95_7F2D)
        let block = Int(h1 % UInt64(counters / 256)) * 256
        return (
            block + Int(h2 & 255), block + Int(h2 >> 8 & 255), block + Int(h2 >> 16 & 255),
            block + Int(h2 >> 24 & 255), block + Int(h2 >> 32 & 255), block + Int(h2 >> 40 & 255)
        )
    }

    @inline(__always) func count(_ i: Int) -> UInt64 { words[i >> 5] >> UInt64((i & 31) * 2) & 3 }

    /// Starts loading the block of a pair.
    @inline(__always)
    public func prefetch(caller: Party, callee: Party) {
        guard !words.isEmpty else { return }
        let i = Self.positions(caller, callee).0
        words.withUnsafeBufferPointer { celda_prefetch($0.baseAddress! + (i >> 5)) }
    }

    public mutating func add(caller: Party, callee: Party) {
        if words.isEmpty { words = HugeArrays.make(repeating: 0, count: Self.wordCount) }
        let p = Self.positions(caller, callee)
        words.withUnsafeMutableBufferPointer { w in
            @inline(__always) func bump(_ i: Int) {
                let shift = UInt64((i & 31) * 2)
                if w[i >> 5] >> shift & 3 < 2 { w[i >> 5] &+= 1 << shift }
            }
            bump(p.0)
            bump(p.1)
            bump(p.2)
            bump(p.3)
            bump(p.4)
            bump(p.5)
        }
    }

    /// Whether `caller` called `callee` at least twice (rare false yes, never a false no).
    public func usual(caller: Party, callee: Party) -> Bool {
        guard !words.isEmpty else { return false }
        let p = Self.positions(caller, callee)
        return count(p.0) == 2 && count(p.1) == 2 && count(p.2) == 2 && count(p.3) == 2 && count(p.4) == 2
            && count(p.5) == 2
    }

    /// Adds another sketch's counts (saturating at 2).
    public mutating func merge(_ o: PairSketch) {
        guard !o.words.isEmpty else { return }
        guard !words.isEmpty else {
            words = o.words
            return
        }
        for i in words.indices where o.words[i] != 0 {
            var w = words[i]
            let v = o.words[i]
            if w == 0 {
                words[i] = v
                continue
            }
            var out: UInt64 = 0
            for lane in 0..<32 {
                let shift = UInt64(lane * 2)
                let sum = min(2, (w >> shift & 3) + (v >> shift & 3))
                out |= sum << shift
            }
            w = out
            words[i] = w
        }
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

    /// A fresh, empty detector with the same configuration (one per shard).
    func makeShard() -> Self

    /// A hint that `record` will be observed soon under `role` (its key of that role falls in
    /// this lane): start loading the state it will touch (default: nothing). Never changes results.
    func prefetch(_ record: CallRecord, role: KeyRole, context: DetectorContext)

    /// Feeds a batch: for each record in order, the ticks due before it (``advance(to:context:output:)``),
    /// then the record under each of its keys that falls in `lane`. The default does exactly that
    /// with ``routingKey(of:context:)``, ``secondaryKey(of:context:)`` and ``observe(_:role:context:output:)``;
    /// the engine calls it once per batch so the per-record calls are direct, not dynamic.
    mutating func run(
        _ batch: Batch, lane: Int, lanes: Int, partition: KeyPartition, context: DetectorContext,
        output: inout DetectorOutput)
}

extension Detector {
    public func secondaryKey(of record: CallRecord, context: DetectorContext) -> UInt64? { nil }

    public func prefetch(_ record: CallRecord, role: KeyRole, context: DetectorContext) {}

    public mutating func run(
        _ batch: Batch, lane: Int, lanes: Int, partition: KeyPartition, context: DetectorContext,
        output: inout DetectorOutput
    ) {
        var t = 0
        let ticks = batch.ticks
        // Which of a record's keys fall in this lane is decided `ahead` records early, so only the
        // state of this lane's records is prefetched (the other lanes' records would load slots
        // of keys this lane never holds), and the decision is reused when the record comes up.
        let ahead = 8
        let single = lanes == 1 && partition.parts == 1
        var mine: UInt64 = 0  // bit 2k: record k (mod 16) under its primary key, 2k + 1: secondary
        // Not inside a closure: calling `self` from one copies the detector per call.
        let records = batch.records
        for j in -ahead..<records.count {
            let k = j + ahead
            if k < records.count {
                let r = records[k]
                var bits: UInt64 = 0
                if let key = routingKey(of: r, context: context),
                    single || partition.lane(of: key, lanes: lanes) == lane
                {
                    bits |= 1
                    prefetch(r, role: .primary, context: context)
                }
                if let key = secondaryKey(of: r, context: context),
                    single || partition.lane(of: key, lanes: lanes) == lane
                {
                    bits |= 2
                    prefetch(r, role: .secondary, context: context)
                }
                let shift = UInt64((k & 15) * 2)
                mine = mine & ~(3 << shift) | bits << shift
            }
            guard j >= 0 else { continue }
            while t < ticks.count, ticks[t].at == j {
                advance(to: ticks[t].time, context: context, output: &output)
                t += 1
            }
            let bits = mine >> UInt64((j & 15) * 2) & 3
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
