/// Engine configuration.
public struct EngineConfig: Sendable, Hashable {
    /// How far out of event-time order records may arrive before they count as late.
    public var maxDisorder: EventTime = 2 * CivilTime.hour
    /// Number of shards per detector family (work is split by the fixed-seed key hash).
    public var shards: Int = 1
    /// How often detectors are told that event time advanced.
    public var tick: EventTime = 10 * CivilTime.minute
    /// The part of the key space this process owns (`--shard K/N`).
    public var partition = KeyPartition.whole

    public init() {}
}

/// The keys one process owns: those whose key group `g = StableHash.mix(key) % 4096` has
/// `g % parts == part` (`--shard K/N`). Within the process, key `k` goes to lane
/// `(g / parts) % lanes` (a thread or an in-process shard), so every (part, lane) holds a disjoint
/// set of whole key groups whatever the counts. State shared by the keys of a group (the
/// `victim` popularity sketch) is therefore the same however the groups are split, which is what
/// lets a cluster job (`celda spark`, partitioned by group) give the single-process log.
public struct KeyPartition: Sendable, Hashable {
    /// Key groups: the unit of partitioning (and the most partitions a key family can use).
    public static let groups = 4096

    /// The key group of a key.
    @inlinable public static func group(of key: UInt64) -> Int { Int(StableHash.mix(key) % UInt64(groups)) }

    public var part: Int
    public var parts: Int

    public init(part: Int, parts: Int) {
        precondition(parts >= 1 && part >= 0 && part < parts)
        self.part = part
        self.parts = parts
    }

    /// Every key.
    public static let whole = KeyPartition(part: 0, parts: 1)

    /// The lane of `key` among `lanes`, or `nil` when another process owns it.
    @inlinable public func lane(of key: UInt64, lanes: Int) -> Int? {
        if parts == 1 && lanes == 1 { return 0 }
        return lane(ofGroup: Self.group(of: key), lanes: lanes)
    }

    /// The lane of key group `g` among `lanes`, or `nil` when another process owns it.
    @inlinable public func lane(ofGroup g: Int, lanes: Int) -> Int? {
        if parts == 1 { return lanes == 1 ? 0 : g % lanes }
        guard g % parts == part else { return nil }
        return lanes == 1 ? 0 : (g / parts) % lanes
    }
}

/// The key groups one lane of one process owns (``KeyPartition/lane(of:lanes:)`` equal to the
/// lane), as a table: a lane tests every record's keys for every detector, and the rule costs
/// two integer divisions by run-time counts, where the table costs one load from 4 KiB.
public struct LaneRoute: Sendable {
    /// One lane and the whole key space: every key is this lane's.
    public let everything: Bool
    @usableFromInline let owned: [Bool]

    public init(lane: Int, lanes: Int, partition: KeyPartition) {
        everything = lanes == 1 && partition.parts == 1
        owned = (0..<KeyPartition.groups).map { partition.lane(ofGroup: $0, lanes: lanes) == lane }
    }

    /// Whether `key` is this lane's.
    @inlinable @inline(__always) public func owns(_ key: UInt64) -> Bool {
        everything || owned[KeyPartition.group(of: key)]
    }
}

/// Counters the engine keeps for the summary.
public struct EngineStats: Sendable, Equatable {
    public var records = 0
    public var late = 0
    public var unlocated = 0
    public var prisonLinked = 0
    /// Records whose calling line is on the allowlist (counted, not analysed).
    public var allowlisted = 0
    /// Exact repeats of an earlier row (same content and row hash), by input index: counted, not
    /// analysed.
    public var duplicatesByInput: [Int: Int] = [:]
    public init() {}
}

/// Records released in event-time order, with the points where event time ticks.
public struct Batch: Sendable {
    public struct Tick: Sendable {
        /// Advance before dispatching `records[at]` (or at the end when `at == records.count`).
        public var at: Int
        public var time: EventTime
    }

    public var records: [CallRecord] = []
    public var ticks: [Tick] = []
    /// The site table to read while dispatching this batch.
    public var sites: SiteTable?

    public init() {}

    public var isEmpty: Bool { records.isEmpty && ticks.isEmpty }

    public mutating func removeAll() {
        records.removeAll(keepingCapacity: true)
        ticks.removeAll(keepingCapacity: true)
    }
}

/// The serial front of the engine: locate → order → tick decisions → allowlist. It fills
/// batches that the shard runners (in this thread or others) dispatch.
public struct EngineFront {
    public let config: EngineConfig
    public let allowlist: NumberList
    public let sites: SiteTable
    private var reorder: ReorderBuffer
    private var nextTick: EventTime = .min
    private var due: [CallRecord] = []
    public private(set) var stats = EngineStats()

    public init(sites: SiteTable, config: EngineConfig, allowlist: NumberList) {
        self.sites = sites
        self.config = config
        self.allowlist = allowlist
        self.reorder = ReorderBuffer(maxDisorder: config.maxDisorder)
    }

    /// Locates a record and appends what the reorder buffer releases to `batch`.
    public mutating func ingest(_ record: CallRecord, into batch: inout Batch) {
        var r = record
        sites.locate(&r)
        due.removeAll(keepingCapacity: true)
        reorder.push(r, into: &due)
        for i in due.indices { release(due[i], into: &batch) }
        stats.late = reorder.lateCount
    }

    /// The last record released in order, and the row hashes of the released records equal to it
    /// in content (the first of them, then any others): an exact repeat of a row sorts next to it.
    private var lastReleased: CallRecord?
    private var firstHash: UInt64 = 0
    private var sameContentHashes: [UInt64] = []

    private mutating func isRepeat(_ r: CallRecord) -> Bool {
        if r.flags.contains(.late) { return false }
        if let last = lastReleased, CallRecord.sameContent(last, r) {
            if r.rowHash != 0, r.rowHash == firstHash || sameContentHashes.contains(r.rowHash) { return true }
            sameContentHashes.append(r.rowHash)
        } else {
            // Most records differ from the one before: no array is touched for them.
            if !sameContentHashes.isEmpty { sameContentHashes.removeAll(keepingCapacity: true) }
            firstHash = r.rowHash
        }
        lastReleased = r
        return false
    }

    private mutating func release(_ r: CallRecord, into batch: inout Batch) {
        if isRepeat(r) {
            stats.duplicatesByInput[r.source.input, default: 0] += 1
            return
        }
        stats.records += 1
        if !r.isLocated {
            stats.unlocated += 1
        } else if r.isPrisonLinked {
            stats.prisonLinked += 1
        }
        if !allowlist.isEmpty, allowlist.contains(r.caller) {
            stats.allowlisted += 1
            return
        }
        if !r.flags.contains(.late), r.start >= nextTick {
            if nextTick != .min { batch.ticks.append(Batch.Tick(at: batch.records.count, time: r.start)) }
            nextTick = (r.start / config.tick + 1) * config.tick
        }
        batch.records.append(r)
    }

    /// End of input: releases everything held.
    public mutating func flush(into batch: inout Batch) {
        while flush(into: &batch, limit: .max) {}
    }

    /// End of input, in bounded steps: releases up to `limit` held records; `true` while more
    /// are held.
    public mutating func flush(into batch: inout Batch, limit: Int) -> Bool {
        due.removeAll(keepingCapacity: true)
        reorder.flush(into: &due, limit: limit)
        for i in due.indices { release(due[i], into: &batch) }
        stats.late = reorder.lateCount
        return reorder.count > 0
    }
}

/// One lane's detectors: a shard of every family, fed whole batches; it takes the records whose
/// keys fall in its lane.
public struct ShardRunner: Sendable {
    /// The key groups this lane owns.
    let route: LaneRoute
    private var families: [any Detector]
    public private(set) var output = DetectorOutput()

    public init(detectors: [any Detector], lane: Int, lanes: Int, partition: KeyPartition = .whole) {
        self.route = LaneRoute(lane: lane, lanes: lanes, partition: partition)
        self.families = detectors.map { $0.makeShard() }
    }

    /// Dispatches a batch in order (each family in turn over the whole batch: families hold
    /// separate state, so the result is that of record-by-record dispatch).
    public mutating func run(_ batch: Batch, context: DetectorContext) {
        for f in families.indices {
            families[f].run(batch, route: route, context: context, output: &output)
        }
    }

    private mutating func advance(to time: EventTime, context: DetectorContext) {
        for f in families.indices { families[f].advance(to: time, context: context, output: &output) }
    }

    /// Hands the prison-linked calls found so far to `store` once there are at least `count` of
    /// them, and forgets them if `store` kept them (returned `true`). They are the one finding
    /// that grows with the dump (the kidnapping stage reads them all at the end); the host keeps
    /// them outside memory and puts them back, in order, in front of what ``finish(context:)``
    /// returns.
    public mutating func offloadPrisonCalls(atLeast count: Int, _ store: ([VictimLink]) -> Bool) {
        guard output.prisonCalls.count >= count, store(output.prisonCalls) else { return }
        output.prisonCalls.removeAll(keepingCapacity: true)
    }

    /// End of input: closes every window; returns what this lane found.
    public mutating func finish(context: DetectorContext) -> DetectorOutput {
        for f in families.indices { families[f].finish(context: context, output: &output) }
        // The detectors' state is done with: freed now, before findings are merged and the second
        // stages run, so the end of a run does not hold both.
        families = []
        let out = output
        output = DetectorOutput()
        return out
    }

    /// Keys held.
    public var keyCount: Int { families.reduce(0) { $0 + $1.keyCount } }
}

/// The streaming pipeline after decoding, on one thread: locate → order → route by key →
/// detectors → second stages. (`ParallelEngine` in CeldaIngest runs the lanes on threads and
/// gives the same result.)
///
/// ```swift
/// var engine = Engine(detectors: [BurstDetector(config: .init())], sites: sites, config: .init())
/// for record in records { engine.ingest(record) }
/// let alerts = engine.finish()
/// ```
public struct Engine {
    public let context: DetectorContext
    public let config: EngineConfig
    private var front: EngineFront
    private var runners: [ShardRunner]
    private let stages: [any SecondStage]
    private var batch = Batch()

    public init(
        detectors: [any Detector], sites: SiteTable, config: EngineConfig, stages: [any SecondStage] = [],
        allowlist: NumberList = NumberList(), watchlist: NumberList = NumberList()
    ) {
        self.context = DetectorContext(sites: sites, allowlist: allowlist, watchlist: watchlist)
        self.stages = stages
        self.config = config
        let n = max(1, config.shards)
        self.front = EngineFront(sites: sites, config: config, allowlist: allowlist)
        let run = detectors.map { $0.startingRun() }
        self.runners = (0..<n).map {
            ShardRunner(detectors: run, lane: $0, lanes: n, partition: config.partition)
        }
    }

    public var stats: EngineStats { front.stats }

    /// Locates a decoded record and feeds it through ordering to the detectors.
    public mutating func ingest(_ record: CallRecord) {
        front.ingest(record, into: &batch)
        if batch.records.count >= 1024 { dispatch() }
    }

    private mutating func dispatch() {
        for i in runners.indices { runners[i].run(batch, context: context) }
        batch.removeAll()
    }

    /// Keys held by all detectors (for tests and memory accounting).
    public var keyCount: Int { runners.reduce(0) { $0 + $1.keyCount } }

    /// Ends the input: releases what is buffered, closes every window; returns the keyed
    /// detectors' findings merged in canonical order.
    public mutating func finishFindings() -> DetectorOutput {
        while front.flush(into: &batch, limit: 4096) { dispatch() }
        dispatch()
        return DetectorOutput.merged(runners.indices.map { runners[$0].finish(context: context) })
    }

    /// Ends the input and returns all alerts, second stages included (unsorted; the writer
    /// orders them).
    public mutating func finish() -> [Alert] {
        Self.complete(finishFindings(), stages: stages, context: context)
    }

    /// Runs the second stages over merged findings and applies the allowlist.
    public static func complete(
        _ found: DetectorOutput, stages: [any SecondStage], context: DetectorContext
    )
        -> [Alert]
    {
        var out = found.alerts
        for stage in stages { out += stage.run(found, context: context) }
        if !context.allowlist.isEmpty {
            out.removeAll { a in
                switch a.entity {
                case .line(let p), .victim(let p): context.allowlist.contains(p)
                default: false
                }
            }
        }
        return out
    }
}

extension DetectorOutput {
    /// Several lanes' findings as one, in an order that does not depend on how the keys were split.
    public static func merged(_ parts: consuming [DetectorOutput]) -> DetectorOutput {
        // Parts are taken out of the array one by one, so each is released as soon as it is
        // copied in and the sorts below work in place.
        var m = parts.popLast() ?? DetectorOutput()
        m.prisonCalls.reserveCapacity(parts.reduce(m.prisonCalls.count) { $0 + $1.prisonCalls.count })
        while let p = parts.popLast() {
            m.alerts += p.alerts
            m.victimLinks += p.victimLinks
            m.victimCandidates += p.victimCandidates
            m.longCalls += p.longCalls
            m.prisonCalls += p.prisonCalls
            m.pairSketches += p.pairSketches
        }
        return m.canonical()
    }

    /// Sorted findings and one pair sketch.
    consuming func canonical() -> DetectorOutput {
        var m = self
        m.alerts.sort(by: Alert.canonicalOrder)
        m.victimCandidates.sort(by: Alert.canonicalOrder)
        m.victimLinks.sort(by: VictimLink.canonicalOrder)
        m.prisonCalls.sort(by: VictimLink.canonicalOrder)
        m.longCalls.sort {
            ($0.start, $0.ref, $0.victim, $0.caller, $0.end, $0.prison)
                < ($1.start, $1.ref, $1.victim, $1.caller, $1.end, $1.prison)
        }
        // The lanes of one run list the same sketch; sketches of separate runs are added up.
        var distinct: [PairSketch] = []
        for s in m.pairSketches where !distinct.contains(where: { $0 === s }) { distinct.append(s) }
        m.pairSketches = PairSketch.merged(distinct).map { [$0] } ?? []
        return m
    }
}

extension VictimLink {
    static func canonicalOrder(_ a: VictimLink, _ b: VictimLink) -> Bool {
        (a.time, a.ref, a.victim, a.caller, a.prison) < (b.time, b.ref, b.victim, b.caller, b.prison)
    }
}

extension Alert {
    /// A total order on alerts that does not depend on which lane found them.
    static func canonicalOrder(_ a: Alert, _ b: Alert) -> Bool {
        if a.detectedAt != b.detectedAt { return a.detectedAt < b.detectedAt }
        if a.detector != b.detector { return a.detector < b.detector }
        let ha = a.entity.stableHash
        let hb = b.entity.stableHash
        if ha != hb { return ha < hb }
        if a.windowStart != b.windowStart { return a.windowStart < b.windowStart }
        if a.windowEnd != b.windowEnd { return a.windowEnd < b.windowEnd }
        if a.severity != b.severity { return a.severity < b.severity }
        if a.score != b.score { return a.score < b.score }
        return a.evidenceTotal < b.evidenceTotal
    }
}
