/// Engine configuration.
public struct EngineConfig: Sendable, Hashable {
    /// How far out of event-time order records may arrive before they count as late.
    public var maxDisorder: EventTime = 2 * CivilTime.hour
    /// Number of shards per detector family (work is split by the fixed-seed key hash).
    public var shards: Int = 1
    /// How often detectors are told that event time advanced.
    public var tick: EventTime = 10 * CivilTime.minute

    public init() {}
}

/// Counters the engine keeps for the summary.
public struct EngineStats: Sendable, Equatable {
    public var records = 0
    public var late = 0
    public var unlocated = 0
    public var prisonLinked = 0
    /// Records whose calling line is on the allowlist (counted, not analysed).
    public var allowlisted = 0
    public init() {}
}

/// The streaming pipeline after decoding: locate → order → route by key → detectors.
///
/// ```swift
/// var engine = Engine(detectors: [BurstDetector(config: .init())], sites: sites, config: .init())
/// for record in records { engine.ingest(record) }
/// let alerts = engine.finish()
/// ```
public struct Engine {
    public let context: DetectorContext
    public let config: EngineConfig
    private var families: [[any Detector]]
    private var reorder: ReorderBuffer
    private var output = DetectorOutput()
    private let stages: [any SecondStage]
    private var nextTick: EventTime = .min
    private var due: [CallRecord] = []
    public private(set) var stats = EngineStats()

    public init(
        detectors: [any Detector], sites: SiteTable, config: EngineConfig, stages: [any SecondStage] = [],
        allowlist: NumberList = NumberList(), watchlist: NumberList = NumberList()
    ) {
        self.context = DetectorContext(sites: sites, allowlist: allowlist, watchlist: watchlist)
        self.stages = stages
        self.config = config
        let n = max(1, config.shards)
        self.families = detectors.map { d in (0..<n).map { _ in d.makeShard() } }
        self.reorder = ReorderBuffer(maxDisorder: config.maxDisorder)
    }

    /// Locates a decoded record and feeds it through ordering to the detectors.
    public mutating func ingest(_ record: CallRecord) {
        var r = record
        r.site = context.sites.site(of: r.cell)
        stats.records += 1
        if !r.isLocated {
            stats.unlocated += 1
        } else if context.sites.reachesPrison(r.site) {
            stats.prisonLinked += 1
        }
        due.removeAll(keepingCapacity: true)
        reorder.push(r, into: &due)
        for i in due.indices { dispatch(due[i]) }
        stats.late = reorder.lateCount
    }

    private mutating func dispatch(_ r: CallRecord) {
        if !context.allowlist.isEmpty, context.allowlist.contains(r.caller) {
            stats.allowlisted += 1
            return
        }
        if !r.flags.contains(.late), r.start >= nextTick {
            if nextTick != .min { tickAll(to: r.start) }
            nextTick = (r.start / config.tick + 1) * config.tick
        }
        for f in families.indices {
            let n = UInt64(families[f].count)
            if let key = families[f][0].routingKey(of: r, context: context) {
                families[f][Int(StableHash.mix(key) % n)].observe(r, role: .primary, context: context, output: &output)
            }
            if let key = families[f][0].secondaryKey(of: r, context: context) {
                families[f][Int(StableHash.mix(key) % n)].observe(
                    r, role: .secondary, context: context, output: &output)
            }
        }
    }

    private mutating func tickAll(to t: EventTime) {
        for f in families.indices {
            for s in families[f].indices {
                families[f][s].advance(to: t, context: context, output: &output)
            }
        }
    }

    /// Keys held by all detectors (for tests and memory accounting).
    public var keyCount: Int { families.reduce(0) { $0 + $1.reduce(0) { $0 + $1.keyCount } } }

    /// Ends the input: releases what is buffered, closes every window, returns all alerts
    /// (unsorted; ``AlertSink`` orders them).
    public mutating func finish() -> [Alert] {
        due.removeAll(keepingCapacity: true)
        reorder.flush(into: &due)
        for i in due.indices { dispatch(due[i]) }
        for f in families.indices {
            for s in families[f].indices {
                families[f][s].finish(context: context, output: &output)
            }
        }
        stats.late = reorder.lateCount
        var out = output.alerts
        for stage in stages { out += stage.run(output, context: context) }
        output = DetectorOutput()
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
