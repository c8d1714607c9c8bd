/// Numbers and prefixes (for `--allowlist` and `--watchlist`).
public struct NumberList: Sendable {
    var exact = Set<UInt64>()
    /// E.164 prefixes as (digits value, digit count).
    var prefixes: [(UInt64, Int)] = []

    public init() {}

    public var isEmpty: Bool { exact.isEmpty && prefixes.isEmpty }
    public var count: Int { exact.count + prefixes.count }

    /// Adds a party exactly.
    public mutating func add(_ p: Party) { exact.insert(p.raw) }

    /// Adds an E.164 prefix (`+52551` → digits 52551).
    public mutating func addPrefix(digits: UInt64, count: Int) { prefixes.append((digits, count)) }

    /// Whether a party is on the list.
    @inlinable public func contains(_ p: Party) -> Bool {
        if p.isNone { return false }
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
        sites.reachesPrison(r.site) ? sites.links(ofSite: r.site).first : nil
    }
}

/// A call from a prison-linked line to a number, reported by the `victim` detector for second
/// stages (the `alliance` of rings working the same victims).
public struct VictimLink: Sendable, Hashable {
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
}

/// Which (caller, callee) pairs occurred at least twice ("the numbers a line usually calls"),
/// without per-line state: two Bloom filters (seen once, seen again), 2^26 bits each, four hashes.
/// False "usual" answers stay under 1e-4 for a million distinct pairs per shard and about 4% at
/// ten million. Pairs are routed by callee, so a pair always lands in the same shard; the shards'
/// filters merge by OR.
public struct PairSketch: Sendable {
    static let bits = 1 << 26
    var once: [UInt64]
    var twice: [UInt64]

    public init() {
        once = [UInt64](repeating: 0, count: PairSketch.bits / 64)
        twice = [UInt64](repeating: 0, count: PairSketch.bits / 64)
    }

    @inline(__always) static func positions(_ a: Party, _ b: Party) -> (Int, Int, Int, Int) {
        let h1 = StableHash.combine(StableHash.mix(a.raw), b.raw)
        let h2 = StableHash.mix(h1 ^ 0x5851_F42D_4C95_7F2D) | 1
        let m = UInt64(bits)
        return (Int(h1 % m), Int((h1 &+ h2) % m), Int((h1 &+ 2 &* h2) % m), Int((h1 &+ 3 &* h2) % m))
    }

    @inline(__always) static func test(_ f: [UInt64], _ p: (Int, Int, Int, Int)) -> Bool {
        f[p.0 >> 6] & (1 << UInt64(p.0 & 63)) != 0 && f[p.1 >> 6] & (1 << UInt64(p.1 & 63)) != 0
            && f[p.2 >> 6] & (1 << UInt64(p.2 & 63)) != 0 && f[p.3 >> 6] & (1 << UInt64(p.3 & 63)) != 0
    }

    @inline(__always) static func set(_ f: inout [UInt64], _ p: (Int, Int, Int, Int)) {
        f[p.0 >> 6] |= 1 << UInt64(p.0 & 63)
        f[p.1 >> 6] |= 1 << UInt64(p.1 & 63)
        f[p.2 >> 6] |= 1 << UInt64(p.2 & 63)
        f[p.3 >> 6] |= 1 << UInt64(p.3 & 63)
    }

    public mutating func add(caller: Party, callee: Party) {
        let p = Self.positions(caller, callee)
        if Self.test(once, p) { Self.set(&twice, p) } else { Self.set(&once, p) }
    }

    /// Whether `caller` called `callee` at least twice (rare false yes, never a false no).
    public func usual(caller: Party, callee: Party) -> Bool { Self.test(twice, Self.positions(caller, callee)) }

    public mutating func merge(_ o: PairSketch) {
        for i in once.indices { once[i] |= o.once[i] }
        for i in twice.indices { twice[i] |= o.twice[i] }
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
}

extension Detector {
    public func secondaryKey(of record: CallRecord, context: DetectorContext) -> UInt64? { nil }

    public mutating func finish(context: DetectorContext, output: inout DetectorOutput) {
        advance(to: .max, context: context, output: &output)
    }
}

/// A second stage: runs once over what the keyed detectors found (not over the dump).
public protocol SecondStage: Sendable {
    func run(_ found: DetectorOutput, context: DetectorContext) -> [Alert]
}
